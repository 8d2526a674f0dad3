"""Plotly figures for the embedding explorer: arrays and texts in, ``go.Figure`` out.

No Streamlit here: every function returns a :class:`plotly.graph_objects.Figure`
that a page hands to ``st.plotly_chart`` (or a notebook displays).

Conventions shared by every figure
----------------------------------
* One compact template (:data:`TEMPLATE`): system font stack, readable sizes,
  tight margins, the Okabe–Ito colour-blind-safe palette. It replaces Plotly's
  default template, which alone is ~8 kB of JSON per figure. Pass ``theme=None``
  to ``st.plotly_chart`` to keep this look; with Streamlit's theme the trace
  colours (set explicitly here) still survive.
* ``layout.uirevision`` is set (default ``"embedcore"``) so zoom, pan and legend
  toggles survive Streamlit reruns. Pass a new value (e.g. a hash of the
  dataset) when the data changes and the view *should* reset.
* User text is never trusted: Plotly renders a subset of HTML in hover labels,
  tick labels, legend entries and titles, so every user string goes through
  :func:`hover_text` / :func:`short_label`, which escape ``& < >``. A text
  ``<b>x</b>`` shows literally.
* Payloads stay small: coordinates and scores are sent as float32 typed arrays
  (Plotly ≥ 6 writes numpy arrays as base64 ``bdata``, so rounding digits would
  not shrink them; halving the width does), hover text shrinks as the point
  count grows, and a heatmap refuses sizes it cannot show.

Selections
----------
Scatter points carry their **row index** in ``customdata`` (first column).
``point_index`` in a Streamlit/Plotly selection event is the index *within a
trace*, and the scatter draws one trace per category, so it is **not** the row
index. Use :func:`selected_rows` to map an event back to rows.
"""

from __future__ import annotations

import codecs
import html
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

try:  # plotly's fast JSON engine, installed with the app; frozen() needs it
    import orjson
except ImportError:  # pragma: no cover - the engine alone (pip install .) may lack it
    orjson = None

# Before plotly: plotly uses pandas if sys.modules has it, and a half-imported pandas (another
# thread, e.g. a page, still importing it) failed the warm-up once ("partially initialized
# module 'pandas' has no attribute 'Series'"). Importing it here waits for that import to end.
import pandas  # noqa: F401
import plotly.graph_objects as go
import plotly.io as pio

from embedcore.errors import InputError, TooManyTextsError

__all__ = [
    "CLUSTER_PALETTE",
    "HEATMAP_HARD_LIMIT",
    "HEATMAP_LIMIT",
    "MODEBAR_CLEARANCE",
    "NAME_ANNOTATION",
    "PALETTE",
    "TEMPLATE",
    "HeatmapTooLargeError",
    "agreement_scatter",
    "alignment_figure",
    "block_heatmap_figure",
    "category_colors",
    "heatmap_figure",
    "heatmap_row",
    "hover_chars_for",
    "hover_text",
    "hover_texts",
    "many_palette",
    "matrix_figure",
    "opacity_for",
    "place_names",
    "ranking_bar_figure",
    "scatter_figure",
    "selected_rows",
    "short_label",
    "similarity_histogram",
    "vector_figure",
]

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
_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x")
#: Query marker: distinct from every category symbol.
_QUERY_COLOR = "#D62728"

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

#: Largest heatmap side drawn by default: beyond ~300 rows a cell is under two
#: pixels on a laptop screen, so more rows would ship bytes nobody can see.
HEATMAP_LIMIT = 300
#: Largest side accepted even when a caller raises ``max_cells_side``: 1000² is
#: already ~5 MB of JSON (2000² measured at 23 MB, see docs/FACTS.md).
HEATMAP_HARD_LIMIT = 1000

#: Pixels at the top of every figure kept free for Plotly's modebar, which floats over the
#: figure's top-right corner on hover (about 30 px): titles, top axes and plots start below.
MODEBAR_CLEARANCE = 36
#: Height of a one-line title (16 px font) with the gap under it.
_TITLE_SPACE = 30

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
        "margin": {"l": 10, "r": 10, "t": MODEBAR_CLEARANCE + _TITLE_SPACE, "b": 10, "pad": 0},
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


class HeatmapTooLargeError(TooManyTextsError):
    """More rows than a heatmap can show; the UI should fall back to a top-pairs table.

    Attributes
    ----------
    n : int
        Rows asked for.
    limit : int
        Largest side allowed.
    """

    def __init__(self, n: int, limit: int) -> None:
        super().__init__(
            f"Too many texts for a heatmap ({n} > {limit}): showing the most similar pairs instead. "
            f"Select up to {limit} texts to see the heatmap."
        )
        self.n = n
        self.limit = limit


# --- text helpers ----------------------------------------------------------------


def _words(text: object) -> list[str]:
    # Hover labels have no use for the user's line breaks and tabs; Plotly would
    # ignore "\n" anyway (only <br> breaks a line).
    return str(text).split()


def _truncate(words: list[str], max_chars: int) -> str:
    text = " ".join(words)
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    # Prefer a word boundary when one is close, so the ellipsis does not split a word.
    space = cut.rfind(" ")
    if space >= max_chars * 0.75:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _wrap(text: str, width: int) -> list[str]:
    # Greedy word wrap, hand-written because textwrap.wrap costs ~60 µs a text
    # (3 s for a 50k-point map) and we need none of its options.
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        while len(word) > width:  # a URL or a very long token: hard-split it
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            lines.append(line)
            line = word
    if line or not lines:
        lines.append(line)
    return lines


def hover_text(text: object, width: int = 60, max_chars: int = 300) -> str:
    """A user text made safe and readable for a Plotly hover label.

    Whitespace is collapsed, the text is truncated to ``max_chars`` characters
    (with "…"), wrapped at ``width`` characters with ``<br>``, and ``& < >`` are
    HTML-escaped so markup typed by a user displays literally. Characters beyond ASCII are
    written as numeric references (``é`` → ``&#233;``), which Plotly's labels decode: a map's
    JSON then stays ASCII, which plotly and Streamlit copy and escape ~3x faster than a
    string holding one "…" (0.15 s of every change to a 100k-point map).

    Parameters
    ----------
    text : object
        Converted with ``str``.
    width : int
        Characters per line before wrapping.
    max_chars : int
        Characters kept, ellipsis included.

    Returns
    -------
    str
        Plotly pseudo-HTML.
    """
    if width < 1 or max_chars < 1:
        raise ValueError(f"width and max_chars must be positive, got {width} and {max_chars}")
    short = _truncate(_words(text), max_chars)
    # Wrap before escaping: "&lt;" must neither be split nor count as four characters.
    lines = (html.escape(line, quote=False) for line in _wrap(short, width))
    return "<br>".join(lines).encode("ascii", "xmlcharrefreplace").decode("ascii")


def short_label(text: object, max_chars: int = 28) -> str:
    """A one-line, escaped, truncated label for ticks, legends and titles."""
    return html.escape(_truncate(_words(text), max_chars), quote=False)


def opacity_for(n_points: int) -> float:
    """Marker opacity for a map of ``n_points``: lower as points pile up.

    At 10,000 points and more, opaque markers hide one another and a dense region reads as
    one solid patch; translucent ones let the density show (the Projector and
    embedding-atlas fade points the same way).
    """
    if n_points <= 2_000:
        return 0.8
    if n_points <= 10_000:
        return 0.6
    if n_points <= 50_000:
        return 0.45
    return 0.35


def hover_chars_for(n_points: int) -> int:
    """Characters of hover text per point, shrinking with the point count.

    Hover strings dominate a scatter's JSON (coordinates are ~11 bytes a point,
    a 300-character hover ~330): these steps keep 50k points under ~8 MB, well
    inside Streamlit's 200 MB message limit and quick to parse in a browser.
    Full texts belong in the table beside the map.
    """
    if n_points <= 2_000:
        return 300
    if n_points <= 10_000:
        return 160
    if n_points <= 50_000:
        return 100
    return 80  # 100k points: ~8 MB of hover text, serialised on every rerun


