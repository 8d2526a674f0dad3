"""Helpers for AppTest tests of the dashboard: open a page, read what it shows.

``make_app`` (tests/conftest.py) builds the AppTest; these read it. AppTest has no Plotly
accessor, so figures are read from the element's proto spec (Plotly JSON). Page-specific
readers (the explorer's tables, a page's stored results) stay in that page's test file.
"""

from __future__ import annotations

import base64
import json
import re

import numpy as np

from ui.common import state
from ui.common.navigation import PAGES

#: The title each page shows first, by its file (ui/common/navigation.py).
TITLES = {path: title for path, title, *_ in PAGES}


def open_page(at, page: str):
    """Run ``page`` (``"pages/embed.py"``) through app.py; check it ran whole, inside the router."""
    # Straight to the page: app.py registers each page under its file stem, so the
    # filename-based lookup AppTest uses before the first run finds it, and the default
    # page (the explorer, with its projection) is not run first.
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert at.title[0].value == TITLES[page]
    assert at.sidebar.radio(key="conn_provider") is not None  # app.py ran around the page
    return at


def api_app(make_app, api, token: str):
    """The app pointed at the fake server ``api`` with the operator's ``token`` for it in secrets (not yet run)."""
    return make_app(
        secrets={"IONOS_API_TOKEN": token, "base_url": api.url},
        state={state.PROVIDER_KIND: "custom", state.BASE_URL: api.url},
    )


def messages(elements) -> str:
    """The texts of alerts, captions, headers ..., one per line, as written (markdown escapes kept)."""
    return "\n".join(str(e.value) for e in elements)


def plain_messages(elements) -> str:
    """:func:`messages` as a reader sees them: markdown escapes (``all\\-MiniLM``) removed."""
    return re.sub(r"\\(.)", r"\1", messages(elements))


def metrics(at) -> dict[str, str]:
    """``{label: value}`` of the ``st.metric`` elements; values as shown (markdown escapes removed)."""
    return {m.label: m.value.replace("\\", "") for m in at.metric}


def rendered(at) -> str:
    """Every element of the last run (main and sidebar) as protobuf text."""
    parts: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def frame_with(at, column: str):
    """The first table on the page with this column (st.dataframe keys are not visible to AppTest)."""
    for element in at.dataframe:
        if column in element.value.columns:
            return element.value
    raise AssertionError(f"no table with a {column!r} column")


def figures(at) -> list[dict]:
    """Every Plotly figure of the last run, in order, as Plotly JSON."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def chart(at, key: str) -> dict:
    """The figure of the ``st.plotly_chart`` drawn with ``key``, as Plotly JSON."""
    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert len(found) == 1, [c.proto.id for c in at.get("plotly_chart")]
    return json.loads(found[0].proto.spec)


def has_chart(at, key: str) -> bool:
    return any(c.proto.id.endswith(f"-{key}") for c in at.get("plotly_chart"))


def plotly_array(value) -> np.ndarray:
    """A trace array from a figure's JSON: a plain list, or Plotly's typed form ``{"dtype", "bdata", "shape"?}``."""
    if isinstance(value, dict) and "bdata" in value:
        out = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            out = out.reshape([int(s) for s in str(value["shape"]).split(",")])
        return out
    return np.asarray(value)


def point_traces(spec: dict) -> list[dict]:
    """The traces holding the texts (not the query star, neighbour rings, links, names or matches)."""
    return [
        t
        for t in spec["data"]
        if t.get("name") not in ("query", "neighbours", "names", "links")
        and not t.get("name", "").startswith("matches")
    ]


def map_xy(spec: dict) -> dict[int, tuple[float, float]]:
    """``{row: (x, y)}`` of every text on a 2-D map's figure (its point traces)."""
    return {
        int(r): (float(x), float(y))
        for t in point_traces(spec)
        for r, x, y in zip(
            plotly_array(t["customdata"]).ravel(), plotly_array(t["x"]), plotly_array(t["y"]), strict=True
        )
    }
