"""Category colours: which colour each label or cluster gets, the same on every figure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from embedcore.errors import InputError
from embedcore.figures.style import MANY_PALETTE_NAME, MUTED, PALETTE, QUERY_COLOR

UNASSIGNED = -2


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
        code_of[unassigned] = UNASSIGNED
    codes = np.fromiter((code_of.get(v, -1) for v in values), dtype=np.int64, count=n)
    return [names[k] for k in kept], codes


def many_palette(count: int) -> tuple[str, ...]:
    """``count`` colours that stay distinct in large numbers (colorcet's Glasbey, see
    :data:`MANY_PALETTE_NAME`), leaving out any too close to the query's red.

    Examples
    --------
    >>> many_palette(3)
    ('#8C3BFF', '#018700', '#00ACC6')
    """
    import colorcet

    def rgb(colour: str) -> np.ndarray:
        return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)

    query = rgb(QUERY_COLOR)
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

    Examples
    --------
    >>> category_colors(["b", "a", "b"])
    {'b': '#0072B2', 'a': '#E69F00'}
    """
    values = list(values)
    names, codes = _categories(values, len(values), max_categories, unassigned, order)
    code_of = dict(zip(values, codes.tolist(), strict=True))
    if len(names) > len(palette):
        palette = many_palette(len(names))
    # In legend order: the categories, then "other", then the unassigned.
    ordered = sorted(code_of, key=lambda v: (code_of[v] < 0, abs(code_of[v])))
    return {v: palette[code_of[v] % len(palette)] if code_of[v] >= 0 else MUTED for v in ordered}


def coded_categories(
    color: Sequence[object], n: int, colors: Mapping[object, str], unassigned: object
) -> tuple[list[str], np.ndarray, list[object]]:
    """The categories of ``colors`` present in ``color`` (legend order): names, each row's code
    (-1 "other": a value ``colors`` leaves grey or lacks; -2 ``unassigned``), and the values.

    Examples
    --------
    >>> names, codes, kept = coded_categories(["a", "b", "z"], 3, {"a": "#000000", "b": "#111111"}, None)
    >>> names, codes.tolist()
    (['a', 'b'], [0, 1, -1])
    """
    values = list(color)
    if len(values) != n:
        raise InputError(f"{len(values)} colour values for {n} points.")
    present = set(values)
    kept = [k for k, c in colors.items() if c != MUTED and k != unassigned and k in present]
    code_of = {k: i for i, k in enumerate(kept)}
    if unassigned is not None:
        code_of[unassigned] = UNASSIGNED
    codes = np.fromiter((code_of.get(v, -1) for v in values), dtype=np.int64, count=n)
    numeric = all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in kept)
    return [f"cluster {k}" if numeric else str(k) for k in kept], codes, kept


#: The plot area a map's names are kept apart in, in pixels (width, height): the explorer's map on
#: a 1280-px window (~540 x 530) less a margin, less the rows of a long legend above the plot