def hover_texts(texts: Sequence[object], max_chars: int | None = None) -> np.ndarray:
    """:func:`hover_text` of every text, as an object array for :func:`scatter_figure`'s ``hover``.

    Worth computing once per data set and reusing: 100,000 texts take 1-3 s, the rest of
    a 100k-point figure a fraction of that.

    Parameters
    ----------
    texts : sequence of str, length n
    max_chars : int, optional
        Default :func:`hover_chars_for` ``(n)``.

    Returns
    -------
    ndarray of shape (n,), dtype object
    """
    chars = max_chars or hover_chars_for(len(texts))
    return np.array([hover_text(t, width=60, max_chars=chars) for t in texts], dtype=object)


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
    """A finished figure that is serialised once: made by :func:`frozen`."""

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
    """
    if orjson is None or isinstance(fig, FrozenFigure):
        return fig
    fields = fig.to_dict()
    encoded = pio.to_json(fields, validate=False)
    fig.__class__ = FrozenFigure
    fig._frozen = _FrozenJSON(fields, encoded)
    return fig


def selected_rows(selection: Mapping[str, Any] | None) -> list[int]:
    """Row indices from a Plotly / Streamlit selection event, sorted and unique.

    Reads each point's ``customdata`` (where :func:`scatter_figure`,
    :func:`alignment_figure` and :func:`agreement_scatter` put the row index),
    never ``point_index``, which counts within one trace. Accepts the event
    returned by ``st.plotly_chart(on_select="rerun")``, its ``selection`` part,
    or ``None``. Points without customdata (the query star) are ignored.
    """
    if not selection:
        return []
    if "selection" in selection:
        selection = selection["selection"] or {}
    rows: set[int] = set()
    for point in selection.get("points", ()) or ():
        data = point.get("customdata")
        if isinstance(data, (list, tuple)):
            data = data[0] if data else None
        if data is None:
            continue
        try:
            rows.add(int(data))
        except (TypeError, ValueError):
            continue
    return sorted(rows)


# --- validation ------------------------------------------------------------------


def _texts(texts: Sequence[object], n: int, what: str = "texts") -> list[object]:
    texts = list(texts)
    if len(texts) != n:
        raise InputError(f"{len(texts)} {what} for {n} rows: one text per row is needed.")
    return texts


def _f32(values: object) -> np.ndarray:
    # float32 halves the JSON (base64 typed arrays) and is more precision than a screen can show.
    return np.ascontiguousarray(np.asarray(values, dtype=np.float32))


def _layout(
    fig: go.Figure, *, title: str | None, uirevision: object, height: int | None, top_extra: int = 0
) -> go.Figure:
    """Template, uirevision, height, and a top margin that keeps the modebar off the content.

    ``top_extra``: pixels of content above the plot area besides the title (a top axis, subplot titles).
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
        top += _TITLE_SPACE
    fig.update_layout(margin_t=top)
    if height:
        fig.update_layout(height=height)
    return fig


# --- heatmap ---------------------------------------------------------------------


def _heatmap_range(z: np.ndarray) -> tuple[float, float]:
    """Lowest and highest similarity between two different texts (the diagonal left out)."""
    m = z.shape[0]
    if m < 2:
        return -1.0, 1.0
    off = z[~np.eye(m, dtype=bool)]
    off = off[np.isfinite(off)]
    if not off.size:
        return -1.0, 1.0
    low, high = float(off.min()), float(off.max())
    if high - low < 1e-3:  # all pairs alike: a small band around them, not a division by ~0
        low, high = low - 0.05, high + 0.05
    return max(low, -1.0), min(high, 1.0)


def heatmap_figure(
    sim: np.ndarray,
    texts: Sequence[object],
    *,
    order: Sequence[int] | np.ndarray | None = None,
    max_cells_side: int = HEATMAP_LIMIT,
    zrange: tuple[float, float] | str = (-1.0, 1.0),
    max_tick_labels: int = 40,
    groups: Sequence[object] | None = None,
    group_colors: Mapping[object, str] | None = None,
    title: str | None = None,
    uirevision: object = "embedcore",
    height: int | None = None,
) -> go.Figure:
    """Cosine-similarity heatmap with both texts and the score on hover.

    Parameters
    ----------
    sim : ndarray of shape (n, n)
        Similarities (any float dtype); sent as float32.
    texts : sequence of str, length n
    order : sequence of int, optional
        Rows (and columns) to draw, in this order — a permutation such as
        ``similarity.cluster_order(X)``, or a subset of rows. Default: ``range(n)``.
    max_cells_side : int
        Refuse when more than this many rows would be drawn (default
        :data:`HEATMAP_LIMIT`); may be raised up to :data:`HEATMAP_HARD_LIMIT`.
    zrange : (float, float) or "data"
        Colour scale limits. The default ``(-1, 1)`` is comparable across models
        and data sets: the same colour always means the same cosine. ``"data"``:
        the lowest to the highest similarity of two *different* drawn texts, so
        the structure fills the whole scale (most models put unrelated texts at
        0.0–0.3, which the fixed scale washes out to one pale colour); the
        diagonal (1.0) takes the top colour.
    max_tick_labels : int
        At most this many (truncated) tick labels per axis; every k-th row is labelled.
    groups : sequence, length n, optional
        Each text's label (or cluster): drawn as a colour band along both axes (left and
        top), with a legend, so blocks on the diagonal can be read as labels.
    group_colors : mapping, optional
        ``{group: colour}``; default :func:`category_colors` ``(groups)``, the map's colours.
        Pass the map's own mapping when the heatmap shows a subset of its texts; its order
        is the legend's.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``go.Heatmap``; square cells; row 0 of ``order`` at the top. With ``groups``,
        the bands are ``layout.shapes`` and the legend entries are empty scatter traces.

    Raises
    ------
    HeatmapTooLargeError
        (an :class:`~embedcore.errors.InputError`) when more than ``max_cells_side`` rows would be drawn.
    InputError
        On a non-square ``sim``, a length mismatch, or a bad ``order``.
    """
    sim = _square(sim)
    n = sim.shape[0]
    texts = _texts(texts, n)
    idx = _heatmap_rows(n, order, max_cells_side)
    m = idx.size
    z = _f32(sim[np.ix_(idx, idx)])
    zmin, zmax = _heatmap_range(z) if isinstance(zrange, str) and zrange == "data" else map(float, zrange)
    hover, axis = _heatmap_axes(texts, idx, max_tick_labels)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=hover,
            y=hover,
            zmin=zmin,
            zmax=zmax,
            zmid=0.0 if zmin < 0 < zmax else None,
            colorscale=DIVERGING,
            colorbar={"title": {"text": "cosine"}, "thickness": 12, "outlinewidth": 0},
            hovertemplate=_HEATMAP_HOVER,
            xgap=1 if m <= 40 else 0,
            ygap=1 if m <= 40 else 0,
        )
    )
    fig.update_xaxes(**axis, tickangle=-45, constrain="domain")
    # Row 0 at the top (matrix reading order) and square cells. When the figure is taller than
    # the square, the grid moves up against the title instead of floating in a blank band.
    fig.update_yaxes(
        **axis, autorange="reversed", scaleanchor="x", scaleratio=1, constrain="domain", constraintoward="top"
    )
    band = 0
    if groups is not None:
        groups = _texts(groups, n, "groups")
        band = _group_bands(fig, [groups[i] for i in idx], group_colors or category_colors(groups))
    return _layout(fig, title=title, uirevision=uirevision, height=height or 640, top_extra=band)


#: Group bands beside a heatmap, in fractions of the grid's side: width, and gap to the grid.
_BAND_WIDTH, _BAND_GAP = 0.022, 0.006


def _group_bands(fig: go.Figure, groups: Sequence[object], colors: Mapping[object, str]) -> int:
    """Colour bands of ``groups`` (one per drawn row, in display order) left of and above the grid.

    Adds one rectangle per run of equal neighbours on each axis (a clustered order makes long
    runs) and a legend entry per group; returns the pixels the top band needs above the grid.
    """
    shapes = []
    start = 0
    for end in range(1, len(groups) + 1):
        if end < len(groups) and groups[end] == groups[start]:
            continue
        colour = colors.get(groups[start], MUTED)
        common = {"type": "rect", "fillcolor": colour, "line": {"width": 0}, "layer": "above"}
        low, high = start - 0.5, end - 0.5
        shapes.append(
            {
                **common,
                "xref": "x domain",
                "x0": -_BAND_GAP - _BAND_WIDTH,
                "x1": -_BAND_GAP,
                "yref": "y",
                "y0": low,
                "y1": high,
            }
        )
        shapes.append(
            {
                **common,
                "xref": "x",
                "x0": low,
                "x1": high,
                "yref": "y domain",
                "y0": 1 + _BAND_GAP,
                "y1": 1 + _BAND_GAP + _BAND_WIDTH,
            }
        )
        start = end
    fig.update_layout(shapes=shapes)
    shown = list(dict.fromkeys(groups))
    rank = {group: i for i, group in enumerate(colors)}
    for group in sorted(shown, key=lambda g: rank.get(g, len(rank))):
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=short_label(group, 30),
                marker={"size": 10, "symbol": "square", "color": colors.get(group, MUTED)},
                hoverinfo="skip",
                showlegend=True,
            )
        )
    # Tick labels step aside for the left band; the colour bar makes room for the legend under it.
    fig.update_yaxes(ticklabelstandoff=20)
    fig.update_traces(colorbar={"len": 0.45, "y": 1, "yanchor": "top"}, selector={"type": "heatmap"})
    fig.update_layout(
        showlegend=True,
        legend={
            "x": 1.02,
            "xanchor": "left",
            "y": 0.5,
            "yanchor": "top",
            "itemclick": False,
            "itemdoubleclick": False,
        },
    )
    return 18


