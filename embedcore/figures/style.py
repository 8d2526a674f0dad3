"""The look every figure shares: palettes, the one compact template, and the layout helper.

See :mod:`embedcore.figures` for the conventions (template, ``uirevision``, float32 payloads).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from embedcore.errors import InputError

#: Okabe & Ito (2008) "Color Universal Design" palette, black moved last: the
#: qualitative palette most widely checked against the common colour-vision
#: deficiencies. Categories beyond eight reuse colours with a different symbol.
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)
#: Clusters get Paul Tol's "muted" scheme (also colour-blind safe, cyan left out): none of
#: its colours is one of :data:`PALETTE`'s, so "cluster 0" never looks like the first label.
CLUSTER_PALETTE = (
    "#332288",  # indigo
    "#117733",  # green
    "#44AA99",  # teal
    "#999933",  # olive
    "#DDCC77",  # sand
    "#CC6677",  # rose
    "#882255",  # wine
    "#AA4499",  # purple
)
#: Colour of the "other" bucket and of de-emphasised things.
MUTED = "#9A9A9A"
#: The colorcet Glasbey palette used once categories outnumber a qualitative palette: colours
#: chosen to be told apart in large numbers; this variant has no greys (chroma >= 20, so none
#: looks like :data:`MUTED`'s "other") and none lighter than 70 (all visible on white).
MANY_PALETTE_NAME = "glasbey_bw_minc_20_maxl_70"
#: Marker symbols available in both SVG and WebGL scatter traces.
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x")
#: Query marker: distinct from every category symbol.
QUERY_COLOR = "#D62728"

#: ColorBrewer RdBu (11 classes) reversed: blue = -1, white = 0, red = +1.
#: Diverging and colour-blind safe; fixed here so the scale never depends on
#: Plotly's changing named-scale definitions.
_RDBU = (
    "#053061",
    "#2166AC",
    "#4393C3",
    "#92C5DE",
    "#D1E5F0",
    "#F7F7F7",
    "#FDDBC7",
    "#F4A582",
    "#D6604D",
    "#B2182B",
    "#67001F",
)
DIVERGING = [[i / (len(_RDBU) - 1), c] for i, c in enumerate(_RDBU)]
#: Sequential, colour-blind safe (designed for it), for continuous colour values.
SEQUENTIAL = "Cividis"

#: Pixels at the top of every figure kept free for Plotly's modebar, which floats over the
#: figure's top-right corner on hover (about 30 px): titles, top axes and plots start below.
MODEBAR_CLEARANCE = 36
#: Height of a one-line title (16 px font) with the gap under it.
TITLE_SPACE = 30

_FONT = "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
_AXIS = {
    "gridcolor": "#EBEBEB",
    "linecolor": "#BDBDBD",
    "zerolinecolor": "#D0D0D0",
    "ticks": "",
    "title": {"standoff": 8},
    "automargin": True,
}

#: The one template every figure here uses (small on purpose: see module docstring).
TEMPLATE = go.layout.Template(
    layout={
        "font": {"family": _FONT, "size": 13, "color": "#262730"},
        "title": {"font": {"size": 16}, "x": 0.0, "xanchor": "left", "xref": "paper"},
        "colorway": list(PALETTE),
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "margin": {"l": 10, "r": 10, "t": MODEBAR_CLEARANCE + TITLE_SPACE, "b": 10, "pad": 0},
        "hoverlabel": {"font": {"family": _FONT, "size": 12}, "align": "left", "namelength": -1},
        "hovermode": "closest",
        "legend": {
            "itemsizing": "constant",  # legend markers stay visible when points are tiny
            "bgcolor": "rgba(255,255,255,0.6)",
            "font": {"size": 12},
        },
        "xaxis": _AXIS,
        "yaxis": _AXIS,
        "coloraxis": {"colorbar": {"outlinewidth": 0, "thickness": 12}},
    }
)


# --- validation ------------------------------------------------------------------


def checked_texts(texts: Sequence[object], n: int, what: str = "texts") -> list[object]:
    """``texts`` as a list, refused (:class:`~embedcore.errors.InputError`) unless there is one per row.

    Examples
    --------
    >>> checked_texts(("a", "b"), 2)
    ['a', 'b']
    >>> checked_texts(["a"], 2)
    Traceback (most recent call last):
    ...
    embedcore.errors.InputError: 1 texts for 2 rows: one text per row is needed.
    """
    texts = list(texts)
    if len(texts) != n:
        raise InputError(f"{len(texts)} {what} for {n} rows: one text per row is needed.")
    return texts


def as_float32(values: object) -> np.ndarray:
    """``values`` as a contiguous float32 array: what every figure sends (see :mod:`embedcore.figures`).

    Examples
    --------
    >>> as_float32([1, 2]).dtype
    dtype('float32')
    """
    # float32 halves the JSON (base64 typed arrays) and is more precision than a screen can show.
    return np.ascontiguousarray(np.asarray(values, dtype=np.float32))


def base_layout(
    fig: go.Figure, *, title: str | None, uirevision: object, height: int | None, top_extra: int = 0
) -> go.Figure:
    """Template, uirevision, height, and a top margin that keeps the modebar off the content.

    ``top_extra``: pixels of content above the plot area besides the title (a top axis, subplot titles).

    Examples
    --------
    >>> fig = base_layout(go.Figure(), title="Title", uirevision="data-1", height=300)
    >>> fig.layout.height, fig.layout.margin.t, fig.layout.uirevision
    (300, 66, 'data-1')
    """
    fig.update_layout(template=TEMPLATE, uirevision=uirevision)
    top = MODEBAR_CLEARANCE + top_extra
    if title:
        # Pinned to the container's top edge, pushed down past the modebar: the title then
        # never runs under its icons, however narrow the figure is drawn.
        fig.update_layout(
            title={
                "text": title,
                "yref": "container",
                "y": 1,
                "yanchor": "top",
                "pad": {"t": MODEBAR_CLEARANCE},
            }
        )
        top += TITLE_SPACE
    fig.update_layout(margin_t=top)
    if height:
        fig.update_layout(height=height)
    return fig


# --- heatmap ---------------------------------------------------------------------
