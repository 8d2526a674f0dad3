"""2-D / 3-D maps of embeddings: :func:`project` with its checks, cache and warm-up, over the method registry.

The methods themselves are registered in :mod:`embedcore.analysis.methods` (the built-in UMAP, PCA
and t-SNE in :mod:`embedcore.analysis.reducers`, umap-learn's runtime in
:mod:`embedcore.analysis.umap_runtime`); this module reads the registry
(:func:`registered_methods`, :func:`get_method`, :func:`method_names`) for everything it checks.

Plain umap-learn takes 38 s for a first 10,000-point map in a new process (numba compiles
pynndescent and the layout code) and 19-25 s for a second one. What makes it fast here, in
order of effect:

* the k nearest neighbours are computed exactly with numpy (:func:`~embedcore.analysis.reducers.exact_knn`, blocked
  matrix products) and handed to ``umap.UMAP(precomputed_knn=...)``: no pynndescent, and
  none of the numba code it compiles;
* the layout starts from a seeded PCA of the vectors (:func:`~embedcore.analysis.reducers.pca_start`) instead of
  umap-learn's spectral start, whose eigenproblem (one per connected component of the kNN
  graph, on templated texts 140 of them) took 10 of 15 s on such a 10k set; the maps are as
  trustworthy (measured in ``bench/maps.py``);
* from :data:`~embedcore.analysis.umap_runtime.PARALLEL_LAYOUT_MIN` points the layout epochs run on every core even with a
  seed (see :func:`~embedcore.analysis.umap_runtime.layout_threads` for what that costs in reproducibility: the global
  arrangement stays, the fine placement varies between processes), with numba's
  threading layer guarded for concurrent sessions (:func:`~embedcore.analysis.umap_runtime.parallel_numba`);
* numba's disk cache is switched on for the umap-learn functions such a fit still
  compiles (:func:`~embedcore.analysis.umap_runtime.enable_umap_disk_cache`), so only the first process on a machine
  compiles them;
* :func:`warm_up` fits a tiny UMAP in a background thread (umap import + compile or cache
  load), so that cost is paid while the user is still pasting or embedding texts;
* from 2,000 points up (:data:`~embedcore.analysis.reducers.AUTO_EPOCHS_SWITCH`) 60 epochs with 10 negative samples each
  instead of 500 with 5 (:data:`~embedcore.analysis.reducers.LARGE_EPOCHS`): a third of the layout time, maps as trustworthy;
* BLAS runs single-threaded for the small eigenproblems (PCA, a spectral start if asked
  for), where threads only spin;
* results are kept in a small in-process :class:`~embedcore.memo.Memo` keyed by the data's bytes
  and the parameters, so a Streamlit rerun with the same data returns at once.

PCA is plain numpy so the instant preview does not wait for scikit-learn's import.
umap-learn, scikit-learn and scipy are imported inside functions (``import embedcore`` stays
fast).

Examples
--------
>>> import numpy as np
>>> X = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
>>> project(X, "pca").shape
(4, 2)
>>> result = project_with_info(X[:2], "pca", 3)
>>> result.notes
('2 points span at most 1 axes; the other coordinates are 0.',)
>>> project(X[:2], "umap")
Traceback (most recent call last):
...
embedcore.errors.ProjectionInputError: UMAP needs at least 3 texts; you have 2 — use PCA for fewer.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field

import numpy as np

import embedcore.analysis.reducers  # noqa: F401  (registers the built-in methods)
from embedcore.analysis.checks import as_rows, check_int
from embedcore.analysis.methods import (
    ProjectionMethod,
    Setting,
    register_method,
    registry_snapshot,
    unregister_method,
)
from embedcore.analysis.reducers import auto_perplexity, exact_knn, knn_memo
from embedcore.analysis.similarity import normalize_rows
from embedcore.analysis.umap_runtime import WARM, is_warm
from embedcore.errors import EmptyInputError, InputError, ProjectionInputError
from embedcore.memo import Memo, digest

__all__ = [
    "CACHE_SIZE",
    "ENTRY_POINT_GROUP",
    "ProjectionInputError",
    "ProjectionMethod",
    "ProjectionResult",
    "Setting",
    "auto_perplexity",
    "cache_info",
    "clear_cache",
    "display_name",
    "exact_knn",
    "get_method",
    "is_warm",
    "method_names",
    "project",
    "project_with_info",
    "register_method",
    "registered_methods",
    "unregister_method",
    "warm_up",
    "warm_up_error",
]

#: Number of projections kept in the in-process cache.
CACHE_SIZE = 16

#: The entry point group through which installed packages add projection methods: each entry
#: names a module that calls :func:`register_method` when imported.
ENTRY_POINT_GROUP = "embedcore.projection_methods"


# --- the registry ---------------------------------------------------------------------------

_plugins_lock = threading.Lock()
_plugins_loaded = False


def _load_plugins() -> None:
    """Import the modules of the ``embedcore.projection_methods`` entry points, once per process."""
    global _plugins_loaded
    with _plugins_lock:
        if _plugins_loaded:
            return
        _plugins_loaded = True
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        entry.load()


def registered_methods() -> tuple[ProjectionMethod, ...]:
    """Every projection method, in registration order: the built-ins, then plugins and others.

    >>> [m.display_name for m in registered_methods()][:3]
    ['UMAP', 'PCA', 't-SNE']
    """
    _load_plugins()
    return registry_snapshot()


def method_names() -> tuple[str, ...]:
    """The registered methods' names (``project``'s ``method=`` values).

    >>> method_names()[:3]
    ('umap', 'pca', 'tsne')
    """
    return tuple(m.name for m in registered_methods())


def get_method(name: str) -> ProjectionMethod:
    """The method called ``name`` (any case).

    >>> get_method("TSNE").display_name, get_method("pca").min_points
    ('t-SNE', 1)

    Raises
    ------
    InputError
        No such method; the message lists the registered ones.
    """
    key = str(name).lower()
    for method in registered_methods():
        if method.name == key:
            return method
    raise InputError(f"Unknown projection method {name!r}; choose one of {', '.join(method_names())}.")


def display_name(name: str) -> str:
    """What the UI calls method ``name``; an unknown name as it is.

    >>> display_name("umap"), display_name("mystery")
    ('UMAP', 'mystery')
    """
    try:
        return get_method(name).display_name
    except InputError:
        return str(name)


@dataclass(frozen=True)
class ProjectionResult:
    """A projection and what was done to obtain it.

    Attributes
    ----------
    coords : ndarray of shape (n_samples, n_components), float32
        The map; always finite.
    method : str
        A registered method's name (``"umap"``, ``"pca"``, ``"tsne"``, ...).
    params : dict
        The parameters actually used, after clamping (e.g. ``n_neighbors`` for few points).
    notes : tuple of str
        Sentences for the UI about adjustments made ("n_neighbors lowered from 15 to 4 ...").
    seconds : float
        Wall time of the computation (of the original computation on a cache hit).
    cached : bool
        True when the result came from the in-process cache.
    """

    coords: np.ndarray
    method: str
    params: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    cached: bool = False


# --- cache --------------------------------------------------------------------

#: Finished projections, keyed by :func:`embedcore.memo.digest` of the data and every argument.
result_memo: Memo[ProjectionResult] = Memo(CACHE_SIZE)
_stats_lock = threading.Lock()
_cache_stats = {"hits": 0, "misses": 0}


def cache_info() -> dict:
    """Hits, misses and current size of the in-process projection cache.

    >>> sorted(cache_info())
    ['hits', 'max_size', 'misses', 'size']
    """
    with _stats_lock:
        return {**_cache_stats, "size": len(result_memo), "max_size": CACHE_SIZE}


def clear_cache() -> None:
    """Empty the in-process projection cache (and the neighbour lists) and reset its counters."""
    result_memo.clear()
    knn_memo.clear()
    with _stats_lock:
        _cache_stats.update(hits=0, misses=0)


def _cache_key(X: np.ndarray, method: str, n_components: int, random_state, params: dict) -> str:
    # digest() keys arrays among the parameters (an ``init`` layout) by content; any other
    # value it cannot key (a RandomState) by its repr, as before.
    tokens = {name: value if _keyable(value) else repr(value) for name, value in params.items()}
    seed = random_state if _keyable(random_state) else repr(random_state)
    return digest("projection", X, method, n_components, seed, tokens)


def _keyable(value) -> bool:
    try:
        digest(value)
    except TypeError:
        return False
    return True


# --- warm-up ------------------------------------------------------------------

_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None


def _warm_up_points() -> np.ndarray:
    # Input for compiling only, never shown or returned: points on three arcs, deterministic,
    # with the dtype and layout real embeddings have (float32, C order).
    t = np.linspace(0.0, 1.0, 20, dtype=np.float64)
    arcs = [np.stack([np.cos(t + c), np.sin(t + c), t * 0.1, np.full_like(t, c)], axis=1) for c in (0, 2, 4)]
    return np.ascontiguousarray(np.concatenate(arcs), dtype=np.float32)


def _warm_up_body() -> None:
    error = None
    try:
        points = _warm_up_points()
        _compute(points, "umap", 2, 42, {})  # the single-threaded layout (small maps)
        _compute(points, "umap", 2, 42, {"n_jobs": -1})  # the parallel one (large maps)
    except Exception as exc:  # reported by warm_up_error(); a daemon thread must not die loudly
        error = exc
    finally:
        WARM.finish(error)


def warm_up(*, background: bool = True) -> threading.Thread | None:
    """Trigger umap-learn's numba compilation once per process.

    Fits a UMAP on 60 built-in points through the same code paths (and dtypes) as
    :func:`project` with its default seed, once with the single-threaded layout and once
    with the parallel one (used from :data:`~embedcore.analysis.umap_runtime.PARALLEL_LAYOUT_MIN` points), so the first real
    UMAP does not pay the compile (or the load from numba's disk cache, and the 2 s import of
    umap-learn). Idempotent: later calls return the same thread. numba compiles under one global lock, so a real fit started
    while the warm-up runs simply waits for it rather than compiling twice.

    Parameters
    ----------
    background : bool, default True
        Run in a daemon thread and return at once; ``False`` runs in the caller's thread.

    Returns
    -------
    threading.Thread or None
        The warm-up thread (``join()`` it to wait), or None when ``background=False``.
    """
    global _warm_thread
    with _warm_lock:
        if _warm_thread is not None:
            return _warm_thread
        if not background:
            if not WARM.done.is_set():
                _warm_up_body()
            return None
        _warm_thread = threading.Thread(target=_warm_up_body, name="embedcore-umap-warm-up", daemon=True)
        _warm_thread.start()
        return _warm_thread


def warm_up_error() -> BaseException | None:
    """The exception that ended the warm-up, if it failed (e.g. umap-learn not installed)."""
    return WARM.error


# --- the projections -----------------------------------------------------------


def unique_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(first, inverse)``: rows of ``X`` in first-seen order, and each row's place among them.

    ``X[first][inverse] == X``. Rows are compared byte for byte, through a dict of their
    bytes: ~25 ms for 10k × 384, where ``np.unique`` over the same rows as void records
    (a sort with byte-string comparisons) took 0.2-0.3 s.
    """
    rows = np.ascontiguousarray(X)
    records = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel().tolist()
    place: dict[bytes, int] = {}
    first: list[int] = []
    inverse = np.empty(len(records), dtype=np.int64)
    for i, record in enumerate(records):
        j = place.setdefault(record, len(first))
        if j == len(first):
            first.append(i)
        inverse[i] = j
    return np.asarray(first, dtype=np.int64), inverse