def block_heatmap_figure(
    means: np.ndarray,
    names: Sequence[object],
    sizes: Sequence[int],
    *,
    colors: Mapping[object, str] | None = None,
    zrange: tuple[float, float] | str = "data",
    title: str | None = None,
    uirevision: object = "embedcore",
    height: int | None = None,
) -> go.Figure:
    """Mean cosine between groups of texts (labels or clusters), for sets too large for one cell per text.

    Parameters
    ----------
    means : ndarray of shape (g, g)
        ``means[a, b]``: mean cosine of a text of group ``a`` and one of group ``b``; the
        diagonal is the mean within the group (NaN for a group of one text), as
        :func:`embedcore.analysis.explore.block_means` computes it.
    names : sequence of str, length g
        Group names, in the order of ``means`` (drawn top to bottom, left to right).
    sizes : sequence of int, length g
        Texts per group, shown after each name on hover: ``music (20)``.
    colors : mapping, optional
        ``{name: colour}`` for the colour bands along both axes (the map's colours); default
        :func:`category_colors` of the names.
    zrange : (float, float) or "data"
        Colour limits; ``"data"``: the lowest to the highest mean drawn.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``go.Heatmap`` of g × g cells, with a colour band and legend as in :func:`heatmap_figure`.

    Raises
    ------
    InputError
        On a non-square ``means`` or a length mismatch.
    """
    z = _f32(_square(means))
    g = z.shape[0]
    names = _texts(names, g, "group names")
    sizes = [int(v) for v in _texts(sizes, g, "group sizes")]
    if g == 0:
        raise InputError("Nothing to draw: no groups.")
    categories = [f"{html.escape(str(name))} ({size:,})" for name, size in zip(names, sizes, strict=True)]
    if isinstance(zrange, str) and zrange == "data":
        finite = z[np.isfinite(z)]
        zmin, zmax = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
        if zmax - zmin < 1e-3:
            zmin, zmax = zmin - 0.05, zmax + 0.05
        zmin, zmax = max(zmin, -1.0), min(zmax, 1.0)
    else:
        zmin, zmax = map(float, zrange)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=categories,
            y=categories,
            zmin=zmin,
            zmax=zmax,
            zmid=0.0 if zmin < 0 < zmax else None,
            colorscale=DIVERGING,
            colorbar={"title": {"text": "mean cosine"}, "thickness": 12, "outlinewidth": 0},
            hovertemplate="%{y}<br><b>×</b><br>%{x}<br><b>mean cosine %{z:.3f}</b><extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    axis = {
        "type": "category",
        "tickmode": "array",
        "tickvals": categories,
        "ticktext": [short_label(name, 24) for name in names],
        "showgrid": False,
        "tickfont": {"size": 11},
    }
    fig.update_xaxes(**axis, tickangle=-45, constrain="domain")
    fig.update_yaxes(
        **axis, autorange="reversed", scaleanchor="x", scaleratio=1, constrain="domain", constraintoward="top"
    )
    band = _group_bands(fig, list(names), colors or category_colors(names))
    return _layout(fig, title=title, uirevision=uirevision, height=height or 640, top_extra=band)


_HEATMAP_HOVER = "%{y}<br><b>×</b><br>%{x}<br><b>cosine %{z:.3f}</b><extra></extra>"


def _square(sim: object) -> np.ndarray:
    sim = np.asarray(sim)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise InputError(f"A heatmap needs a square similarity matrix, got shape {sim.shape}.")
    return sim


def _heatmap_rows(n: int, order: Sequence[int] | np.ndarray | None, max_cells_side: int) -> np.ndarray:
    """The rows to draw (checked), refusing more than ``max_cells_side`` before any work."""
    max_cells_side = int(max_cells_side)
    if not 1 <= max_cells_side <= HEATMAP_HARD_LIMIT:
        raise ValueError(f"max_cells_side must be within 1..{HEATMAP_HARD_LIMIT}, got {max_cells_side}")
    if order is None:
        idx = np.arange(n)
    else:
        idx = np.asarray(order)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise InputError("order must be a 1-D sequence of row indices.")
        idx = idx.astype(np.int64, copy=False)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise InputError(f"order holds indices outside 0..{n - 1}.")
        if np.unique(idx).size != idx.size:
            raise InputError("order repeats a row; each row may appear once.")
    if idx.size == 0:
        raise InputError("Nothing to draw: no rows selected for the heatmap.")
    if idx.size > max_cells_side:
        # Checked before touching the matrix so a refusal is instant and allocates nothing.
        raise HeatmapTooLargeError(idx.size, max_cells_side)
    return idx


def _heatmap_axes(texts: Sequence[object], idx: np.ndarray, max_tick_labels: int) -> tuple[list[str], dict]:
    """Category names (the hover texts) and the tick settings both axes of a heatmap share.

    Categorical axes whose category *names* are the hover texts: Plotly can then show both full
    texts per cell from 2m strings, where per-cell customdata would need m² strings (300² × 2
    hovers ≈ 50 MB). The "#k" prefix keeps duplicate texts from merging into one category.
    """
    hover = [f"#{int(i)} {hover_text(texts[i], width=50, max_chars=200)}" for i in idx]
    step = max(1, math.ceil(idx.size / max_tick_labels))
    axis = {
        "type": "category",
        "tickmode": "array",
        "tickvals": hover[::step],
        "ticktext": [short_label(texts[i], 24) for i in idx[::step]],
        "showgrid": False,
        "tickfont": {"size": 11},
    }
    return hover, axis


def _symmetric_range(sims: Sequence[np.ndarray], idx: np.ndarray) -> tuple[float, float]:
    """``(-h, h)`` with ``h`` the largest |cosine| off the diagonal, rounded up to 0.05.

    Most models put unrelated texts near 0-0.3 and nothing near -1, so a fixed -1..1 scale
    washes every heatmap out; the diagonal (always 1) is left to saturate.
    """
    off = ~np.eye(idx.size, dtype=bool)
    largest = max(
        (float(np.abs(np.asarray(s)[np.ix_(idx, idx)][off]).max()) if idx.size > 1 else 1.0) for s in sims
    )
    half = min(1.0, max(0.05, math.ceil(largest / 0.05 - 1e-9) * 0.05))
    return -half, half


