"""Where cluster names are written on a 2-D map so that they do not overlap."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

#: (13 clusters took ~100 px of its height) and less the padding Plotly adds around the points.
#: A larger plot only spreads the names further apart.
NAMES_PLOT_PX = (440.0, 340.0)
#: ``name`` of the annotations that write cluster names on a 2-D map.
NAME_ANNOTATION = "cluster name"
#: How an annotation sits at each of :data:`_NAME_SPOTS` (its anchor and a small shift, in px).
SPOT_ANCHORS = {
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

    Examples
    --------
    >>> import numpy as np
    >>> corners = np.array([[0.0, 0.0], [10.0, 10.0]])
    >>> place_names(corners, [5, 3], ["music", "sports"], corners)
    [(0, 'middle right'), (1, 'middle left')]
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
