"""Bars, vectors and histograms: a ranking, one vector's values, the spread of similarities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from embedcore.errors import InputError
from embedcore.figures.labels import hover_text, short_label
from embedcore.figures.style import PALETTE, as_float32, base_layout, checked_texts

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

    Examples
    --------
    >>> fig = ranking_bar_figure(["a", "b"], [0.9, 0.5], query="q")
    >>> fig.data[0].type, [round(float(x), 2) for x in fig.data[0].x]  # sent as float32
    ('bar', [0.9, 0.5])
    """
    s = as_float32(scores).ravel()
    texts = checked_texts(texts, s.size, "texts")
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
    return base_layout(fig, title=title, uirevision=uirevision, height=height or max(260, 48 + 44 * s.size))


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

    Examples
    --------
    >>> fig = vector_figure([0.1, -0.2, 0.3], name="a text")
    >>> fig.data[0].type, len(fig.data[0].y)
    ('bar', 3)
    """
    v = as_float32(vector).ravel()
    if v.size == 0:
        raise InputError("Nothing to draw: the vector is empty.")
    series = [(v, name, PALETTE[0])]
    if other is not None:
        o = as_float32(other).ravel()
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
    return base_layout(fig, title=title, uirevision=uirevision, height=height or 320)


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

    Examples
    --------
    >>> import numpy as np
    >>> fig = similarity_histogram(np.array([[1, 0.2, 0.9], [0.2, 1, 0.1], [0.9, 0.1, 1]]))
    >>> fig.data[0].type
    'bar'
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
    centres = as_float32((edges[:-1] + edges[1:]) / 2)
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
    return base_layout(fig, title=title, uirevision=uirevision, height=height or 300)