def heatmap_row(
    sims: Sequence[np.ndarray],
    names: Sequence[str],
    texts: Sequence[object],
    *,
    order: Sequence[int] | np.ndarray | None = None,
    max_cells_side: int = HEATMAP_LIMIT,
    zrange: tuple[float, float] | None = None,
    max_tick_labels: int = 25,
    uirevision: object = "embedcore",
    height: int | None = None,
) -> go.Figure:
    """Cosine heatmaps of several models side by side: one row order, one colour scale, one colour bar.

    Parameters
    ----------
    sims : sequence of ndarray of shape (n, n)
        One similarity matrix per model, all over the same ``n`` texts.
    names : sequence of str
        Panel titles (escaped, truncated).
    texts : sequence of str, length n
    order : sequence of int, optional
        Rows (and columns) to draw, in this order, in every panel — e.g. the first model's
        ``similarity.cluster_order``, so blocks can be compared across models.
    max_cells_side : int
        As in :func:`heatmap_figure`.
    zrange : (float, float), optional
        Colour limits shared by every panel; default: symmetric around 0, wide enough for the
        largest off-diagonal |cosine| of any panel (see :func:`_symmetric_range`).
    max_tick_labels : int
        Row labels on the first panel only (the others share its rows); no column labels.
    height : int, optional
        Default: fitted so that square panels on a wide page leave no blank band.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``go.Heatmap`` per model, all on ``layout.coloraxis`` (which draws the one colour bar).

    Raises
    ------
    InputError
        When the matrices are not square, differ in size, or do not match ``names`` / ``texts``.
    HeatmapTooLargeError
        When more than ``max_cells_side`` rows would be drawn.
    """
    from plotly.subplots import make_subplots

    sims = [_square(s) for s in sims]
    if not sims or len(sims) != len(names):
        raise InputError(f"{len(sims)} similarity matrices for {len(names)} model names.")
    n = sims[0].shape[0]
    if any(s.shape[0] != n for s in sims):
        raise InputError(
            f"The heatmaps must cover the same texts; sizes differ: {', '.join(str(s.shape[0]) for s in sims)}."
        )
    texts = _texts(texts, n)
    idx = _heatmap_rows(n, order, max_cells_side)
    lo, hi = zrange if zrange is not None else _symmetric_range(sims, idx)
    hover, axis = _heatmap_axes(texts, idx, max_tick_labels)
    panels = len(sims)
    fig = make_subplots(
        rows=1,
        cols=panels,
        subplot_titles=[short_label(name, 40) for name in names],
        horizontal_spacing=0.02,
    )
    gap = 1 if idx.size <= 40 else 0
    for col, sim in enumerate(sims, start=1):
        fig.add_trace(
            go.Heatmap(
                z=_f32(sim[np.ix_(idx, idx)]),
                x=hover,
                y=hover,
                coloraxis="coloraxis",
                hovertemplate=_HEATMAP_HOVER,
                xgap=gap,
                ygap=gap,
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(**axis, showticklabels=False, constrain="domain", row=1, col=col)
        fig.update_yaxes(
            **axis,
            showticklabels=col == 1,
            autorange="reversed",
            scaleanchor=f"x{col if col > 1 else ''}",
            scaleratio=1,
            constrain="domain",
            constraintoward="top",
            row=1,
            col=col,
        )
    fig.update_layout(
        coloraxis={
            "colorscale": DIVERGING,
            "cmin": float(lo),
            "cmax": float(hi),
            "cmid": 0.0 if lo < 0 < hi else None,
            "colorbar": {"title": {"text": "cosine"}, "thickness": 12, "outlinewidth": 0},
        }
    )
    for annotation in fig.layout.annotations:
        annotation.update(font={"size": 14}, xanchor="center")
    # Square panels on a wide page (Streamlit's wide layout beside the sidebar: ~940 px on a
    # 1400 px window, of which ~760 px for the grids after row labels and colour bar). A taller
    # figure would leave a blank band under the grids; a narrower page only shrinks them.
    side = max(200, 760 // panels)
    fig = _layout(
        fig, title=None, uirevision=uirevision, height=height or side + MODEBAR_CLEARANCE + 40, top_extra=24
    )
    return fig


# --- scatter ---------------------------------------------------------------------


#: Category code of the rows in no category (:func:`scatter_figure`'s ``unassigned``).
_UNASSIGNED = -2


def _categories(
    color: Sequence[object], n: int, max_categories: int, unassigned: object = None, order=None
) -> tuple[list[str], np.ndarray]:
    """Category names (legend order) and each row's category code; -1 → "other", -2 → ``unassigned``."""
    values = list(color)
    if len(values) != n:
        raise InputError(f"{len(values)} colour values for {n} points.")
    counts = Counter(values)
    if unassigned is not None:
        counts.pop(unassigned, None)
    keys = list(counts)
    numeric = all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in keys)
    if order is not None:
        given = [k for k in dict.fromkeys(order) if k in counts]
        known = set(given)
        ordered = given + sorted((k for k in keys if k not in known), key=lambda k: (-counts[k], str(k)))
    elif numeric:
        ordered = sorted(keys)  # cluster ids: numeric order
    else:
        ordered = sorted(keys, key=lambda k: (-counts[k], str(k)))  # biggest labels first
    names = {k: f"cluster {k}" if numeric else str(k) for k in ordered}
    kept = ordered
    if len(ordered) > max_categories:
        # The least frequent labels share one grey trace: a legend of 200 entries
        # (and 200 traces) helps nobody. Keep the biggest ones.
        by_size = sorted(ordered, key=lambda k: (-counts[k], str(k)))[: max_categories - 1]
        keep = set(by_size)
        kept = [k for k in ordered if k in keep]
    code_of = {k: i for i, k in enumerate(kept)}
    if unassigned is not None:
        code_of[unassigned] = _UNASSIGNED
    codes = np.fromiter((code_of.get(v, -1) for v in values), dtype=np.int64, count=n)
    return [names[k] for k in kept], codes


def many_palette(count: int) -> tuple[str, ...]:
    """``count`` colours that stay distinct in large numbers (colorcet's Glasbey, see
    :data:`MANY_PALETTE_NAME`), leaving out any too close to the query's red."""
    import colorcet

    def rgb(colour: str) -> np.ndarray:
        return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)

    query = rgb(_QUERY_COLOR)
    colours = [c.upper() for c in colorcet.palette[MANY_PALETTE_NAME] if np.abs(rgb(c) - query).sum() > 90]
    return tuple(colours[i % len(colours)] for i in range(count))


def category_colors(
    values: Sequence[object],
    *,
    palette: Sequence[str] = PALETTE,
    max_categories: int = 20,
    unassigned: object = None,
    order: Sequence[object] | None = None,
) -> dict[object, str]:
    """The colour of each category of ``values``: pass it to :func:`scatter_figure` (``colors=``)
    and to the other figures that must match the map.

    Computed once over a whole data set, it keeps every label in its colour on any part of
    it (an isolated selection, one label alone): a colour is a function of the label within
    the data set, not of the labels on screen. Up to ``len(palette)`` categories take the
    palette's colours; beyond, :func:`many_palette`'s, so no two categories share one.

    Parameters
    ----------
    values : sequence, length n
        One category per row.
    palette, max_categories, unassigned
        As for :func:`scatter_figure`.
    order : sequence, optional
        The categories in legend order (cluster 0, 1, 2...); default: integers in numeric
        order, anything else by size, largest first.

    Returns
    -------
    dict
        ``{value: "#rrggbb"}`` for every distinct value, in legend order; the ones beyond
        ``max_categories`` (drawn as one grey "other" trace), and ``unassigned``, get :data:`MUTED`.
    """
    values = list(values)
    names, codes = _categories(values, len(values), max_categories, unassigned, order)
    code_of = dict(zip(values, codes.tolist(), strict=True))
    if len(names) > len(palette):
        palette = many_palette(len(names))
    # In legend order: the categories, then "other", then the unassigned.
    ordered = sorted(code_of, key=lambda v: (code_of[v] < 0, abs(code_of[v])))
    return {v: palette[code_of[v] % len(palette)] if code_of[v] >= 0 else MUTED for v in ordered}


def _coded(
    color: Sequence[object], n: int, colors: Mapping[object, str], unassigned: object
) -> tuple[list[str], np.ndarray, list[object]]:
    """The categories of ``colors`` present in ``color`` (legend order): names, each row's code
    (-1 "other": a value ``colors`` leaves grey or lacks; -2 ``unassigned``), and the values."""
    values = list(color)
    if len(values) != n:
        raise InputError(f"{len(values)} colour values for {n} points.")
    present = set(values)
    kept = [k for k, c in colors.items() if c != MUTED and k != unassigned and k in present]
    code_of = {k: i for i, k in enumerate(kept)}
    if unassigned is not None:
        code_of[unassigned] = _UNASSIGNED
    codes = np.fromiter((code_of.get(v, -1) for v in values), dtype=np.int64, count=n)
    numeric = all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in kept)
    return [f"cluster {k}" if numeric else str(k) for k in kept], codes, kept


#: The plot area a map's names are kept apart in, in pixels (width, height): the explorer's map on
#: a 1280-px window (~540 x 530) less a margin, less the rows of a long legend above the plot
#: (13 clusters took ~100 px of its height) and less the padding Plotly adds around the points.
#: A larger plot only spreads the names further apart.
NAMES_PLOT_PX = (440.0, 340.0)
#: ``name`` of the annotations that write cluster names on a 2-D map.
NAME_ANNOTATION = "cluster name"
#: How an annotation sits at each of :data:`_NAME_SPOTS` (its anchor and a small shift, in px).
_SPOT_ANCHORS = {
    "middle center": {"xanchor": "center", "yanchor": "middle"},
    "top center": {"xanchor": "center", "yanchor": "bottom", "yshift": 2},
    "bottom center": {"xanchor": "center", "yanchor": "top", "yshift": -2},
    "middle right": {"xanchor": "left", "yanchor": "middle", "xshift": 1},
    "middle left": {"xanchor": "right", "yanchor": "middle", "xshift": -1},
}
#: Width of a character and height of a line of the 12-px names, in pixels (Inter averages ~6.5).
_CHAR_PX, _LINE_PX, _GAP_PX = 7.0, 20.0, 4.0
#: Where a name may go around its cluster's centre, in order of preference (Plotly's
#: ``textposition``), and the box it then takes, in units of its (width, height) from the centre.
_NAME_SPOTS = (
    ("middle center", (-0.5, 0.5), (-0.5, 0.5)),
    ("top center", (-0.5, 0.5), (0.15, 1.15)),
    ("bottom center", (-0.5, 0.5), (-1.15, -0.15)),
    ("middle right", (0.05, 1.05), (-0.5, 0.5)),
    ("middle left", (-1.05, -0.05), (-0.5, 0.5)),
)


def place_names(
    centres: np.ndarray,
    sizes: Sequence[int],
    texts: Sequence[str],
    points: np.ndarray,
    *,
    plot_px: tuple[float, float] = NAMES_PLOT_PX,
) -> list[tuple[int, str]]:
    """Where to write the names of clusters on a 2-D map so that no two overlap.

    Largest cluster first, each name takes the first of :data:`_NAME_SPOTS` around its centre
    that stays inside the plot and clear of the names already placed; a name with no such
    spot is left out (the legend still has it). Sizes are estimated for a plot of ``plot_px``
    pixels spanning ``points``' range.

    Parameters
    ----------
    centres : ndarray of shape (m, 2)
        Where each name belongs.
    sizes : sequence of int, length m
        Texts per cluster (the order names are placed in).
    texts : sequence of str, length m
        The names as drawn (escaped: ``&amp;`` counts as one character).
    points : ndarray of shape (n, 2)
        The map's points: the range the plot spans.

    Returns
    -------
    list of (int, str)
        ``(index into centres, textposition)`` of the names to draw, in the order given.
    """
    lo, hi = points.min(axis=0).astype(float), points.max(axis=0).astype(float)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    width, height = plot_px
    px = (np.asarray(centres, dtype=float)[:, :2] - lo) / span * np.array([width, height])
    boxes: list[tuple[float, float, float, float]] = []
    placed: dict[int, str] = {}
    for i in sorted(range(len(texts)), key=lambda i: (-int(sizes[i]), i)):
        chars = len(html.unescape(str(texts[i])))
        w, h = chars * _CHAR_PX, _LINE_PX
        for spot, (x0, x1), (y0, y1) in _NAME_SPOTS:
            box = (px[i, 0] + x0 * w, px[i, 0] + x1 * w, px[i, 1] + y0 * h, px[i, 1] + y1 * h)
            inside = (
                box[0] >= -_GAP_PX and box[1] <= width + _GAP_PX and box[2] >= -h and box[3] <= height + h
            )
            clear = all(
                box[0] >= b[1] + _GAP_PX
                or b[0] >= box[1] + _GAP_PX
                or box[2] >= b[3] + _GAP_PX
                or b[2] >= box[3] + _GAP_PX
                for b in boxes
            )
            if inside and clear:
                boxes.append(box)
                placed[i] = spot
                break
    return [(i, placed[i]) for i in sorted(placed)]


