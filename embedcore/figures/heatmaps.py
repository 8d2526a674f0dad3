"""Similarity heatmaps: the full matrix, label blocks, and one row against the rest."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from embedcore.errors import InputError, TooManyTextsError
from embedcore.figures.colours import category_colors
from embedcore.figures.labels import hover_text, short_label
from embedcore.figures.style import (
    DIVERGING,
    MODEBAR_CLEARANCE,
    MUTED,
    as_float32,
    base_layout,
    checked_texts,
)

#: Largest heatmap side drawn by default: beyond ~300 rows a cell is under two
#: pixels on a laptop screen, so more rows would ship bytes nobody can see.
HEATMAP_LIMIT = 300
#: Largest side accepted even when a caller raises ``max_cells_side``: 1000² is
#: already ~5 MB of JSON (2000² measured at 23 MB, see docs/FACTS.md).
HEATMAP_HARD_LIMIT = 1000


class HeatmapTooLargeError(TooManyTextsError):
    """More rows than a heatmap can show; the UI should fall back to a top-pairs table.

    Attributes
    ----------
    n : int
        Rows asked for.
    limit : int
        Largest side allowed.

    Examples
    --------
    >>> import numpy as np
    >>> try:
    ...     heatmap_figure(np.eye(4), list("abcd"), max_cells_side=3)
    ... except HeatmapTooLargeError as error:
    ...     print(error.n, error.limit)
    4 3
    """

    def __init__(self, n: int, limit: int) -> None:
        super().__init__(
            f"Too many texts for a heatmap ({n} > {limit}): showing the most similar pairs instead. "
            f"Select up to {limit} texts to see the heatmap."
        )
        self.n = n
        self.limit = limit


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


def _cosine_heatmap(
    z: np.ndarray, labels: Sequence[object], zrange: tuple[float, float], what: str, hover: str, gap: int
) -> go.Heatmap:
    """A square heatmap of cosines on the diverging scale (white at 0 when the range spans it)."""
    zmin, zmax = zrange
    return go.Heatmap(
        z=z,
        x=labels,
        y=labels,
        zmin=zmin,
        zmax=zmax,
        zmid=0.0 if zmin < 0 < zmax else None,
        colorscale=DIVERGING,
        colorbar={"title": {"text": what}, "thickness": 12, "outlinewidth": 0},
        hovertemplate=hover,
        xgap=gap,
        ygap=gap,
    )


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

    Examples
    --------
    >>> import numpy as np
    >>> fig = heatmap_figure(np.eye(3), ["a", "b", "c"])
    >>> [trace.type for trace in fig.data], fig.data[0].z.shape
    (['heatmap'], (3, 3))
    """
    sim = _square(sim)
    n = sim.shape[0]
    texts = checked_texts(texts, n)
    idx = _heatmap_rows(n, order, max_cells_side)
    m = idx.size
    z = as_float32(sim[np.ix_(idx, idx)])
    zmin, zmax = _heatmap_range(z) if isinstance(zrange, str) and zrange == "data" else map(float, zrange)
    hover, axis = _heatmap_axes(texts, idx, max_tick_labels)
    fig = go.Figure(
        _cosine_heatmap(z, hover, (zmin, zmax), "cosine", _HEATMAP_HOVER, gap=1 if m <= 40 else 0)
    )
    fig.update_xaxes(**axis, tickangle=-45, constrain="domain")
    # Row 0 at the top (matrix reading order) and square cells. When the figure is taller than
    # the square, the grid moves up against the title instead of floating in a blank band.
    fig.update_yaxes(
        **axis, autorange="reversed", scaleanchor="x", scaleratio=1, constrain="domain", constraintoward="top"
    )
    band = 0
    if groups is not None:
        groups = checked_texts(groups, n, "groups")
        band = _group_bands(fig, [groups[i] for i in idx], group_colors or category_colors(groups))
    return base_layout(fig, title=title, uirevision=uirevision, height=height or 640, top_extra=band)


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
        :func:`embedcore.analysis.groups.block_means` computes it.
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

    Examples
    --------
    >>> import numpy as np
    >>> fig = block_heatmap_figure(np.array([[1.0, 0.2], [0.2, 1.0]]), ["music", "sports"], [3, 2])
    >>> fig.data[0].type
    'heatmap'
    """
    z = as_float32(_square(means))
    g = z.shape[0]
    names = checked_texts(names, g, "group names")
    sizes = [int(v) for v in checked_texts(sizes, g, "group sizes")]
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
    hover = "%{y}<br><b>×</b><br>%{x}<br><b>mean cosine %{z:.3f}</b><extra></extra>"
    fig = go.Figure(_cosine_heatmap(z, categories, (zmin, zmax), "mean cosine", hover, gap=1))
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
    return base_layout(fig, title=title, uirevision=uirevision, height=height or 640, top_extra=band)


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

    Examples
    --------
    >>> import numpy as np
    >>> fig = heatmap_row([np.eye(3), np.eye(3)], ["model A", "model B"], ["a", "b", "c"])
    >>> [trace.type for trace in fig.data]
    ['heatmap', 'heatmap']
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
    texts = checked_texts(texts, n)
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
                z=as_float32(sim[np.ix_(idx, idx)]),
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
    fig = base_layout(
        fig, title=None, uirevision=uirevision, height=height or side + MODEBAR_CLEARANCE + 40, top_extra=24
    )
    return fig


# --- scatter ---------------------------------------------------------------------
