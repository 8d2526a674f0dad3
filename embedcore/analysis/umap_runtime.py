"""What makes umap-learn fast and safe here: numba's disk cache, BLAS and numba threads, the layout's threads.

Used by the UMAP runner in :mod:`embedcore.analysis.reducers` (and PCA's single-threaded BLAS);
see :mod:`embedcore.analysis.projection` for the measurements behind each choice.

Examples
--------
>>> layout_threads(100, 42, 1)  # n_jobs=1: umap-learn's serial, reproducible layout
1
>>> with single_threaded_blas():
...     pass
"""

from __future__ import annotations

import contextlib
import os
import threading
import types

from embedcore.analysis.umap_import import import_umap

__all__ = [
    "PARALLEL_LAYOUT_MIN",
    "THREADSAFE_LAYERS",
    "WARM",
    "WarmState",
    "enable_umap_disk_cache",
    "is_warm",
    "layout_threads",
    "parallel_numba",
    "single_threaded_blas",
    "umap_estimator",
    "usable_cores",
]

#: From this many points a seeded UMAP runs its layout on every core (unless ``n_jobs=1``);
#: below it the layout stays single-threaded and bit-for-bit reproducible (see
#: :func:`_layout_threads`).
PARALLEL_LAYOUT_MIN = 5000


# --- numba compilation ----------------------------------------------------------

_numba_cache_lock = threading.Lock()
_numba_cache_state: str | None = None  # None = not tried, "on", "off", or the reason it failed


def enable_umap_disk_cache() -> str:
    """Let umap-learn's fit-time numba functions cache their machine code on disk.

    umap-learn does not ask numba to cache the layout epoch a fit compiles (serial and
    parallel; the graph weights are numpy here, see :func:`embedcore.analysis.umap_import.import_umap`),
    so every new process spends seconds of CPU compiling it. Switching numba's own cache on for them (a public
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

            import_umap()
            from umap import layouts

            # (The fuzzy graph's two numba loops are not compiled at all: see import_umap.)
            serial = layouts._nb_optimize_layout_euclidean_single_epoch
            if isinstance(getattr(serial, "_cache", None), NullCache):
                serial.enable_caching()
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
def single_threaded_blas():
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
def parallel_numba():
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


def usable_cores() -> int:
    """Cores this process may use: numba's pool size, capped by CPU quota and affinity.

    numba sizes its pool by ``os.cpu_count()``, which inside a container with a CPU quota
    (Streamlit Community Cloud: 0.078-2 CPUs) is the host's count; more layout threads than
    the quota allows only wait for each other. joblib (loky) reads the cgroup quota.
    """
    import numba

    from embedcore import system

    return max(1, min(int(numba.config.NUMBA_NUM_THREADS), system.usable_cores()))


def layout_threads(n: int, random_state, n_jobs) -> int:
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
    available = usable_cores()
    if n_jobs is None:
        n_jobs = -1 if (random_state is None or n >= PARALLEL_LAYOUT_MIN) else 1
    return available if n_jobs == -1 else max(1, min(int(n_jobs), available))


_umap_class = None


def umap_estimator():
    """``umap.UMAP`` whose layout can run on several threads even with a seed (class made on first use)."""
    global _umap_class
    if _umap_class is None:
        umap = import_umap()  # first: without the maps extra this names it (MissingExtraError)
        import numba

        class LayoutThreadsUMAP(umap.UMAP):
            # Threads for the layout epochs; set on the instance. Not an __init__ parameter, so
            # scikit-learn's get_params / clone / repr never see it.
            __layout_threads = 1

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


# --- whether this process has compiled UMAP ----------------------------------------------------


class WarmState:
    """Whether :func:`embedcore.analysis.projection.warm_up` has finished, and how.

    Kept here, beside what the warm-up compiles, so the UMAP registration can ask
    :func:`is_warm` without importing :mod:`embedcore.analysis.projection`.
    """

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None

    def finish(self, error: BaseException | None = None) -> None:
        """Record the end of the warm-up (``error``: what stopped it)."""
        self.error = error
        self.done.set()


#: This process's warm-up.
WARM = WarmState()


def is_warm() -> bool:
    """True once the UMAP warm-up has finished successfully in this process.

    >>> isinstance(is_warm(), bool)
    True
    """
    return WARM.done.is_set() and WARM.error is None