def _is_continuous(color: object) -> bool:
    if not isinstance(color, np.ndarray) and isinstance(next(iter(color), None), str):
        return False  # labels: np.asarray of 100,000 strings alone took 25 ms
    arr = np.asarray(color)
    return arr.dtype.kind == "f" and arr.ndim == 1


def scatter_figure(
    coords: np.ndarray,
    texts: Sequence[object],
    *,
    color: Sequence[object] | np.ndarray | None = None,
    color_title: str | None = None,
    highlight: Iterable[int] | None = None,
    emphasis: Iterable[int] | None = None,
    links: Iterable[tuple[int, int]] | None = None,
    label_centres: bool = False,
    unassigned: object = None,
    colors: Mapping[object, str] | None = None,
    focus: int | None = None,
    selected: Iterable[int] | None = None,
    query_point: object = None,
    query_text: str | None = None,
    size: float = 6,
    opacity: float | None = None,
    palette: Sequence[str] = PALETTE,
    webgl_threshold: int = 1000,
    max_categories: int = 20,
    hover_chars: int | None = None,
    hover: Sequence[str] | np.ndarray | None = None,
    dragmode: str = "lasso",
    title: str | None = None,
    uirevision: object = "embedcore",
    height: int | None = None,
) -> go.Figure:
    """2-D or 3-D map of projected embeddings.

    Parameters
    ----------
    coords : ndarray of shape (n, 2) or (n, 3)
        Projected coordinates (sent as float32).
    texts : sequence of str, length n
    color : sequence of length n, optional
        Category labels (str) or cluster ids (int): one trace per category, so
        the legend toggles them; more than ``max_categories`` → the smallest
        share one grey "other" trace. A float array is drawn as a continuous
        Cividis colour scale in a single trace.
    color_title : str, optional
        Legend / colour-bar title.
    highlight : iterable of int, optional
        Rows to outline (e.g. a query's nearest neighbours), drawn on top.
    emphasis : iterable of int, optional
        Rows to stand out (e.g. the matches of a text search): every other point is dimmed,
        these are drawn again on top, in full colour with a dark outline, as one trace
        named "matches (m)". An empty iterable dims everything (nothing matched).
    links : iterable of (int, int), optional
        Pairs of rows to join with a line (e.g. a clicked text and its nearest neighbours in
        the full embedding space), drawn as one trace named "links" under the points.
    label_centres : bool
        Write each category's name at the median position of its points (categorical
        ``color`` only), so clusters are named on the map and not only in the legend: in 2-D as
        layout annotations named :data:`NAME_ANNOTATION`, kept apart by :func:`place_names`
        (a name with no room is left to the legend); in 3-D as a text trace named "names".
    unassigned : optional
        A ``color`` value meaning "in no category" (HDBSCAN's noise: ``"unclustered"``): those
        rows are one grey trace named ``"unclustered (m)"``, last in the legend, with no name
        on the map; the other categories keep their colours whether it is present or not.
    colors : mapping, optional
        ``{value: colour}`` in legend order, as :func:`category_colors` makes it — computed over
        the whole data set, so a label keeps its colour on any part of it. Values it lacks or
        greys are drawn in the grey "other" trace. Default: ``category_colors(color)``.
    focus : int, optional
        A row to mark itself (the clicked text whose neighbours are ringed): drawn again on
        top, larger, with a thick dark outline, as a trace named "clicked text".
    selected : iterable of int, optional
        Rows to draw as selected. 2-D: Plotly's ``selectedpoints`` on every point trace (the
        others fade, as after a lasso). 3-D, where Plotly has no selection: the rows are drawn
        again on top, larger and dark, as one trace named "selected (m)".
    query_point : array-like of shape (2,) or (3,), or ``(coords, text)``, optional
        Where a typed query lands in the map; drawn as a red star with its text.
    query_text : str, optional
        The query's text (alternative to passing ``(coords, text)``).
    size, opacity : float
        Marker size (px) and opacity (default :func:`opacity_for` ``(n)``).
    palette : sequence of str
        Category colours (default :data:`PALETTE`; :data:`CLUSTER_PALETTE` for clusters, so
        they are never mistaken for labels).
    webgl_threshold : int
        2-D maps with more points than this use ``go.Scattergl`` (WebGL: 50k
        points draw in well under 3 s); fewer use ``go.Scatter`` (SVG). Both
        support box/lasso selection and click events in Plotly and Streamlit.
    hover_chars : int, optional
        Hover text length; default :func:`hover_chars_for` ``(n)``.
    hover : sequence of str, length n, optional
        The hover texts already made (:func:`hover_texts`), so a redraw of a large map does not
        make them again; they must be safe (escaped) as :func:`hover_text` makes them.
    dragmode : str
        2-D default ``"lasso"`` (``"select"`` for a box, ``"zoom"``, ``"pan"``).

    Returns
    -------
    plotly.graph_objects.Figure
        Every point trace has ``customdata`` = row index (int32, first column):
        read selections with :func:`selected_rows`, not ``point_index``.
    """
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] not in (2, 3):
        raise InputError(f"coords must have shape (n, 2) or (n, 3), got {coords.shape}.")
    n, dims = coords.shape
    if n == 0:
        raise InputError("Nothing to draw: no points.")
    if opacity is None:
        opacity = opacity_for(n)
    texts = _texts(texts, n)
    xyz = _f32(coords)
    if not np.isfinite(xyz).all():
        raise InputError("coords contain NaN or infinite values.")
    if hover is None:
        hover = hover_texts(texts, hover_chars)
    else:
        hover = np.asarray(hover, dtype=object)
        if hover.shape != (n,):
            raise InputError(f"{hover.size} hover texts for {n} points.")
    rows = np.arange(n, dtype=np.int32)

    emphasised = None
    if emphasis is not None:
        emphasised = np.unique(np.asarray(list(emphasis), dtype=np.int64))
        if emphasised.size and (emphasised.min() < 0 or emphasised.max() >= n):
            raise InputError(f"emphasis holds indices outside 0..{n - 1}.")
        opacity = min(opacity, 0.25)  # the rest fades; the matches are drawn again on top

    three_d = dims == 3
    webgl = not three_d and n > webgl_threshold
    trace_cls = go.Scatter3d if three_d else (go.Scattergl if webgl else go.Scatter)
    # 3-D markers look bigger at the same pixel size; shrink a little.
    msize = size * 0.6 if three_d else size

    def points(sel: np.ndarray, **kw: Any) -> go.Scatter | go.Scattergl | go.Scatter3d:
        xy = {"x": xyz[sel, 0], "y": xyz[sel, 1]}
        if three_d:
            xy["z"] = xyz[sel, 2]
        return trace_cls(
            **xy,
            mode="markers",
            customdata=rows[sel],
            # An object array, not a list: Plotly checks a list item by item (0.4 s at 100k points).
            hovertext=hover[sel],
            hovertemplate="%{hovertext}<extra>%{fullData.name}</extra>"
            if kw.get("name")
            else "%{hovertext}<extra></extra>",
            **kw,
        )

    fig = go.Figure()
    show_legend = False
    categories = None  # (names, codes) of a categorical colour, for the traces and their centres
    if links is not None:
        pairs = np.asarray(list(links), dtype=np.int64).reshape(-1, 2)
        if pairs.size and (pairs.min() < 0 or pairs.max() >= n):
            raise InputError(f"links hold indices outside 0..{n - 1}.")
        if pairs.size:
            # Added first, so the lines lie under the points (re-ordering fig.data afterwards
            # validated every trace again: 30 ms of a click on a 100k map). One trace: each
            # segment is start, end, gap (NaN), which Plotly draws as separate lines.
            ends = np.full((len(pairs) * 3, dims), np.nan, dtype=np.float32)
            ends[0::3], ends[1::3] = xyz[pairs[:, 0]], xyz[pairs[:, 1]]
            xy = {"x": ends[:, 0], "y": ends[:, 1], **({"z": ends[:, 2]} if three_d else {})}
            fig.add_trace(
                trace_cls(
                    **xy,
                    mode="lines",
                    line={"color": "rgba(17,17,17,0.55)", "width": 1.5},
                    hoverinfo="skip",
                    name="links",
                    showlegend=False,
                )
            )

    if color is None:
        fig.add_trace(
            points(
                np.arange(n),
                marker={"size": msize, "color": PALETTE[0], "opacity": opacity},
                showlegend=False,
            )
        )
    elif _is_continuous(color):
        values = _f32(color)
        if values.shape != (n,):
            raise InputError(f"{values.size} colour values for {n} points.")
        fig.add_trace(
            points(
                np.arange(n),
                marker={
                    "size": msize,
                    "opacity": opacity,
                    "color": values,
                    "colorscale": SEQUENTIAL,
                    "showscale": True,
                    "colorbar": {
                        "title": {"text": short_label(color_title or "", 30)},
                        "thickness": 12,
                        "outlinewidth": 0,
                    },
                },
                showlegend=False,
            )
        )
    else:
        if colors is None:
            colors = category_colors(
                color, palette=palette, max_categories=max_categories, unassigned=unassigned
            )
        categories = names, codes, kept = _coded(color, n, colors, unassigned)
        uses: Counter = Counter()
        for code, (key, name) in enumerate(zip(kept, names, strict=True)):
            sel = np.flatnonzero(codes == code)
            colour = colors[key]
            # A colour given to several categories (a short palette passed on purpose): told
            # apart by the marker's shape.
            symbol = _SYMBOLS[uses[colour] % len(_SYMBOLS)]
            uses[colour] += 1
            fig.add_trace(
                points(
                    sel,
                    name=short_label(name, 30),
                    legendgroup=f"c{code}",
                    marker={"size": msize, "color": colour, "opacity": opacity, "symbol": symbol},
                )
            )
        other = np.flatnonzero(codes == -1)
        if other.size:
            fig.add_trace(
                points(
                    other,
                    name=f"other ({other.size})",
                    marker={"size": msize, "color": MUTED, "opacity": opacity * 0.7},
                )
            )
        left_out = np.flatnonzero(codes == _UNASSIGNED)
        if left_out.size:
            fig.add_trace(
                points(
                    left_out,
                    name=f"{short_label(unassigned, 24)} ({left_out.size:,})",
                    marker={"size": msize, "color": MUTED, "opacity": opacity * 0.7},
                )
            )
        show_legend = True

    if label_centres and categories is not None:
        names, codes, _ = categories
        centres = [
            (name, np.median(xyz[codes == code], axis=0), int((codes == code).sum()))
            for code, name in enumerate(names)
        ]
        centres = [c for c in centres if np.all(np.isfinite(c[1]))]
        if centres:
            at = np.stack([c for _, c, _ in centres])
            # On the map, the number and the first two terms (the legend has all three).
            text = [short_label(", ".join(str(name).split(", ")[:2]), 28) for name, _, _ in centres]
            if three_d:
                fig.add_trace(
                    go.Scatter3d(
                        x=at[:, 0],
                        y=at[:, 1],
                        z=at[:, 2],
                        mode="text",
                        text=text,
                        textfont={"size": 12, "color": "#1F2933"},
                        hoverinfo="skip",
                        name="names",
                        showlegend=False,
                    )
                )
            else:
                # Names kept apart: the largest clusters named first, the others moved beside
                # their centre or left to the legend (BERTopic's and datamapplot's maps do the same).
                # Annotations, not a text trace: above a WebGL map's canvas (which covers every SVG
                # trace, so names were hidden under 1,500 points), on a white ground.
                for i, spot in place_names(at, [size for _, _, size in centres], text, xyz[:, :2]):
                    fig.add_annotation(
                        x=float(at[i, 0]),
                        y=float(at[i, 1]),
                        text=text[i],
                        name=NAME_ANNOTATION,
                        showarrow=False,
                        font={"size": 12, "color": "#1F2933"},
                        bgcolor="rgba(255,255,255,0.72)",
                        borderpad=1,
                        **_SPOT_ANCHORS[spot],
                    )

    if emphasised is not None and emphasised.size:
        fig.add_trace(
            points(
                emphasised,
                name=f"matches ({emphasised.size:,})",
                marker={
                    "size": msize + 2,
                    "color": _QUERY_COLOR,
                    "opacity": 1.0,
                    "line": {"color": "#111111", "width": 1},
                },
                **({} if three_d else {"unselected": {"marker": {"opacity": 1}}}),
            )
        )
        show_legend = True

    if highlight is not None:
        hl = np.unique(np.asarray(list(highlight), dtype=np.int64))
        if hl.size and (hl.min() < 0 or hl.max() >= n):
            raise InputError(f"highlight holds indices outside 0..{n - 1}.")
        if hl.size:
            fig.add_trace(
                points(
                    hl,
                    name="neighbours",
                    # Plotly paints an open symbol's outline in the marker colour: it must be
                    # dark (in 3-D, where symbols cannot be open, a translucent halo).
                    marker={
                        "size": msize + 6,
                        "color": "rgba(17,17,17,0.3)" if three_d else "#111111",
                        "line": {"color": "#111111", "width": 2},
                        "symbol": "circle" if three_d else "circle-open",
                    },
                    # A selection fades unselected points; the outlines must stay visible.
                    **({} if three_d else {"unselected": {"marker": {"opacity": 1}}}),
                )
            )
            show_legend = True

    if focus is not None:
        row = int(focus)
        if not 0 <= row < n:
            raise InputError(f"focus {row} is outside 0..{n - 1}.")
        colour = PALETTE[0]
        if categories is not None:
            code = int(categories[1][row])
            colour = colors[categories[2][code]] if code >= 0 else MUTED
        fig.add_trace(
            points(
                np.array([row]),
                name="clicked text",
                # Its own colour, larger, ringed in black: found at a glance among its neighbours'
                # rings, and still the point it was.
                marker={
                    "size": msize + 8,
                    "color": colour,
                    "opacity": 1.0,
                    "line": {"color": "#111111", "width": 3},
                    "symbol": "circle",
                },
                showlegend=False,
                **({} if three_d else {"unselected": {"marker": {"opacity": 1}}}),
            )
        )

    if selected is not None:
        chosen = np.unique(np.asarray(list(selected), dtype=np.int64))
        if chosen.size and (chosen.min() < 0 or chosen.max() >= n):
            raise InputError(f"selected holds indices outside 0..{n - 1}.")
        if chosen.size and three_d:
            fig.add_trace(
                points(
                    chosen,
                    name=f"selected ({chosen.size:,})",
                    marker={"size": msize + 3, "color": "#111111", "opacity": 1.0},
                )
            )
            show_legend = True
        elif chosen.size:
            for trace in fig.data:
                if trace.customdata is None or trace.name in ("neighbours", "clicked text"):
                    continue
                trace.selectedpoints = np.flatnonzero(np.isin(trace.customdata, chosen)).tolist()

    if query_point is not None:
        qxy, qtext = query_point, query_text
        if isinstance(query_point, tuple) and len(query_point) == 2 and isinstance(query_point[1], str):
            qxy, qtext = query_point
        q = _f32(qxy).ravel()
        if q.shape != (dims,):
            raise InputError(f"query_point must have {dims} coordinates, got {q.size}.")
        label = short_label(qtext, 40) if qtext else "query"
        xy = {"x": q[:1], "y": q[1:2]}
        if three_d:
            xy["z"] = q[2:3]
        # Same trace family as the points: WebGL canvases are drawn above SVG
        # traces, so an SVG star would hide under a dense WebGL map.
        qcls = trace_cls
        marker = {
            "size": (size + 12) * (0.6 if three_d else 1),
            "color": _QUERY_COLOR,
            "symbol": "diamond" if three_d else "star",
            "line": {"color": "white", "width": 1.5},
        }
        common = {
            **xy,
            "name": "query",
            "hovertext": [hover_text(qtext or "query", max_chars=300)],
            "hovertemplate": "<b>query</b><br>%{hovertext}<extra></extra>",
            "marker": marker,
        }
        if three_d:
            common.update(mode="markers+text", text=[label], textposition="top center")
            common["textfont"] = {"size": 13, "color": _QUERY_COLOR}
            fig.add_trace(qcls(**common))
        else:
            fig.add_trace(qcls(**common, mode="markers", unselected={"marker": {"opacity": 1}}))
            # The label as an annotation: SVG on top of everything, with a
            # background so it stays legible over a dense map.
            fig.add_annotation(
                x=float(q[0]),
                y=float(q[1]),
                text=label,
                showarrow=True,
                arrowhead=0,
                arrowcolor=_QUERY_COLOR,
                ax=0,
                ay=-28,
                font={"size": 13, "color": _QUERY_COLOR},
                bgcolor="rgba(255,255,255,0.85)",
                bordercolor=_QUERY_COLOR,
                borderpad=3,
            )
        show_legend = True

    fig.update_layout(showlegend=show_legend, legend_title_text=short_label(color_title or "", 30) or None)
    if show_legend:
        # Above the plot, in rows: a column of names beside it took 150-250 px of the map's width
        # (in the explorer's main column, a third of it), and below it the legend was off the
        # first screen of a 1280 x 720 window.
        fig.update_layout(
            legend={
                "orientation": "h",
                "x": 0,
                "xanchor": "left",
                "y": 1.0,
                "yanchor": "bottom",
                # Title above the rows: "left" and "top left" indent every row by the title's
                # width, pushing the longest past the figure's right edge.
                "title": {"side": "top"},
            }
        )
    if three_d:
        hidden = {
            "showticklabels": False,
            "title": {"text": ""},
            "showspikes": False,
            "backgroundcolor": "white",
        }
        fig.update_layout(scene={"xaxis": hidden, "yaxis": hidden, "zaxis": hidden, "aspectmode": "data"})
    else:
        # Projection axes have no units: ticks would suggest a meaning they lack.
        fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, title_text="")
        fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, title_text="")
        fig.update_layout(dragmode=dragmode, clickmode="event+select")
    return _layout(fig, title=title, uirevision=uirevision, height=height or 600)


