"""2-D / 3-D maps of embeddings: UMAP, PCA and t-SNE, with guards, caching and warm-up.

Plain umap-learn takes 38 s for a first 10,000-point map in a new process (numba compiles
pynndescent and the layout code) and 19-25 s for a second one. What makes it fast here, in
order of effect:

* the k nearest neighbours are computed exactly with numpy (:func:`exact_knn`, blocked
  matrix products) and handed to ``umap.UMAP(precomputed_knn=...)``: no pynndescent, and
  none of the numba code it compiles;
* the layout starts from a seeded PCA of the vectors (:func:`_pca_start`) instead of
  umap-learn's spectral start, whose eigenproblem (one per connected component of the kNN
  graph, on templated texts 140 of them) took 10 of 15 s on such a 10k set; the maps are as
  trustworthy (measured in ``bench/maps.py``);
* from :data:`PARALLEL_LAYOUT_MIN` points the layout epochs run on every core even with a
  seed (see :func:`_layout_threads` for what that costs in reproducibility: the global
  arrangement stays, the fine placement varies between processes), with numba's
  threading layer guarded for concurrent sessions (:func:`_parallel_numba`);
* numba's disk cache is switched on for the umap-learn functions such a fit still
  compiles (:func:`_enable_umap_disk_cache`), so only the first process on a machine
  compiles them;
* :func:`warm_up` fits a tiny UMAP in a background thread (umap import + compile or cache
  load), so that cost is paid while the user is still pasting or embedding texts;
* from 2,000 points up (:data:`AUTO_EPOCHS_SWITCH`) 60 epochs with 10 negative samples each
  instead of 500 with 5 (:data:`LARGE_EPOCHS`): a third of the layout time, maps as trustworthy;
* BLAS runs single-threaded for the small eigenproblems (PCA, a spectral start if asked
  for), where threads only spin;
* results are kept in a small in-process LRU keyed by the data's bytes and the parameters,
  so a Streamlit rerun with the same data returns at once.

PCA is plain numpy so the instant preview does not wait for scikit-learn's import.
umap-learn, scikit-learn and scipy are imported inside functions (``import embedcore`` stays
fast).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import threading
import time
import types
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from embedcore.analysis.similarity import _as_rows, normalize_rows, top_k
from embedcore.errors import EmptyInputError, InputError, ProjectionInputError

__all__ = [
    "AUTO_EPOCHS_SWITCH",
    "CACHE_SIZE",
    "DEFAULTS",
    "LARGE_EPOCHS",
    "LARGE_NEGATIVE_SAMPLE_RATE",
    "METHODS",
    "ProjectionInputError",
    "ProjectionResult",
    "auto_perplexity",
    "cache_info",
    "clear_cache",
    "exact_knn",
    "is_warm",
    "project",
    "project_with_info",
    "warm_up",
    "warm_up_error",
]

METHODS = ("umap", "pca", "tsne")

#: Default parameters per method; ``project(..., **params)`` overrides them. Other keyword
#: arguments are passed on to ``umap.UMAP`` / ``sklearn.manifold.TSNE`` (PCA takes none).
DEFAULTS: dict[str, dict] = {
    "umap": {
        "n_neighbors": 15,
        "min_dist": 0.1,
        "metric": "cosine",
        # None = 500 epochs up to AUTO_EPOCHS_SWITCH points (umap-learn's number), and above it
        # LARGE_EPOCHS with LARGE_NEGATIVE_SAMPLE_RATE: fewer epochs, each pushing every point
        # away from twice as many random others (see LARGE_EPOCHS for the measurements).
        "n_epochs": None,
        # None = 5 (umap-learn's) up to AUTO_EPOCHS_SWITCH points, LARGE_NEGATIVE_SAMPLE_RATE above.
        "negative_sample_rate": None,
        # "pca": a seeded PCA start computed here (:func:`_pca_start`); "spectral" (umap-learn's
        # default), "random" or an array of shape (n_samples, n_components) go to umap-learn.
        "init": "pca",
    },
    "tsne": {
        # None = auto_perplexity(n, n_components): 30 suits thousands of points, not 100.
        "perplexity": None,
        "metric": "cosine",
        "init": "pca",
        "learning_rate": "auto",
        "max_iter": 1000,
    },
    "pca": {
        # Rows are unit-normalised first, so PCA sees the same geometry as cosine similarity.
        "normalize": True,
    },
}

#: Above this many points UMAP runs LARGE_EPOCHS epochs instead of 500, with
#: LARGE_NEGATIVE_SAMPLE_RATE (when ``n_epochs`` / ``negative_sample_rate`` are None).
AUTO_EPOCHS_SWITCH = 2000
#: Layout epochs above AUTO_EPOCHS_SWITCH points. Fewer epochs, each with twice umap-learn's
#: negative samples, keep map neighbours true as well as its defaults in a third of the layout
#: time. Trustworthiness@10 / continuity@10 on the bench corpus (10k MiniLM sentences), ours
#: with each setting against umap-learn's defaults (500 epochs x 5 samples, spectral start):
#: 60 x 10: 0.868 / 0.903, layout 1.0-1.1 s on two cores; 200 x 5 (before): 0.851 / 0.909,
#: 1.8 s; 100 x 10: 0.883 / 0.902, 1.6-1.9 s; umap-learn: 0.867 / 0.907. On 3k and 5k sets
#: 0.854 / 0.856 against 0.844 / 0.844 with 200 x 5; the templated set 0.997 either way.
#: What it gives up: continuity (true neighbours kept near), 0.003-0.008 lower.
LARGE_EPOCHS = 60
#: Negative samples per positive one above AUTO_EPOCHS_SWITCH points (umap-learn's default: 5).
LARGE_NEGATIVE_SAMPLE_RATE = 10

#: From this many points a seeded UMAP runs its layout on every core (unless ``n_jobs=1``);
#: below it the layout stays single-threaded and bit-for-bit reproducible (see
#: :func:`_layout_threads`).
PARALLEL_LAYOUT_MIN = 5000

#: Up to this many points t-SNE runs on one OpenMP thread (faster than two on small inputs).
TSNE_SINGLE_THREAD_MAX = 2000

_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}

#: Minimum number of points for the neighbour-based methods.
MIN_POINTS = {"umap": 3, "tsne": 3, "pca": 1}

#: Number of projections kept in the in-process cache.
CACHE_SIZE = 16


@dataclass(frozen=True)
class ProjectionResult:
    """A projection and what was done to obtain it.

    Attributes
    ----------
    coords : ndarray of shape (n_samples, n_components), float32
        The map; always finite.
    method : str
        ``"umap"``, ``"pca"`` or ``"tsne"``.
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


