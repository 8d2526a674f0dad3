"""A small annotated square matrix figure (e.g. language × language retrieval accuracy).

Same conventions as :mod:`embedcore.charts` (its template, escaped labels, uirevision); a
candidate to merge into it once the work in flight there has landed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from .charts import SEQUENTIAL, _layout, short_label
from .errors import InputError

__all__ = ["matrix_figure"]


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