def _all_rows_equal(rows: np.ndarray) -> bool:
    return bool(np.all(rows == rows[0]))


def _compute(X: np.ndarray, method: str, n_components: int, random_state, params: dict) -> ProjectionResult:
    start = time.perf_counter()
    spec = get_method(method)
    notes: list[str] = []
    merged = {**copy.deepcopy(dict(spec.defaults)), **params}
    n = X.shape[0]
    if spec.neighbour_based:
        # Cosine geometry: the neighbour methods see unit rows (lengths carry no meaning).
        X = normalize_rows(X)
        if n > 1 and _all_rows_equal(X):
            notes.append("All points are the same direction (identical texts?); they share one position.")
            coords = np.zeros((n, n_components), dtype=np.float32)
            return ProjectionResult(coords, method, merged, tuple(notes), time.perf_counter() - start)
    # Identical vectors (the same text pasted twice) are fitted once and mapped back: UMAP and
    # t-SNE would otherwise push copies apart, showing one text at several places. (PCA is a
    # linear map: copies land together anyway, and the axes stay those of all the rows.)
    first, inverse = unique_rows(X) if spec.neighbour_based else (np.arange(n), np.arange(n))
    if len(first) < n:
        copies = n - len(first)
        notes.append(f"{copies:,} repeated text{'s' if copies > 1 else ''} drawn at the first copy's place.")
        needed = max(spec.min_points, n_components)
        if len(first) < needed:
            raise ProjectionInputError(
                f"Only {len(first)} of the {n} texts are distinct; {spec.display_name} needs at least "
                f"{needed} — use PCA."
            )
        X = X[first]
    try:
        coords = spec.run(X, n_components, random_state, merged, notes)
    except TypeError as exc:  # an unknown keyword for the estimator
        raise InputError(f"Unsupported parameter for {method}: {exc}") from exc
    if len(first) < n:
        coords = np.asarray(coords)[inverse]
    coords = np.ascontiguousarray(coords, dtype=np.float32)
    if coords.shape != (n, n_components):
        raise ProjectionInputError(
            f"{spec.display_name} returned coordinates of shape {coords.shape}; ({n}, {n_components}) were expected."
        )
    if not np.isfinite(coords).all():
        raise ProjectionInputError(
            f"{method.upper()} produced non-finite coordinates for these points; try PCA or other parameters."
        )
    return ProjectionResult(coords, method, merged, tuple(notes), time.perf_counter() - start)


