"""The explorer's maps: a method from the registry, computed in the script run, queued, or in the
background (:mod:`ui.explorer.jobs`), and cached across reruns and sessions (:mod:`ui.common.cached`).

What each method needs (a preview first, queueing, a point limit, its caption) is read from its
registration (:class:`embedcore.analysis.methods.ProjectionMethod`); nothing here names a method
but PCA, the fallback every map has.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from embedcore.analysis.explore import QueryPlacement
from embedcore.analysis.projection import ProjectionResult, get_method
from embedcore.errors import ProjectionInputError
from embedcore.memo import Memo
from ui.common import cached
from ui.common.cached import projection_result
from ui.common.format import plural
from ui.common.queueing import heavy_work
from ui.explorer import jobs

#: The map every view can fall back to: instant, linear, from one text up.
FALLBACK = "pca"

#: Keys of projections already computed in this process: tells the page whether a slow map will
#: come straight from the cache or is worth a PCA preview first. If Streamlit evicted one, the
#: only cost is a missing preview.
COMPUTED: Memo[bool] = Memo(maxsize=512)


def projection_key(digest: str, method: str, n_components: int, random_state: int, params: Mapping) -> tuple:
    """Every input of a map: the vectors' digest, method, dimensions, seed and the method's settings.

    >>> projection_key("d1", "umap", 2, 42, {"min_dist": 0.1, "n_neighbors": 15})
    ('d1', 'umap', 2, 42, (('min_dist', 0.1), ('n_neighbors', 15)))
    """
    return (digest, method, int(n_components), int(random_state), tuple(sorted(params.items())))


def projection(
    vectors: np.ndarray,
    digest: str,
    method: str,
    n_components: int,
    *,
    random_state: int = 42,
    params: Mapping | None = None,
) -> ProjectionResult:
    """:func:`embedcore.analysis.projection.project_with_info`, cached across reruns and sessions.

    Returns
    -------
    ProjectionResult
        ``coords`` of shape (n, n_components), float32, plus notes and timing.

    Raises
    ------
    ProjectionPending
        A slow method on more than :data:`ui.explorer.jobs.BACKGROUND_ABOVE` points that is not
        ready yet: it is being computed in a background thread, and the page reruns itself when
        it is done.
    ProjectionInputError
        More points than the method's ``max_points``, or input it cannot map.
    """
    spec = get_method(method)
    params = dict(params or {})
    if spec.max_points is not None and len(vectors) > spec.max_points:
        raise ProjectionInputError(
            f"{spec.display_name} maps up to {spec.max_points:,} texts here (on {len(vectors):,} it runs "
            "for tens of minutes); use UMAP for this many."
        )
    key = projection_key(digest, spec.name, n_components, random_state, params)
    if spec.slow and len(vectors) > jobs.BACKGROUND_ABOVE:
        result = jobs.large_map(key, vectors)
    elif not spec.slow or key in COMPUTED:
        result = projection_result(*key, vectors)
    else:
        with heavy_work(f"The {spec.display_name} map of {len(vectors):,} texts"):
            result = projection_result(*key, vectors)
    COMPUTED.put(key, True)
    return result


def projection_ready(
    digest: str, method: str, n_components: int, *, random_state: int = 42, params: Mapping | None = None
) -> bool:
    """Was this projection computed in this process (so it will come from the cache)?"""
    return projection_key(digest, method, n_components, random_state, dict(params or {})) in COMPUTED


def needs_preview(method: str, n: int) -> bool:
    """Will ``method`` on ``n`` points take long enough to show a PCA first? (its registration says)

    >>> needs_preview("pca", 100_000), needs_preview("tsne", 5_000)
    (False, True)
    """
    return get_method(method).needs_preview(n)


def projection_summary(result: ProjectionResult, n: int) -> str:
    """A caption: method, point count, the parameters that matter, and the time the fit took."""
    spec = get_method(result.method)
    details = spec.summary(result.params)
    took = "under 0.1 s" if result.seconds < 0.1 else f"{result.seconds:.1f} s"
    return " · ".join(
        part
        for part in (f"{spec.display_name} of {plural(n, 'text')}", details, f"computed in {took}")
        if part
    )


def placement(
    query_vector: np.ndarray,
    query_key: tuple,
    vectors: np.ndarray,
    coords: np.ndarray,
    digest: str,
    method: str,
    n_components: int,
    *,
    random_state: int,
    params: Mapping,
) -> QueryPlacement:
    """:func:`embedcore.analysis.explore.place_query` for a query on a map, cached per map and query."""
    key = projection_key(digest, method, n_components, random_state, dict(params))
    return cached.placement(key, query_key, query_vector, vectors, coords)
