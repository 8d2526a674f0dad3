"""The Evaluate page's figure: each model's metrics with their bootstrap confidence intervals.

Examples
--------
>>> import pandas as pd
>>> table = pd.DataFrame(
...     {"model": ["a", "b"], "metric": ["spearman"] * 2, "value": [0.8, 0.7],
...      "ci_low": [0.75, 0.64], "ci_high": [0.84, 0.76]})
>>> fig = metrics_figure(table)
>>> [trace.name for trace in fig.data]
['a', 'b']
>>> error = fig.data[0].error_y  # the interval's reach above and below the value
>>> [round(float(v), 2) for v in error.array], [round(float(v), 2) for v in error.arrayminus]
([0.04], [0.05])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from embedcore.errors import InputError
from embedcore.figures.style import PALETTE, TEMPLATE

__all__ = ["metrics_figure"]


def metrics_figure(
    table: pd.DataFrame,
    *,
    metrics: Sequence[str] | None = None,
    title: str | None = None,
    height: int = 380,
) -> go.Figure:
    """Dots for each model's value of each metric, whiskers for its confidence interval.

    Parameters
    ----------
    table : DataFrame
        ``model``, ``metric``, ``value``, ``ci_low``, ``ci_high`` — one row per model and metric
        (:meth:`embedcore.evaluation.Evaluation.table`).
    metrics : sequence of str, optional
        Which metrics, in this order (default: all, in the table's order).

    Returns
    -------
    plotly.graph_objects.Figure
        One trace per model (its colour fixed by its position), metrics along x; models side by
        side within a metric, so overlapping intervals read as "no clear difference".
    """
    missing = {"model", "metric", "value", "ci_low", "ci_high"} - set(table.columns)
    if missing:
        raise InputError(f"The metrics table lacks {', '.join(sorted(missing))}.")
    order = list(metrics) if metrics is not None else list(dict.fromkeys(table["metric"]))
    models = list(dict.fromkeys(table["model"]))
    fig = go.Figure()
    width = 0.5 / max(len(models), 1)
    for i, model in enumerate(models):
        rows = table[table["model"] == model].set_index("metric").reindex(order)
        value = rows["value"].to_numpy(float)
        x = np.arange(len(order)) + (i - (len(models) - 1) / 2) * width
        fig.add_trace(
            go.Scatter(
                x=x,
                y=value,
                mode="markers",
                name=model,
                marker={"size": 11, "color": PALETTE[i % len(PALETTE)]},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": rows["ci_high"].to_numpy(float) - value,
                    "arrayminus": value - rows["ci_low"].to_numpy(float),
                    "thickness": 2,
                    "width": 6,
                },
                customdata=np.stack([rows["ci_low"], rows["ci_high"]], axis=-1),
                text=order,
                hovertemplate=(
                    f"<b>{model}</b><br>%{{text}} = %{{y:.3f}}<br>"
                    "95% interval %{customdata[0]:.3f} – %{customdata[1]:.3f}<extra></extra>"
                ),
            )
        )
    low = float(np.nanmin(table["ci_low"].to_numpy(float))) if len(table) else 0.0
    fig.update_layout(
        template=TEMPLATE,
        height=height,
        title=title,
        legend={"orientation": "h", "y": -0.15},
        margin={"t": 40 if title else 20},
        xaxis={"tickmode": "array", "tickvals": list(range(len(order))), "ticktext": order},
        # Correlations may be negative; the rest live in [0, 1].
        yaxis={"range": [min(0.0, low) - 0.02, 1.02], "title": "score"},
    )
    return fig