def project_with_info(
    X,
    method: str = "umap",
    n_components: int = 2,
    *,
    random_state: int | None = 42,
    use_cache: bool = True,
    **params,
) -> ProjectionResult:
    """Like :func:`project`, returning a :class:`ProjectionResult` with notes and timing.

    Parameters
    ----------
    X, method, n_components, random_state, **params
        As for :func:`project`.
    use_cache : bool, default True
        Look the result up in (and store it into) the in-process cache (:data:`result_memo`).

    Returns
    -------
    ProjectionResult

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> first = project_with_info(X, "pca", 1)
    >>> again = project_with_info(X, "pca", 1)
    >>> again.cached, bool((first.coords == again.coords).all())
    (True, True)
    """
    spec = get_method(method)
    method = spec.name
    n_components = check_int(n_components, "n_components", 1)
    X = as_rows(X)
    n = X.shape[0]
    if n == 0:
        raise EmptyInputError("There are no vectors to project.")
    name = spec.display_name
    if n < spec.min_points:
        raise ProjectionInputError(
            f"{name} needs at least {spec.min_points} texts; you have {n} — use PCA for fewer."
        )
    if spec.neighbour_based and n_components > n:
        raise ProjectionInputError(
            f"A {n_components}-D {name} map needs at least {n_components} texts; you have {n}."
        )
    key = _cache_key(X, method, n_components, random_state, params) if use_cache else None
    if key is not None:
        hit = result_memo.get(key)
        with _stats_lock:
            _cache_stats["hits" if hit is not None else "misses"] += 1
        if hit is not None:
            return ProjectionResult(
                hit.coords.copy(), hit.method, dict(hit.params), hit.notes, hit.seconds, cached=True
            )
    result = _compute(X, method, n_components, random_state, params)
    if key is not None:
        result_memo.put(
            key, ProjectionResult(result.coords.copy(), method, result.params, result.notes, result.seconds)
        )
    return result


