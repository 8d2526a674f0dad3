"""The built-in projection methods, each one runner plus one registration: UMAP, PCA and t-SNE.

A runner is ``run(X, n_components, random_state, params, notes) -> coords`` (see
:class:`embedcore.analysis.methods.ProjectionMethod`); :func:`embedcore.analysis.projection.project`
checks the input, merges the defaults, removes repeated rows for neighbour-based methods and
caches the result, so a runner only maps. PCA is plain numpy (the instant preview must not wait
for scikit-learn's import); umap-learn and scikit-learn are imported inside the runners.

Examples
--------
>>> import numpy as np
>>> auto_perplexity(100), auto_perplexity(100, 3)
(10.0, 8.3)
>>> idx, dist = exact_knn(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]), 2)
>>> idx.tolist()
[[0, 1], [1, 0], [2, 1]]
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from embedcore.analysis.checks import check_int
from embedcore.analysis.methods import ProjectionMethod, Setting, register_method
from embedcore.analysis.similarity import normalize_rows, top_k
from embedcore.analysis.umap_import import neighbours_given
from embedcore.analysis.umap_runtime import (
    enable_umap_disk_cache,
    is_warm,
    layout_threads,
    parallel_numba,
    single_threaded_blas,
    umap_estimator,
)
from embedcore.errors import InputError
from embedcore.extras import require_extra
from embedcore.memo import Memo, digest

__all__ = [
    "AUTO_EPOCHS_SWITCH",
    "LARGE_EPOCHS",
    "LARGE_NEGATIVE_SAMPLE_RATE",
    "TSNE_SINGLE_THREAD_MAX",
    "auto_perplexity",
    "cached_knn",
    "exact_knn",
    "pca_start",
]

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

#: Up to this many points t-SNE runs on one OpenMP thread (faster than two on small inputs).
TSNE_SINGLE_THREAD_MAX = 2000

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


#: Neighbour lists kept per data set (the longest asked for), least recently used out first.
KNN_MEMO_SIZE = 4
knn_memo: Memo[tuple[np.ndarray, np.ndarray]] = Memo(KNN_MEMO_SIZE)


def cached_knn(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`exact_knn`, remembered per data set (in :data:`knn_memo`).

    Changing ``min_dist`` or the number of components (or lowering ``n_neighbors``) then
    skips the kNN, 1-1.5 s of CPU at 10,000 points. The key is the data alone: a longer list
    serves every shorter ``k`` (its first k columns are exactly the k nearest, same tie order).
    """
    key = digest("knn", X)
    hit = knn_memo.get(key)
    if hit is None or hit[0].shape[1] < min(k, X.shape[0]):
        hit = knn_memo.put(key, exact_knn(X, k))
    # Copies: umap-learn writes into the arrays it is given.
    return hit[0][:, :k].copy(), hit[1][:, :k].copy()


def _is(value, name: str) -> bool:
    # ``init`` may be an array of starting positions: never compare that to a string.
    return isinstance(value, str) and value == name


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
    with single_threaded_blas():
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


def pca_start(X: np.ndarray, n_components: int, random_state) -> np.ndarray:
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
    require_extra("maps", "Maps", "sklearn")
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