# --- exact nearest neighbours -------------------------------------------------


def exact_knn(X, k: int, metric: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row, each row's own index first.

    The format ``umap.UMAP(precomputed_knn=(indices, distances))`` expects. Exact search with
    blocked numpy products beats pynndescent here: no numba compilation, and for the few
    thousand to tens of thousands of texts a dashboard shows it takes about a second.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    k : int
        Neighbours per row *including the row itself*; clamped to ``n_samples``.
    metric : {"cosine"}
        Cosine distance ``1 - cosine similarity`` (zero vectors are at distance 1 from all).

    Returns
    -------
    indices : ndarray of shape (n_samples, k_effective), int64
        Column 0 is the row itself; then neighbours by increasing distance, ties by lower index.
    distances : ndarray of shape (n_samples, k_effective), float32
        Non-decreasing along each row; column 0 is 0.
    """
    if metric != "cosine":
        raise InputError(f"exact_knn supports metric='cosine' only; got {metric!r}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be a positive integer; got {k!r}.")
    Xn = normalize_rows(X)
    n = Xn.shape[0]
    # The row itself is forced first (UMAP's convention) even when it has exact duplicates,
    # which top_k would otherwise be free to put ahead of it.
    nn_idx, nn_sim = top_k(Xn, Xn, int(k) - 1, exclude_self=True)
    indices = np.empty((n, nn_idx.shape[1] + 1), dtype=np.int64)
    indices[:, 0] = np.arange(n)
    indices[:, 1:] = nn_idx
    distances = np.empty(indices.shape, dtype=np.float32)
    distances[:, 0] = 0.0
    np.subtract(np.float32(1.0), nn_sim, out=distances[:, 1:])
    np.clip(distances, 0.0, 2.0, out=distances)
    return indices, distances


# --- cache --------------------------------------------------------------------

_cache: OrderedDict[tuple, ProjectionResult] = OrderedDict()
_cache_lock = threading.Lock()
_cache_stats = {"hits": 0, "misses": 0}


def _digest(arr: np.ndarray) -> str:
    arr = np.ascontiguousarray(arr)
    return f"{arr.dtype.str}{arr.shape}:" + hashlib.blake2b(arr.view(np.uint8), digest_size=16).hexdigest()


def _cache_key(X: np.ndarray, method: str, n_components: int, random_state, params: dict) -> tuple:
    # Arrays among the parameters (an ``init`` layout) by content: numpy abbreviates long reprs.
    tokens = sorted(
        (name, _digest(value) if isinstance(value, np.ndarray) else repr(value))
        for name, value in params.items()
    )
    return (_digest(X), method, n_components, repr(random_state), tuple(tokens))


def cache_info() -> dict:
    """Hits, misses and current size of the in-process projection cache."""
    with _cache_lock:
        return {**_cache_stats, "size": len(_cache), "max_size": CACHE_SIZE}


def clear_cache() -> None:
    """Empty the in-process projection cache and reset its counters."""
    with _cache_lock:
        _cache.clear()
        _knn_cache.clear()
        _cache_stats.update(hits=0, misses=0)


_knn_cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
_KNN_CACHE_SIZE = 4


def _cached_knn(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`exact_knn`, remembered per data set.

    Changing ``min_dist`` or the number of components (or lowering ``n_neighbors``) then
    skips the kNN, 1-1.5 s of CPU at 10,000 points.
    """
    key = _digest(X)
    with _cache_lock:
        hit = _knn_cache.get(key)
        if hit is not None:
            _knn_cache.move_to_end(key)
    if hit is None or hit[0].shape[1] < min(k, X.shape[0]):
        hit = exact_knn(X, k)
        with _cache_lock:
            _knn_cache[key] = hit
            while len(_knn_cache) > _KNN_CACHE_SIZE:
                _knn_cache.popitem(last=False)
    # Copies: umap-learn writes into the arrays it is given. The first k columns of a longer
    # list are exactly the k nearest, with the same tie order.
    return hit[0][:, :k].copy(), hit[1][:, :k].copy()


# --- numba compilation ----------------------------------------------------------

_numba_cache_lock = threading.Lock()
_numba_cache_state: str | None = None  # None = not tried, "on", "off", or the reason it failed


def _enable_umap_disk_cache() -> str:
    """Let umap-learn's fit-time numba functions cache their machine code on disk.

    umap-learn does not ask numba to cache the functions a fit with precomputed neighbours
    compiles (graph weights and the layout epoch), so every new process spends 5-10 s of CPU
    compiling them. Switching numba's own cache on for them (a public
    ``Dispatcher.enable_caching()``) makes that a one-time cost per installation: later
    processes load the code in well under a second. numba keys the cache on umap's source
    file, so upgrading umap-learn or numba invalidates it.

    The parallel layout function wraps the same Python function as the single-threaded one,
    and numba's cache index (named after the function, keyed on its bytecode and signature)
    would not tell the two apart: one would load the other's code. So umap-learn's parallel
    dispatcher is replaced by an equal one (same options) around a copy of the function
    under another name, which gets its own cache files.
    ``EMBEDCORE_NUMBA_CACHE=0`` turns this off.
    """
    global _numba_cache_state
    with _numba_cache_lock:
        if _numba_cache_state is not None:
            return _numba_cache_state
        if os.environ.get("EMBEDCORE_NUMBA_CACHE", "1").strip().lower() in ("0", "false", "no", "off"):
            _numba_cache_state = "off"
            return _numba_cache_state
        try:
            import numba
            from numba.core.caching import NullCache
            from umap import layouts, umap_

            for dispatcher in (
                umap_.smooth_knn_dist,
                umap_.compute_membership_strengths,
                layouts._nb_optimize_layout_euclidean_single_epoch,
            ):
                if isinstance(getattr(dispatcher, "_cache", None), NullCache):
                    dispatcher.enable_caching()
            parallel = layouts._nb_optimize_layout_euclidean_single_epoch_parallel
            if isinstance(parallel._cache, NullCache) and not parallel.signatures:
                original = parallel.py_func
                twin = types.FunctionType(
                    original.__code__,
                    original.__globals__,
                    original.__name__ + "_parallel",
                    original.__defaults__,
                    original.__closure__,
                )
                twin.__qualname__ = original.__qualname__ + "_parallel"
                twin.__doc__ = original.__doc__
                options = {k: v for k, v in parallel.targetoptions.items() if k != "nopython"}
                # umap-learn looks this module attribute up on every layout call.
                layouts._nb_optimize_layout_euclidean_single_epoch_parallel = numba.njit(
                    twin, cache=True, **options
                )
            _numba_cache_state = "on"
        except (AttributeError, ImportError, RuntimeError, OSError, TypeError) as exc:
            # A renamed function in a future umap-learn, or no writable cache directory:
            # everything still works, each process just compiles again.
            _numba_cache_state = f"unavailable: {exc}"
        return _numba_cache_state


# --- BLAS threads ------------------------------------------------------------------

_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter = None


@contextlib.contextmanager
def _single_threaded_blas():
    """Run small LAPACK/ARPACK work (eigh of 384 x 384, UMAP's spectral start) on one thread.

    OpenBLAS threads on such small problems mostly spin-wait; on a busy 2-core machine we
    measured eigh(384 x 384) at 2.5 s with two threads and 0.08 s with one, and UMAP's
    spectral initialisation of 10k points at 3-5.5 s vs 0.6-1.2 s. The limit is process-wide
    (OpenBLAS has one setting), so it is reference-counted: overlapping users (the warm-up
    thread and a real fit) restore the original setting only when the last one leaves.
    """
    global _blas_users, _blas_limiter
    with _blas_lock:
        if _blas_users == 0:
            try:
                from threadpoolctl import threadpool_limits

                _blas_limiter = threadpool_limits(limits=1, user_api="blas")
            except Exception:  # threadpoolctl missing or unable to inspect: run as is
                _blas_limiter = None
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


# --- numba's threading layer -----------------------------------------------------------

_parallel_lock = threading.Lock()

#: numba threading layers that may launch parallel code from several threads at once.
THREADSAFE_LAYERS = ("tbb", "omp")


def _threadsafe_layer() -> bool:
    import numba

    try:
        return numba.threading_layer() in THREADSAFE_LAYERS
    except ValueError:  # no parallel code has run yet in this process: no layer chosen
        return False


@contextlib.contextmanager
def _parallel_numba():
    """Run numba-parallel code (the parallel layout) safely while other threads may too.

    Streamlit runs each session in a thread of one process. numba's fallback threading
    layer, ``workqueue``, is not thread-safe: a second thread launching parallel code while
    the first one runs aborts the whole process ("Terminating: Nested parallel kernel launch
    detected"). numba prefers ``tbb``, then ``omp`` (GNU OpenMP: present where libgomp1 is
    installed, as here), and falls back to ``workqueue`` only when neither loads, e.g. on a
    slim container image. So: when the chosen layer is thread-safe, no lock (two sessions
    share the cores); otherwise, or before any layer is chosen, one process-wide lock makes
    concurrent maps take turns. A lock rather than forcing a layer: forcing one that is not
    installed fails at the first launch, and tbb is not a dependency we want for this.
    """
    if _threadsafe_layer():
        yield
        return
    with _parallel_lock:
        yield


# --- warm-up ------------------------------------------------------------------

_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None
_warm_done = threading.Event()
_warm_error: BaseException | None = None


def _warm_up_points() -> np.ndarray:
    # Input for compiling only, never shown or returned: points on three arcs, deterministic,
    # with the dtype and layout real embeddings have (float32, C order).
    t = np.linspace(0.0, 1.0, 20, dtype=np.float64)
    arcs = [np.stack([np.cos(t + c), np.sin(t + c), t * 0.1, np.full_like(t, c)], axis=1) for c in (0, 2, 4)]
    return np.ascontiguousarray(np.concatenate(arcs), dtype=np.float32)


def _warm_up_body() -> None:
    global _warm_error
    try:
        points = _warm_up_points()
        _compute(points, "umap", 2, 42, {})  # the single-threaded layout (small maps)
        _compute(points, "umap", 2, 42, {"n_jobs": -1})  # the parallel one (large maps)
    except Exception as exc:  # reported by warm_up_error(); a daemon thread must not die loudly
        _warm_error = exc
    finally:
        _warm_done.set()


def warm_up(*, background: bool = True) -> threading.Thread | None:
    """Trigger umap-learn's numba compilation once per process.

    Fits a UMAP on 60 built-in points through the same code paths (and dtypes) as
    :func:`project` with its default seed, once with the single-threaded layout and once
    with the parallel one (used from :data:`PARALLEL_LAYOUT_MIN` points), so the first real
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
            if not _warm_done.is_set():
                _warm_up_body()
            return None
        _warm_thread = threading.Thread(target=_warm_up_body, name="embedcore-umap-warm-up", daemon=True)
        _warm_thread.start()
        return _warm_thread


def is_warm() -> bool:
    """True once :func:`warm_up` has finished successfully in this process."""
    return _warm_done.is_set() and _warm_error is None


def warm_up_error() -> BaseException | None:
    """The exception that ended the warm-up, if it failed (e.g. umap-learn not installed)."""
    return _warm_error


# --- the projections -----------------------------------------------------------


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def _is(value, name: str) -> bool:
    # ``init`` may be an array of starting positions: never compare that to a string.
    return isinstance(value, str) and value == name


def _unique_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _pca(X: np.ndarray, n_components: int, random_state, params: dict, notes: list) -> np.ndarray:
    # Hand-written with numpy (an eigendecomposition of the d x d covariance, or of the n x n
    # Gram matrix when n < d) rather than sklearn's PCA: the preview must appear at once, and
    # importing scikit-learn alone costs 1.5-2 s of CPU in a fresh process. Same axes and
    # sign convention as sklearn (tested against it). random_state is unused: this is exact.
    unknown = set(params) - {"normalize"}
    if unknown:
        raise InputError(f"Unsupported parameter for pca: {', '.join(sorted(unknown))}.")
    if params.get("normalize", True):
        X = normalize_rows(X)
    n, d = X.shape
    out = np.zeros((n, n_components), dtype=np.float32)
    # PCA has at most min(n - 1, d) informative axes; the others stay 0 (a flat map, not an error).
    n_fit = min(n_components, n - 1, d)
    if n_fit < n_components and n > 1:
        notes.append(f"{n} points span at most {n_fit} axes; the other coordinates are 0.")
    if n_fit < 1:
        return out
    centred = X.astype(np.float64)
    centred -= centred.mean(axis=0)
    gram = centred.T @ centred if n >= d else centred @ centred.T
    with _single_threaded_blas():
        eigvals, eigvecs = np.linalg.eigh(gram)
    if n >= d:
        components = eigvecs[:, ::-1][:, :n_fit]  # (d, n_fit)
    else:
        components = centred.T @ eigvecs[:, ::-1][:, :n_fit]
        components /= np.maximum(np.linalg.norm(components, axis=0), 1e-300)
    # sklearn's sign convention (svd_flip on the components): each axis's largest loading is positive.
    signs = np.sign(components[np.abs(components).argmax(axis=0), np.arange(n_fit)])
    coords = centred @ (components * np.where(signs == 0, 1.0, signs))
    # Axes without variance (rank below n_fit) are solver noise: zero them.
    tol = max(n, d) * np.finfo(np.float64).eps * max(float(eigvals.max(initial=0.0)), 1e-300)
    coords[:, eigvals[::-1][:n_fit] <= tol] = 0.0
    out[:, :n_fit] = coords
    return out


#: umap-learn scales its own starting layouts so that the largest coordinate is 10 and adds
#: Gaussian noise of this standard deviation (``umap.umap_.noisy_scale_coords``).
_START_SCALE = 10.0
_START_NOISE = 1e-4


def _pca_start(X: np.ndarray, n_components: int, random_state) -> np.ndarray:
    """Starting positions for UMAP's layout: the PCA of the rows, scaled as umap-learn scales its starts.

    umap-learn's default spectral start solves an eigenproblem on the kNN graph, and when the
    graph falls apart into components (templated or near-duplicate texts: 140 components in
    a 10k set) it solves one per component and then lays the components out with another
    spectral embedding of their centroids: 10 s of a 15 s fit. A PCA of the vectors costs
    milliseconds, gives every point -- whatever its component -- a place that reflects the
    global geometry, and is what Kobak & Linderman recommend to keep UMAP's global structure
    ("Initialization is critical for preserving global data structure in both t-SNE and
    UMAP", Nature Biotechnology 2021). Trustworthiness of the final maps equals the
    spectral start's (see ``bench/maps.py``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Distinct rows (the caller removes duplicates), unit length for cosine geometry.
    n_components : int
    random_state : int, numpy RandomState or None
        Seeds the noise (and the random axes below); None draws fresh noise.

    Returns
    -------
    ndarray of shape (n_samples, n_components), float32
        Scaled so the largest absolute coordinate is 10, plus Gaussian noise of standard
        deviation 1e-4 (umap-learn's ``noisy_scale_coords``) so that points PCA maps to one
        place start apart. Axes PCA cannot span (fewer points than components plus one,
        or rank-deficient data) are drawn uniformly from [-10, 10], as umap-learn's "random"
        start does: a constant axis would make umap-learn's min-max rescaling divide by 0.
    """
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    coords = _pca(X, n_components, None, {"normalize": False}, []).astype(np.float64)
    spread = np.abs(coords).max(axis=0)
    flat = spread == 0.0  # _pca returns exact zeros for the axes it cannot fit
    if not flat.all():
        coords *= _START_SCALE / spread.max()
    coords[:, flat] = rng.uniform(-_START_SCALE, _START_SCALE, size=(coords.shape[0], int(flat.sum())))
    coords += rng.normal(scale=_START_NOISE, size=coords.shape)
    return coords.astype(np.float32)


def _usable_cores() -> int:
    """Cores this process may use: numba's pool size, capped by CPU quota and affinity.

    numba sizes its pool by ``os.cpu_count()``, which inside a container with a CPU quota
    (Streamlit Community Cloud: 0.078-2 CPUs) is the host's count; more layout threads than
    the quota allows only wait for each other. joblib (loky) reads the cgroup quota.
    """
    import numba

    from embedcore.system import usable_cores

    return max(1, min(int(numba.config.NUMBA_NUM_THREADS), usable_cores()))


def _layout_threads(n: int, random_state, n_jobs) -> int:
    """How many threads UMAP's layout epochs get: 1 = umap-learn's reproducible serial loop.

    The choice, and why. umap-learn runs its layout on one core whenever it has a seed,
    because its parallel loop is not deterministic: two threads update shared positions in
    an order the scheduler decides. At 10k points (with the 200 epochs used then) the
    serial layout took 3.1-3.7 s on this 2-core machine, more than the whole fit may take (3 s);
    the parallel loop 1.7-2.2 s.
    So from :data:`PARALLEL_LAYOUT_MIN` points a seeded fit uses the parallel loop too.

    What that costs. The seed still fixes the PCA start, the graph and every point's
    negative-sampling random stream, so a map's global arrangement (where each group lies)
    is the same on every run; the fine placement inside groups differs between two runs in
    different processes, about as much as a different seed changes it. Measured on the 10k
    corpus (``bench/maps.py``): Procrustes disparity 0.066 between two runs (umap-learn's
    unseeded defaults: 0.116), median point shift 2.5 % of the map's width, 37 % of each
    point's 10 map neighbours the same. Within one process the result cache returns the
    identical map for the same input and parameters. When another process keeps one core
    busy, the parallel loop is no faster than the serial one (3.8-4.0 s vs 3.5-3.9 s at 10k)
    but not much slower either.

    Below the threshold the serial layout takes under ~1.8 s and stays bit-for-bit
    reproducible. ``n_jobs=1`` asks for that at any size; ``n_jobs=-1`` (all cores) or ``k``
    for the parallel loop at any size. Without a seed the loop is parallel, as in umap-learn.
    """
    available = _usable_cores()
    if n_jobs is None:
        n_jobs = -1 if (random_state is None or n >= PARALLEL_LAYOUT_MIN) else 1
    return available if n_jobs == -1 else max(1, min(int(n_jobs), available))


_umap_class = None


def _umap_estimator():
    """``umap.UMAP`` whose layout can run on several threads even with a seed (class made on first use)."""
    global _umap_class
    if _umap_class is None:
        import numba
        import umap

        class LayoutThreadsUMAP(umap.UMAP):
            # Threads for the layout epochs; set on the instance. Not an __init__ parameter, so
            # scikit-learn's get_params / clone / repr never see it.
            _layout_threads = 1

            def _fit_embed_data(self, X, n_epochs, init, random_state, **kwargs):
                if self._layout_threads <= 1 or self.random_state is None:
                    return super()._fit_embed_data(X, n_epochs, init, random_state, **kwargs)
                # umap-learn passes ``parallel=self.random_state is None`` to the layout; the
                # seeded ``random_state`` argument still draws its noise and rng states.
                seed, threads_before = self.random_state, numba.get_num_threads()
                self.random_state = None
                numba.set_num_threads(self._layout_threads)  # per calling thread in numba
                try:
                    return super()._fit_embed_data(X, n_epochs, init, random_state, **kwargs)
                finally:
                    self.random_state = seed
                    numba.set_num_threads(threads_before)

        _umap_class = LayoutThreadsUMAP
    return _umap_class


def _umap(X: np.ndarray, n_components: int, random_state, params: dict, notes: list) -> np.ndarray:
    estimator = _umap_estimator()
    _enable_umap_disk_cache()
    n = X.shape[0]
    requested = _check_int(params["n_neighbors"], "n_neighbors", 2)
    if requested > n - 1:
        notes.append(f"n_neighbors lowered from {requested} to {n - 1} (there are only {n} points).")
    params["n_neighbors"] = min(requested, n - 1)
    large = n > AUTO_EPOCHS_SWITCH
    if params.get("n_epochs") is None:
        params["n_epochs"] = LARGE_EPOCHS if large else 500
    if params.get("negative_sample_rate") is None:
        params["negative_sample_rate"] = LARGE_NEGATIVE_SAMPLE_RATE if large else 5
    if _is(params.get("init"), "spectral") and n <= n_components + 1:
        params["init"] = "random"  # the spectral initialisation needs more points than dimensions + 1
    n_jobs = params.get("n_jobs")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer))):
        raise InputError(f"n_jobs must be an integer (-1 for all cores); got {n_jobs!r}.")
    if n_jobs is not None and (n_jobs == 0 or n_jobs < -1):
        raise InputError(f"n_jobs must be -1 (all cores) or a positive integer; got {n_jobs!r}.")
    threads = _layout_threads(n, random_state, n_jobs)
    params["n_jobs"] = -1 if n_jobs == -1 else threads  # reported as used
    kwargs = dict(params)
    if _is(kwargs.get("init"), "pca"):
        kwargs["init"] = _pca_start(X, n_components, random_state)
    # With a seed umap-learn forces n_jobs=1 (and warns otherwise); the layout's threads are
    # set by the subclass instead. Without a seed umap-learn itself runs parallel.
    kwargs["n_jobs"] = 1 if random_state is not None else threads
    if kwargs.get("metric") == "cosine" and "precomputed_knn" not in kwargs:
        kwargs["precomputed_knn"] = _cached_knn(X, params["n_neighbors"])
        # umap warns that transform() needs a pynndescent index; we never call transform().
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
    reducer = estimator(n_components=n_components, random_state=random_state, **kwargs)
    reducer._layout_threads = threads
    # The kNN above is one large product that does use both BLAS threads; inside the fit,
    # BLAS only serves small vector operations (numba's own threads are unaffected).
    parallel = threads > 1 or random_state is None
    with _single_threaded_blas(), _parallel_numba() if parallel else contextlib.nullcontext():
        return reducer.fit_transform(X)


def auto_perplexity(n_samples: int, n_components: int = 2) -> float:
    """t-SNE perplexity for ``n_samples`` points mapped to ``n_components`` axes.

    About one tenth of the points (a twelfth in 3-D), between 5 and 30. sklearn's fixed 30
    suits thousands of points; on the 100-text topics sample it gave a structureless 3-D ball
    (trustworthiness@5 0.64 in 3-D, 0.90 in 2-D), while 8-10 gave 0.85 / 0.94; on the
    140-text multilingual sample 10-30 are all within 0.02 of the best.
    """
    share = 10.0 if n_components <= 2 else 12.0
    return float(np.clip(round(n_samples / share, 1), 5.0, 30.0))


def _tsne(X: np.ndarray, n_components: int, random_state, params: dict, notes: list) -> np.ndarray:
    from sklearn.manifold import TSNE

    n = X.shape[0]
    if params.get("perplexity") is None:
        params["perplexity"] = auto_perplexity(n, n_components)
    requested = float(params["perplexity"])
    if not requested > 0:
        raise InputError(f"perplexity must be positive; got {requested!r}.")
    # sklearn needs perplexity < n and looks at 3 * perplexity neighbours: cap it at (n - 1) / 3.
    cap = max((n - 1) / 3.0, 1.0)
    if requested > cap:
        notes.append(f"perplexity lowered from {requested:g} to {cap:g} (there are only {n} points).")
    params["perplexity"] = min(requested, cap)
    if n_components > 3:
        params.setdefault("method", "exact")  # Barnes-Hut supports at most 3 components
    if _is(params.get("init"), "pca") and min(X.shape) < n_components:
        params["init"] = "random"  # a PCA start needs as many features and points as components
    tsne = TSNE(n_components=n_components, random_state=random_state, **params)
    if n > TSNE_SINGLE_THREAD_MAX:
        return tsne.fit_transform(X)
    from threadpoolctl import threadpool_limits

    # sklearn's Barnes-Hut gradient uses every OpenMP thread; on small inputs the threads
    # mostly spin-wait (60 points: 0.2 s CPU with one thread, 0.7-2 s with two).
    with threadpool_limits(limits=1, user_api="openmp"):
        return tsne.fit_transform(X)


_RUNNERS = {"pca": _pca, "umap": _umap, "tsne": _tsne}


def _compute(X: np.ndarray, method: str, n_components: int, random_state, params: dict) -> ProjectionResult:
    start = time.perf_counter()
    notes: list[str] = []
    merged = {**copy.deepcopy(DEFAULTS[method]), **params}
    n = X.shape[0]
    if method != "pca":
        # Cosine geometry: the neighbour methods see unit rows (lengths carry no meaning).
        X = normalize_rows(X)
        if n > 1 and _all_rows_equal(X):
            notes.append("All points are the same direction (identical texts?); they share one position.")
            coords = np.zeros((n, n_components), dtype=np.float32)
            return ProjectionResult(coords, method, merged, tuple(notes), time.perf_counter() - start)
    # Identical vectors (the same text pasted twice) are fitted once and mapped back: UMAP and
    # t-SNE would otherwise push copies apart, showing one text at several places. (PCA is a
    # linear map: copies land together anyway, and the axes stay those of all the rows.)
    first, inverse = _unique_rows(X) if method != "pca" else (np.arange(n), np.arange(n))
    if len(first) < n:
        copies = n - len(first)
        notes.append(f"{copies:,} repeated text{'s' if copies > 1 else ''} drawn at the first copy's place.")
        if len(first) < max(MIN_POINTS[method], n_components):
            raise ProjectionInputError(
                f"Only {len(first)} of the {n} texts are distinct; {_NAMES[method]} needs at least "
                f"{max(MIN_POINTS[method], n_components)} — use PCA."
            )
        X = X[first]
    try:
        coords = _RUNNERS[method](X, n_components, random_state, merged, notes)
    except TypeError as exc:  # an unknown keyword for the estimator
        raise InputError(f"Unsupported parameter for {method}: {exc}") from exc
    if len(first) < n:
        coords = np.asarray(coords)[inverse]
    coords = np.ascontiguousarray(coords, dtype=np.float32)
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
        Look the result up in (and store it into) the in-process LRU cache.

    Returns
    -------
    ProjectionResult
    """
    method = str(method).lower()
    if method not in METHODS:
        raise InputError(f"Unknown projection method {method!r}; choose one of {', '.join(METHODS)}.")
    n_components = _check_int(n_components, "n_components", 1)
    X = _as_rows(X)
    n = X.shape[0]
    if n == 0:
        raise EmptyInputError("There are no vectors to project.")
    name = _NAMES[method]
    if n < MIN_POINTS[method]:
        raise ProjectionInputError(
            f"{name} needs at least {MIN_POINTS[method]} texts; you have {n} — use PCA for fewer."
        )
    if method != "pca" and n_components > n:
        raise ProjectionInputError(
            f"A {n_components}-D {name} map needs at least {n_components} texts; you have {n}."
        )
    key = _cache_key(X, method, n_components, random_state, params) if use_cache else None
    if key is not None:
        with _cache_lock:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
                _cache_stats["hits"] += 1
                return ProjectionResult(
                    hit.coords.copy(), hit.method, dict(hit.params), hit.notes, hit.seconds, cached=True
                )
            _cache_stats["misses"] += 1
    result = _compute(X, method, n_components, random_state, params)
    if key is not None:
        with _cache_lock:
            _cache[key] = ProjectionResult(
                result.coords.copy(), method, result.params, result.notes, result.seconds
            )
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
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
    method : {"umap", "pca", "tsne"}, default "umap"
    n_components : int, default 2
    random_state : int or None, default 42
        Seed. With an int UMAP is reproducible but single-threaded; ``None`` lets UMAP use all
        cores (faster on large inputs, different map each run).
    **params
        Override :data:`DEFAULTS` for the method (UMAP: ``n_neighbors``, ``min_dist``,
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