# --- bars, lines, histograms -----------------------------------------------------


def ranking_bar_figure(
    texts: Sequence[object],
    scores: Sequence[float] | np.ndarray,
    *,
    query: str | None = None,
    label_chars: int = 60,
    title: str | None = None,
    uirevision: object = "embedcore",
    height: int | None = None,
) -> go.Figure:
    """Horizontal bars of retrieval scores, best at the top.

    Parameters
    ----------
    texts : sequence of str, length k
        Retrieved texts, in any order (sorted here by score, descending).
    scores : array-like of shape (k,)
        Cosine similarity of each text to the query.
    query : str, optional
        Shown (escaped, truncated) in the title.
    label_chars : int
        Tick labels are truncated to this many characters and wrapped on two lines.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``go.Bar``; ``customdata`` = position in the *given* ``texts``.
    """
    s = _f32(scores).ravel()
    texts = _texts(texts, s.size, "texts")
    if s.size == 0:
        raise InputError("Nothing to rank: no results.")
    order = np.argsort(-s, kind="stable")
    # Numeric y with tick text: identical texts must stay separate bars
    # (categorical names would merge them).
    labels = [hover_text(texts[i], width=max(label_chars // 2, 10), max_chars=label_chars) for i in order]
    fig = go.Figure(
        go.Bar(
            x=s[order],
            y=np.arange(s.size, dtype=np.int32),
            orientation="h",
            customdata=order.astype(np.int32),
            hovertext=[hover_text(texts[i]) for i in order],
            hovertemplate="%{hovertext}<br><b>cosine %{x:.3f}</b><extra></extra>",
            texttemplate="%{x:.3f}",
            textposition="outside",
            cliponaxis=False,
            marker={"color": PALETTE[0]},
        )
    )
    lo = min(0.0, float(s.min()) - 0.05)
    fig.update_xaxes(
        title_text="cosine similarity", range=[lo, max(1.0, float(s.max())) + 0.08], zeroline=True
    )
    fig.update_yaxes(
        tickmode="array",
        tickvals=np.arange(s.size).tolist(),
        ticktext=labels,
        autorange="reversed",
        tickfont={"size": 12},
        showgrid=False,
    )
    if title is None and query is not None:
        title = f"Nearest to “{short_label(query, 60)}”"
    fig.update_layout(bargap=0.25)
    return _layout(fig, title=title, uirevision=uirevision, height=height or max(260, 48 + 44 * s.size))


def vector_figure(
    vector: Sequence[float] | np.ndarray,
    *,
    title: str | None = None,
    name: str = "vector",
    other: Sequence[float] | np.ndarray | None = None,
    other_name: str = "other",
    uirevision: object = "embedcore",
    height: int | None = None,
) -> go.Figure:
    """Values of an embedding by dimension (bars up to 128 dimensions, a line beyond).

    Parameters
    ----------
    vector : array-like of shape (d,)
    other : array-like of shape (d,), optional
        A second vector drawn over the first (e.g. another text's embedding).
    name, other_name : str
        Legend names (escaped).
    """
    v = _f32(vector).ravel()
    if v.size == 0:
        raise InputError("Nothing to draw: the vector is empty.")
    series = [(v, name, PALETTE[0])]
    if other is not None:
        o = _f32(other).ravel()
        if o.size != v.size:
            raise InputError(f"The two vectors differ in length ({v.size} vs {o.size}).")
        series.append((o, other_name, PALETTE[1]))
    dims = np.arange(v.size, dtype=np.int32)
    fig = go.Figure()
    for values, label, colour in series:
        common = {
            "x": dims,
            "y": values,
            "name": short_label(label, 40),
            "hovertemplate": "dim %{x}: %{y:.4f}<extra>%{fullData.name}</extra>",
        }
        if v.size <= 128:
            fig.add_trace(
                go.Bar(**common, marker={"color": colour}, opacity=0.85 if other is not None else 1)
            )
        else:
            fig.add_trace(go.Scatter(**common, mode="lines", line={"color": colour, "width": 1}))
    fig.update_xaxes(title_text="dimension", zeroline=False)
    fig.update_yaxes(title_text="value", zeroline=True)
    fig.update_layout(showlegend=other is not None, barmode="overlay", bargap=0.1)
    return _layout(fig, title=title, uirevision=uirevision, height=height or 320)


def similarity_histogram(
    sim: np.ndarray,
    *,
    bins: int = 60,
    title: str | None = None,
    uirevision: object = "embedcore",
    height: int | None = None,
) -> go.Figure:
    """Distribution of off-diagonal pair similarities (each unordered pair once).

    Binned here in numpy and drawn as bars, so the figure carries ``bins``
    numbers instead of n²/2 values.

    Parameters
    ----------
    sim : ndarray of shape (n, n), symmetric
    bins : int
        Equal-width bins over [-1, 1].
    """
    sim = np.asarray(sim)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise InputError(f"A similarity histogram needs a square matrix, got shape {sim.shape}.")
    n = sim.shape[0]
    if n < 2:
        raise InputError("A similarity histogram needs at least two texts.")
    edges = np.linspace(-1.0, 1.0, bins + 1)
    # For a symmetric matrix, (all cells − diagonal) / 2 counts each pair once,
    # without materialising n²/2 triangle indices (10k texts: 800 MB of int64).
    clipped = np.clip(sim, -1.0, 1.0)
    counts = np.histogram(clipped, bins=edges)[0] - np.histogram(np.diagonal(clipped), bins=edges)[0]
    counts = counts // 2
    centres = _f32((edges[:-1] + edges[1:]) / 2)
    fig = go.Figure(
        go.Bar(
            x=centres,
            y=counts.astype(np.int64),
            width=float(edges[1] - edges[0]),
            marker={"color": PALETTE[0], "line": {"width": 0}},
            customdata=np.column_stack([edges[:-1], edges[1:]]).astype(np.float32),
            hovertemplate="cosine %{customdata[0]:.2f} to %{customdata[1]:.2f}: %{y:,} pairs<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="cosine similarity", range=[-1, 1])
    fig.update_yaxes(title_text="pairs")
    fig.update_layout(bargap=0)
    return _layout(fig, title=title, uirevision=uirevision, height=height or 300)


# --- model comparison and alignment -----------------------------------------------


def _sample_pairs(n: int, max_pairs: int, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs i < j: all of them when few enough, else a reproducible uniform sample."""
    total = n * (n - 1) // 2
    if total <= max_pairs:
        i, j = np.triu_indices(n, k=1)
        return i, j
    rng = np.random.default_rng(random_state)
    # Draw codes of ordered pairs, dedupe, keep i < j; oversample so one round almost always suffices.
    got = np.empty(0, dtype=np.int64)
    while got.size < max_pairs:
        a = rng.integers(0, n, size=2 * max_pairs)
        b = rng.integers(0, n, size=2 * max_pairs)
        keep = a != b
        lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
        got = np.unique(np.concatenate([got, lo * n + hi]))
    got = rng.permutation(got)[:max_pairs]
    got.sort()
    return got // n, got % n


def _pair_cosines(X: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Cosine of rows ``i[k]`` and ``j[k]`` for each k, without an n × n matrix (float32)."""
    from embedcore.analysis.similarity import normalize_rows

    Xn = normalize_rows(X)
    out = np.empty(i.size, dtype=np.float32)
    for start in range(0, i.size, chunk):
        a, b = i[start : start + chunk], j[start : start + chunk]
        out[start : start + chunk] = np.einsum("ij,ij->i", Xn[a], Xn[b])
    return np.clip(out, -1.0, 1.0, out=out)


def agreement_scatter(
    vectors_a: np.ndarray,
    vectors_b: np.ndarray,
    texts: Sequence[object],
    names: Sequence[str] = ("model A", "model B"),
    *,
    max_pairs: int = 20_000,
    random_state: int = 0,
    hover_chars: int = 48,
    title: str | None = None,
    uirevision: object = "embedcore",
    height: int | None = None,
) -> go.Figure:
    """Each pair of texts: its cosine similarity under model A (x) against model B (y).

    Points on the diagonal are pairs both models judge alike. Each pair is drawn once
    (i < j); above ``max_pairs`` pairs a reproducible uniform sample of them, so the browser
    gets at most that many WebGL points. Only the sampled pairs' cosines are computed: no
    n × n matrix, whatever the number of texts.

    Parameters
    ----------
    vectors_a : ndarray of shape (n, d_a)
    vectors_b : ndarray of shape (n, d_b)
        The same ``n`` texts under two models; the dimensions may differ (each model's
        vectors are only ever compared with its own).
    texts : sequence of str, length n
    names : (str, str)
        Model names for the axes.
    max_pairs : int
        Most points drawn.
    random_state : int
        Seed of the pair sample.

    Returns
    -------
    plotly.graph_objects.Figure
        ``customdata`` holds ``(i, j)`` row pairs (int32, shape (m, 2)). Both axes span the
        same range, fitted to the data within [-1, 1], at equal scale.

    Raises
    ------
    InputError
        When the two sets of vectors are not of the same texts, or there are fewer than two.
    """
    A, B = np.asarray(vectors_a), np.asarray(vectors_b)
    if A.ndim != 2 or B.ndim != 2 or A.shape[0] != B.shape[0]:
        raise InputError(
            f"Both models must embed the same texts, one vector per text: got shapes {A.shape} and {B.shape}."
        )
    n = A.shape[0]
    texts = _texts(texts, n)
    if n < 2:
        raise InputError("Comparing pairs needs at least two texts.")
    i, j = _sample_pairs(n, max_pairs, random_state)
    x, y = _pair_cosines(A, i, j), _pair_cosines(B, i, j)
    short = [hover_text(t, width=50, max_chars=hover_chars) for t in texts]
    hover = [f"{short[a]}<br><b>×</b><br>{short[b]}" for a, b in zip(i.tolist(), j.tolist(), strict=True)]
    name_a, name_b = (short_label(v, 40) for v in names)
    fig = go.Figure(
        go.Scattergl(
            x=x,
            y=y,
            mode="markers",
            marker={"size": 4, "color": PALETTE[0], "opacity": 0.45},
            customdata=np.column_stack([i, j]).astype(np.int32),
            hovertext=hover,
            hovertemplate=f"%{{hovertext}}<br>{name_a}: %{{x:.3f}}<br>{name_b}: %{{y:.3f}}<extra></extra>",
            showlegend=False,
        )
    )
    lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    pad = 0.03 * (hi - lo) + 0.01
    span = [max(-1.0, lo - pad), min(1.0, hi + pad)]
    fig.add_shape(
        type="line",
        x0=span[0],
        y0=span[0],
        x1=span[1],
        y1=span[1],
        line={"color": MUTED, "dash": "dot", "width": 1},
    )
    # Equal scales (the diagonal at 45°) by shrinking the plot to a square, never by widening
    # the x range past the data on a wide page.
    fig.update_xaxes(title_text=f"cosine · {name_a}", range=span, constrain="domain")
    fig.update_yaxes(title_text=f"cosine · {name_b}", range=span, scaleanchor="x", scaleratio=1)
    if title is None and i.size < n * (n - 1) // 2:
        title = f"{i.size:,} of {n * (n - 1) // 2:,} pairs (random sample)"
    fig.update_layout(dragmode="zoom")
    return _layout(fig, title=title, uirevision=uirevision, height=height or 520)


def alignment_figure(
    coords: np.ndarray,
    languages: Sequence[object],
    sentence_ids: Sequence[object],
    texts: Sequence[object],
    *,
    size: float = 7,
    webgl_threshold: int = 1000,
    show_links: bool = True,
    title: str | None = None,
    uirevision: object = "embedcore",
    height: int | None = None,
) -> go.Figure:
    """Map coloured by language, with thin lines joining translations of one sentence.

    Short lines mean the model puts translations together (good cross-lingual
    alignment); clusters by colour mean it groups by language instead.

    Parameters
    ----------
    coords : ndarray of shape (n, 2)
    languages : sequence of length n
        Language of each text (e.g. ``"de"``).
    sentence_ids : sequence of length n
        Texts sharing an id are translations of each other.
    texts : sequence of str, length n

    Returns
    -------
    plotly.graph_objects.Figure
        First trace: the links (no hover, no customdata); then one marker
        trace per language with ``customdata`` = row index.
    """
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise InputError(f"coords must have shape (n, 2), got {coords.shape}.")
    n = coords.shape[0]
    languages = _texts(languages, n, "languages")
    sentence_ids = _texts(sentence_ids, n, "sentence ids")
    xy = _f32(coords)

    links_x: list[float | None] = []
    links_y: list[float | None] = []
    if show_links:
        groups: dict[object, list[int]] = {}
        for row, sid in enumerate(sentence_ids):
            groups.setdefault(sid, []).append(row)
        for members in groups.values():
            if len(members) < 2:
                continue
            # A star from the group's first member (its first language): n−1
            # segments per sentence, instead of a chain whose shape would
            # depend on row order.
            hub = members[0]
            for other in members[1:]:
                links_x += [float(xy[hub, 0]), float(xy[other, 0]), None]
                links_y += [float(xy[hub, 1]), float(xy[other, 1]), None]
    fig = scatter_figure(
        coords,
        texts,
        color=[str(x) for x in languages],
        color_title="language",
        size=size,
        opacity=0.9,
        webgl_threshold=webgl_threshold,
        max_categories=len(PALETTE) * len(_SYMBOLS),
        title=title,
        uirevision=uirevision,
        height=height,
    )
    if links_x:
        # Lists with None gaps (not typed arrays): the gaps must survive as JSON nulls.
        line_cls = go.Scattergl if n > webgl_threshold else go.Scatter
        links = line_cls(
            x=[None if v is None else round(v, 5) for v in links_x],
            y=[None if v is None else round(v, 5) for v in links_y],
            mode="lines",
            line={"color": "rgba(120,120,120,0.35)", "width": 1},
            hoverinfo="skip",
            name="translations",
            showlegend=True,
        )
        fig.add_trace(links)
        # Lines under the points.
        fig.data = (fig.data[-1], *fig.data[:-1])
    # A short list of languages, beside the map (scatter_figure's rows above it ran past the
    # right edge of the page's narrow column).
    fig.update_layout(legend={"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"})
    return fig


# --- a small annotated matrix ---------------------------------------------------------------


def matrix_figure(
    values: np.ndarray,
    labels: Sequence[object],
    *,
    counts: np.ndarray | None = None,
    zrange: tuple[float, float] = (0.0, 1.0),
    value_name: str = "accuracy",
    row_title: str = "from",
    col_title: str = "to",
    percent: bool = True,
    showscale: bool = False,
    title: str | None = None,
    uirevision: object = "embedcore",
    height: int | None = None,
) -> go.Figure:
    """A small annotated square matrix (e.g. language × language retrieval accuracy).

    Parameters
    ----------
    values : ndarray of shape (m, m)
        NaN cells (the diagonal, pairs without data) are left blank.
    labels : sequence of length m
        Row and column names (escaped).
    counts : ndarray of shape (m, m) of int, optional
        Shown on hover ("n trials").
    zrange : (float, float)
        Fixed colour limits, so the same colour means the same value across models.
    value_name : str
        Hover and colour-bar title.
    row_title, col_title : str
        Axis titles.
    percent : bool
        Cell text as percentages (else three decimals).
    showscale : bool
        Draw a colour bar (off by default: every cell prints its value).

    Returns
    -------
    plotly.graph_objects.Figure
        One ``go.Heatmap``; row 0 at the top.
    """
    z = np.asarray(values, dtype=np.float64)
    names = [short_label(label, 20) for label in labels]
    m = len(names)
    if z.shape != (m, m):
        raise InputError(f"A {m}-label matrix needs values of shape ({m}, {m}), got {z.shape}.")
    if m == 0:
        raise InputError("Nothing to draw: the matrix is empty.")
    fmt = ".0%" if percent else ".3f"
    custom = None
    hover = f"{row_title} %{{y}} {col_title} %{{x}}<br>{value_name} %{{z:{fmt}}}"
    if counts is not None:
        c = np.asarray(counts)
        if c.shape != (m, m):
            raise InputError(f"counts must have shape ({m}, {m}), got {c.shape}.")
        custom = c.astype(np.int64)
        hover += " (%{customdata:,} trials)"
    # Typed lists with None (not NaN) so the blank cells survive JSON as nulls.
    zlist = [[None if not np.isfinite(v) else float(v) for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=zlist,
            x=names,
            y=names,
            zmin=float(zrange[0]),
            zmax=float(zrange[1]),
            colorscale=SEQUENTIAL,
            customdata=custom,
            texttemplate=f"%{{z:{fmt}}}",
            hovertemplate=hover + "<extra></extra>",
            hoverongaps=False,  # the blank diagonal is "no data", not "0 %"
            showscale=showscale,
            colorbar={"title": {"text": short_label(value_name, 20)}, "thickness": 12, "outlinewidth": 0},
            xgap=2,
            ygap=2,
        )
    )
    fig.update_xaxes(title_text=col_title, side="top", showgrid=False, type="category")
    fig.update_yaxes(
        title_text=row_title, autorange="reversed", showgrid=False, type="category", scaleanchor="x"
    )
    # The column labels and their title sit above the grid: room for them below the modebar.
    return _layout(
        fig, title=title, uirevision=uirevision, height=height or max(300, 140 + 48 * m), top_extra=64
    )