def _umap(X: np.ndarray, n_components: int, random_state, params: dict, notes: list) -> np.ndarray:
    estimator = umap_estimator()
    enable_umap_disk_cache()
    n = X.shape[0]
    requested = check_int(params["n_neighbors"], "n_neighbors", 2)
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
    threads = layout_threads(n, random_state, n_jobs)
    params["n_jobs"] = -1 if n_jobs == -1 else threads  # reported as used
    kwargs = dict(params)
    if _is(kwargs.get("init"), "pca"):
        kwargs["init"] = pca_start(X, n_components, random_state)
    # With a seed umap-learn forces n_jobs=1 (and warns otherwise); the layout's threads are
    # set by the subclass instead. Without a seed umap-learn itself runs parallel.
    kwargs["n_jobs"] = 1 if random_state is not None else threads
    if kwargs.get("metric") == "cosine" and "precomputed_knn" not in kwargs:
        kwargs["precomputed_knn"] = cached_knn(X, params["n_neighbors"])
        # umap warns that transform() needs a pynndescent index; we never call transform().
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
    reducer = estimator(n_components=n_components, random_state=random_state, **kwargs)
    reducer._layout_threads = threads
    # The kNN above is one large product that does use both BLAS threads; inside the fit,
    # BLAS only serves small vector operations (numba's own threads are unaffected).
    parallel = threads > 1 or random_state is None
    given = "precomputed_knn" in kwargs
    with single_threaded_blas(), parallel_numba() if parallel else contextlib.nullcontext():
        # Tells umap-learn's stand-in for pynndescent's metric table that no search of its own
        # will follow, so asking it imports nothing (embedcore.analysis.umap_import).
        neighbours_given.on = given
        try:
            return reducer.fit_transform(X)
        finally:
            neighbours_given.on = False


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
    require_extra("maps", "t-SNE maps", "sklearn")
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


# --- the registrations ----------------------------------------------------------------------
# The order is the UI's: UMAP first (the explorer's default), then PCA and t-SNE.


register_method(
    ProjectionMethod(
        "umap",
        "UMAP",
        _umap,
        min_points=3,
        defaults={
            "n_neighbors": 15,
            "min_dist": 0.1,
            "metric": "cosine",
            # None = 500 epochs up to AUTO_EPOCHS_SWITCH points (umap-learn's number), and above it
            # LARGE_EPOCHS with LARGE_NEGATIVE_SAMPLE_RATE: fewer epochs, each pushing every point
            # away from twice as many random others (see LARGE_EPOCHS for the measurements).
            "n_epochs": None,
            # None = 5 (umap-learn's) up to AUTO_EPOCHS_SWITCH points, LARGE_NEGATIVE_SAMPLE_RATE above.
            "negative_sample_rate": None,
            # "pca": a seeded PCA start computed here (:func:`pca_start`); "spectral" (umap-learn's
            # default), "random" or an array of shape (n_samples, n_components) go to umap-learn.
            "init": "pca",
        },
        settings=(
            Setting("n_neighbors", 2, 100, help="Small: local detail; large: global structure."),
            Setting("min_dist", 0.0, 0.99, 0.01, help="How tightly points may pack."),
        ),
        # Worth a PCA preview above 2,000 points, or while numba still compiles (7-8 s of CPU fresh).
        preview_above=2_000,
        ready=is_warm,
        summary=lambda p: f"n_neighbors {p.get('n_neighbors')}, min_dist {p.get('min_dist')}",
        description="UMAP keeps neighbourhoods and clusters",
    )
)

register_method(
    ProjectionMethod(
        "pca",
        "PCA",
        _pca,
        min_points=1,
        # Rows are unit-normalised first, so PCA sees the same geometry as cosine similarity.
        defaults={
            # Rows are unit-normalised first, so PCA sees the same geometry as cosine similarity.
            "normalize": True,
        },
        neighbour_based=False,
        slow=False,
        summary=lambda p: "unit-normalised vectors",
        description="PCA is linear, instant and faithful to large distances",
    )
)

register_method(
    ProjectionMethod(
        "tsne",
        "t-SNE",
        _tsne,
        min_points=3,
        defaults={
            # None = auto_perplexity(n, n_components): 30 suits thousands of points, not 100.
            "perplexity": None,
            "metric": "cosine",
            "init": "pca",
            "learning_rate": "auto",
            "max_iter": 1000,
        },
        settings=(
            Setting(
                "perplexity",
                2,
                100,
                help="Roughly the number of neighbours each point attends to.",
                auto=lambda n, dims: round(auto_perplexity(n, dims)),
                auto_help="About a tenth of the texts (a twelfth in 3-D), between 5 and 30.",
            ),
        ),
        preview_above=1_000,
        # scikit-learn's Barnes-Hut t-SNE runs for tens of minutes on 100,000 points.
        max_points=20_000,
        summary=lambda p: f"perplexity {float(p.get('perplexity', 0)):g}",
        description="t-SNE separates clusters strongly",
    )
)
