"""The 2-D / 3-D map (:func:`scatter_figure`) and reading a selection back (:func:`selected_rows`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from embedcore.errors import InputError
from embedcore.figures.colours import UNASSIGNED, category_colors, coded_categories
from embedcore.figures.labels import hover_text, hover_texts, opacity_for, short_label
from embedcore.figures.names import NAME_ANNOTATION, SPOT_ANCHORS, place_names
from embedcore.figures.style import (
    MUTED,
    PALETTE,
    QUERY_COLOR,
    SEQUENTIAL,
    SYMBOLS,
    as_float32,
    base_layout,
    checked_texts,
)


def selected_rows(selection: Mapping[str, Any] | None) -> list[int]:
    """Row indices from a Plotly / Streamlit selection event, sorted and unique.

    Reads each point's ``customdata`` (where :func:`scatter_figure`,
    :func:`alignment_figure` and :func:`agreement_scatter` put the row index),
    never ``point_index``, which counts within one trace. Accepts the event
    returned by ``st.plotly_chart(on_select="rerun")``, its ``selection`` part,
    or ``None``. Points without customdata (the query star) are ignored.

    Examples
    --------
    >>> selected_rows({"selection": {"points": [{"customdata": [2]}, {"customdata": [0]}, {"customdata": [2]}]}})
    [0, 2]
    >>> selected_rows(None)
    []
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

    Examples
    --------
    >>> import numpy as np
    >>> fig = scatter_figure(np.array([[0, 0], [1, 1], [2, 2.0]]), ["a", "b", "c"], color=["x", "y", "x"])
    >>> [(trace.name, trace.customdata.tolist()) for trace in fig.data]
    [('x', [0, 2]), ('y', [1])]
    """
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] not in (2, 3):
        raise InputError(f"coords must have shape (n, 2) or (n, 3), got {coords.shape}.")
    n, dims = coords.shape
    if n == 0:
        raise InputError("Nothing to draw: no points.")
    if opacity is None:
        opacity = opacity_for(n)
    texts = checked_texts(texts, n)
    xyz = as_float32(coords)
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
        values = as_float32(color)
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
        categories = names, codes, kept = coded_categories(color, n, colors, unassigned)
        uses: Counter = Counter()
        for code, (key, name) in enumerate(zip(kept, names, strict=True)):
            sel = np.flatnonzero(codes == code)
            colour = colors[key]
            # A colour given to several categories (a short palette passed on purpose): told
            # apart by the marker's shape.
            symbol = SYMBOLS[uses[colour] % len(SYMBOLS)]
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
        left_out = np.flatnonzero(codes == UNASSIGNED)
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
                        **SPOT_ANCHORS[spot],
                    )

    if emphasised is not None and emphasised.size:
        fig.add_trace(
            points(
                emphasised,
                name=f"matches ({emphasised.size:,})",
                marker={
                    "size": msize + 2,
                    "color": QUERY_COLOR,
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
        q = as_float32(qxy).ravel()
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
            "color": QUERY_COLOR,
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
            common["textfont"] = {"size": 13, "color": QUERY_COLOR}
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
                arrowcolor=QUERY_COLOR,
                ax=0,
                ay=-28,
                font={"size": 13, "color": QUERY_COLOR},
                bgcolor="rgba(255,255,255,0.85)",
                bordercolor=QUERY_COLOR,
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
    return base_layout(fig, title=title, uirevision=uirevision, height=height or 600)
