"""Figures serialised once (:func:`frozen`) instead of on every Streamlit rerun."""

from __future__ import annotations

import codecs
import json

try:  # plotly's fast JSON engine, installed with the app; frozen() needs it
    import orjson
except ImportError:  # pragma: no cover - the engine alone (pip install .) may lack it
    orjson = None

import plotly.graph_objects as go
import plotly.io as pio


def _json_escapes(error: UnicodeEncodeError) -> tuple[str, int]:
    """Codec error handler: a run of non-ASCII characters as JSON ``\\uXXXX`` escapes (astral
    characters as surrogate pairs), so ``str.encode`` scans at C speed and calls Python only per
    run; a regular expression over a 9 MB spec took ~0.2 s."""
    return json.dumps(error.object[error.start : error.end])[1:-1], error.end


codecs.register_error("embedcore.json_escapes", _json_escapes)


class _FrozenJSON(dict):
    """What a :class:`FrozenFigure` hands out as its dict: the figure's fields, and its JSON.

    plotly's orjson encoder asks every object for ``to_plotly_json()`` (the hook Dash components
    use) and writes an ``orjson.Fragment`` as it is, so the JSON made once is copied, not rebuilt.
    Plotly's plain-``json`` engine does not ask and serialises the fields instead: same output.
    """

    def __init__(self, fields: dict, encoded: str) -> None:
        super().__init__(fields)
        # ASCII only (non-ASCII written as JSON's \u escapes, valid since JSON syntax itself is
        # ASCII): one "…" in a hover text made the whole 9 MB string two bytes a character,
        # and every copy of it on each rerun (decode, escaping checks, protobuf) ~3x slower.
        self._fragment = orjson.Fragment(encoded.encode("ascii", "embedcore.json_escapes"))

    def to_plotly_json(self) -> orjson.Fragment:
        return self._fragment


class FrozenFigure(go.Figure):
    """A finished figure that is serialised once: made by :func:`frozen`.

    Examples
    --------
    >>> type(frozen(go.Figure(go.Bar(y=[1])))).__name__
    'FrozenFigure'
    """

    _frozen: _FrozenJSON

    def to_dict(self) -> dict:
        return self._frozen


def frozen(fig: go.Figure) -> go.Figure:
    """``fig``, turned into JSON once, here, instead of on every rerun that shows it (in place).

    ``st.plotly_chart`` serialises its figure in every script run: for a 100,000-point map that
    is 0.3-0.45 s (a deep copy, numpy cleaning, orjson, escaping) on every click, search or
    selection, even when the map did not change. A frozen figure keeps the JSON plotly makes
    now (``plotly.io.to_json``, exactly what Streamlit sends) and hands it out again, ~20 ms.

    The figure is a snapshot from here on: change it afterwards and its JSON does not follow,
    so freeze a figure once it is finished and shared read-only (a cached map). Without orjson
    (Plotly's optional fast encoder) the figure is returned unchanged.

    Examples
    --------
    >>> fig = frozen(go.Figure(go.Bar(y=[1])))
    >>> fig.to_dict()["data"][0]["type"]
    'bar'
    """
    if orjson is None or isinstance(fig, FrozenFigure):
        return fig
    fields = fig.to_dict()
    encoded = pio.to_json(fields, validate=False)
    fig.__class__ = FrozenFigure
    fig._frozen = _FrozenJSON(fields, encoded)
    return fig