def project(
    X,
    method: str = "umap",
    n_components: int = 2,
    *,
    random_state: int | None = 42,
    **params,
) -> np.ndarray:
    """Project embeddings to 2 or 3 dimensions for a scatter plot.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings (any scale: cosine geometry is used, rows are normalised).
    method : str, default "umap"
        A registered method (:func:`method_names`: ``"umap"``, ``"pca"``, ``"tsne"`` and any
        registered with :func:`register_method`).
    n_components : int, default 2
    random_state : int or None, default 42
        Seed. With an int UMAP is reproducible but single-threaded; ``None`` lets UMAP use all
        cores (faster on large inputs, different map each run).
    **params
        Override the method's ``defaults`` (UMAP: ``n_neighbors``, ``min_dist``,
        ``metric``, ``n_epochs``, ``init``; t-SNE: ``perplexity``, ...); other keywords go to
        the underlying estimator. A UMAP ``metric`` other than ``"cosine"`` uses umap-learn's
        own neighbour search, whose first use in a process compiles for many seconds. ``n_neighbors`` is lowered to ``n_samples - 1`` and
        ``perplexity`` to ``(n_samples - 1) / 3`` when needed (see
        :func:`project_with_info` for the notes saying so).

    Returns
    -------
    ndarray of shape (n_samples, n_components), float32
        Finite coordinates. PCA of 1 or 2 points gives zeros in the axes they cannot span.
        Points that are all identical (in direction) all get the origin.

    Raises
    ------
    ProjectionInputError
        Fewer than 3 points for UMAP / t-SNE, or more components than points; the message is
        written for the UI.
    InputError
        NaN / inf in ``X``, an unknown method or parameter.
    """
    return project_with_info(X, method, n_components, random_state=random_state, **params).coords
