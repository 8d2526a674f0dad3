"""The map figure's reuse: hover texts made once per data set, figures frozen once per signature, marks.

Every change to the map (a search, a click, a colour) redraws it; what can be kept is kept in
:mod:`ui.common.cached`, keyed by everything the figure shows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embedcore.figures.frozen import frozen
from ui.common import cached


def hover_texts(texts: Sequence[str], digest: str) -> np.ndarray:
    """:func:`embedcore.figures.labels.hover_texts` of ``texts``, made once per data set (``digest`` of its vectors).

    Every change to the map (a search, a click, a colour) redraws it; making 100,000 hover
    texts again each time took 2-3 s of the redraw.
    """
    return cached.hover_texts(digest, len(texts), texts)


def cached_figure(key: tuple, build):
    """``build()`` once per ``key`` (hashable, describing everything the figure shows), frozen.

    Frozen (:func:`embedcore.figures.frozen.frozen`): the same map is shown again on most reruns,
    and serialising a 100k-point map anew each time took 0.3-0.45 s of every click.
    """
    return cached.figure(key, lambda: frozen(build()))


def mark_selected(fig, rows: Sequence[int] | None):
    """Show ``rows`` as selected in a map from :func:`embedcore.figures.scatter.scatter_figure` (in place).

    Streamlit remounts a chart whose figure changed, which drops the selection the user drew;
    setting Plotly's ``selectedpoints`` (positions within each trace, found through the
    row index in ``customdata``) draws it again. The query star and neighbour rings are left
    as they are.
    """
    if not rows:
        return fig
    wanted = np.asarray(sorted(rows), dtype=np.int64)
    for trace in fig.data:
        if trace.name in ("query", "neighbours", "clicked text") or trace.customdata is None:
            continue
        ids = np.asarray(trace.customdata).reshape(len(trace.customdata), -1)[:, 0]
        trace.selectedpoints = np.flatnonzero(np.isin(ids, wanted)).tolist()
    return fig
