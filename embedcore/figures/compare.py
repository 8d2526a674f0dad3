"""Model comparison and alignment figures: two models' similarities, aligned maps, a score matrix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from embedcore.errors import InputError
from embedcore.figures.labels import hover_text, short_label
from embedcore.figures.scatter import scatter_figure
from embedcore.figures.style import (
    MUTED,
    PALETTE,
    SEQUENTIAL,
    SYMBOLS,
    as_float32,
    base_layout,
    checked_texts,
)

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

    Examples
    --------
    >>> import numpy as np
    >>> A = np.random.default_rng(0).normal(size=(5, 4))
    >>> fig = agreement_scatter(A, 2 * A, list("abcde"), names=("model A", "model B"))
    >>> len(fig.data[0].x)  # one point per pair of texts: 5 * 4 / 2
    10
    """
    A, B = np.asarray(vectors_a), np.asarray(vectors_b)
    if A.ndim != 2 or B.ndim != 2 or A.shape[0] != B.shape[0]:
        raise InputError(
            f"Both models must embed the same texts, one vector per text: got shapes {A.shape} and {B.shape}."
        )
    n = A.shape[0]
    texts = checked_texts(texts, n)
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
    return base_layout(fig, title=title, uirevision=uirevision, height=height or 520)


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

    Examples
    --------
    >>> import numpy as np
    >>> coords = np.array([[0, 0], [0.1, 0], [1, 1], [1.1, 1.0]])
    >>> fig = alignment_figure(coords, ["en", "de", "en", "de"], [1, 1, 2, 2], list("abcd"))
    >>> [trace.name for trace in fig.data]
    ['translations', 'de', 'en']
    """
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise InputError(f"coords must have shape (n, 2), got {coords.shape}.")
    n = coords.shape[0]
    languages = checked_texts(languages, n, "languages")
    sentence_ids = checked_texts(sentence_ids, n, "sentence ids")
    xy = as_float32(coords)

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
        max_categories=len(PALETTE) * len(SYMBOLS),
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

    Examples
    --------
    >>> import numpy as np
    >>> matrix_figure(np.array([[1.0, 0.5], [0.5, 1.0]]), ["en", "de"]).data[0].type
    'heatmap'
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
    return base_layout(
        fig, title=title, uirevision=uirevision, height=height or max(300, 140 + 48 * m), top_extra=64
    )
