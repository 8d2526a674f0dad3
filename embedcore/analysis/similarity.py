"""Cosine similarity, nearest neighbours, similar pairs, clusters and heatmap row order.

Everything here works on ``float32`` row vectors and measures *cosine* similarity: rows are
normalised first, because some served models (paraphrase-multilingual-mpnet-base-v2) return
vectors that are not unit length, so a raw dot product would not be a cosine.

Large inputs are processed in row blocks sized from a memory budget, so ``top_k`` and
``top_pairs`` on 50,000 x 50,000 never hold the full similarity matrix.

scikit-learn and scipy are imported inside the functions that need them, so importing this
module costs only numpy.
"""

from __future__ import annotations

import math

import numpy as np

from embedcore.errors import EmptyInputError, InputError

__all__ = [
    "DEFAULT_BLOCK_BYTES",
    "HDBSCAN_DIMENSIONS",
    "HDBSCAN_FIT_MAX",
    "cluster_order",
    "cosine_matrix",
    "default_min_cluster_size",
    "hdbscan_labels",
    "kmeans_labels",
    "nearest_neighbours",
    "normalize_rows",
    "top_k",
    "top_pairs",
]

#: Memory budget, in bytes, for the temporaries of one block of ``top_k`` / ``top_pairs``.
DEFAULT_BLOCK_BYTES = 96 * 1024 * 1024
#: More threads than this only split the memory budget further: the product already uses BLAS's.
_MAX_TOP_K_WORKERS = 2

# Bytes per similarity-block element at most: the float32 score, a boolean mask, and up to
# 4 more for selection temporaries (see _select_top).
_BYTES_PER_ELEMENT = 4 + 1 + 4
# Columns per chunk in the candidate pre-filter of _select_top_prefiltered.
_CHUNK = 64

#: Above this many rows ``cluster_order`` skips optimal leaf ordering (O(n^3) worst case).
OPTIMAL_ORDERING_MAX = 1000
#: Above this many rows ``cluster_order`` clusters in two levels instead of one linkage over
#: all rows, whose condensed distance matrix alone would take n^2 * 4 bytes (1.6 GB at 20k).
FULL_LINKAGE_MAX = 4000


# --- input handling ----------------------------------------------------------


def _as_rows(X, name: str = "X") -> np.ndarray:
    """``X`` as a 2-D float32 array (1-D becomes one row); rejects NaN, inf and ndim > 2."""
    arr = np.asarray(X)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
        raise InputError(f"{name} must be numeric vectors; got an array of dtype {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise InputError(f"{name} must hold real numbers; got complex values.")
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    elif arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D array (texts x dimensions); got shape {arr.shape}.")
    arr = np.asarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise InputError(
            f"{name} contains NaN or infinite values (or values too large for float32); "
            "the embedding is unusable — re-embed the texts."
        )
    return arr


def _normalize_inplace(X: np.ndarray) -> np.ndarray:
    # Dividing by the row's largest magnitude first keeps the sum of squares finite for
    # values near the float32 limit and non-zero for tiny ones (no overflow, no underflow).
    scale = np.maximum(X.max(axis=1, initial=0.0), -X.min(axis=1, initial=0.0))
    np.divide(X, scale[:, None], out=X, where=scale[:, None] > 0)
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    np.divide(X, norms[:, None], out=X, where=norms[:, None] > 0)
    return X


def normalize_rows(X) -> np.ndarray:
    """Scale every row to unit Euclidean length.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_features,)
        Vectors; a 1-D array is treated as one row. Any real dtype.

    Returns
    -------
    ndarray of shape (n_samples, n_features), float32
        A new array (the input is never modified). Rows of zeros stay zeros.

    Raises
    ------
    InputError
        If ``X`` is not numeric, has more than two dimensions, or holds NaN / inf.
    """
    arr = _as_rows(X)
    # _as_rows may return the caller's own float32 array; never normalise that in place.
    out = np.array(arr, dtype=np.float32, copy=True, order="C")
    return _normalize_inplace(out)


def _as_unit_rows(X, name: str) -> np.ndarray:
    """``X`` as given by a caller who promises unit rows: only its shape and dtype are checked."""
    if not isinstance(X, np.ndarray) or X.dtype != np.float32:
        raise InputError(f"{name} must be a float32 array from normalize_rows when normalized=True.")
    return X[None, :] if X.ndim == 1 else X


def _check_same_dims(X: np.ndarray, Y: np.ndarray, xname: str, yname: str) -> None:
    if X.shape[1] != Y.shape[1]:
        raise InputError(
            f"{xname} has shape {X.shape} and {yname} has shape {Y.shape}: vectors of different "
            f"lengths ({X.shape[1]} vs {Y.shape[1]}) cannot be compared — were they made by "
            "different models?"
        )


# --- the similarity matrix ---------------------------------------------------


def cosine_matrix(X, Y=None) -> np.ndarray:
    """Cosine similarity between the rows of ``X`` and the rows of ``Y``.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features) or (n_features,)
        Vectors, not necessarily unit length; 1-D is one row.
    Y : array-like of shape (n_samples_Y, n_features), optional
        Vectors to compare against; ``None`` means ``X`` against itself.

    Returns
    -------
    ndarray of shape (n_samples_X, n_samples_Y), float32
        Cosine similarities clipped to [-1, 1]. A zero vector has similarity 0 with everything
        (itself included). With ``Y=None`` the matrix is exactly symmetric and the diagonal is 1
        for every non-zero row.

    Raises
    ------
    InputError
        (a ``ValueError``) if the two inputs have different numbers of features, or hold
        NaN / inf.
    """
    Xn = normalize_rows(X)
    if Y is None:
        # numpy routes ``A @ A.T`` to BLAS syrk (half the work of a general product),
        # which also makes the result exactly symmetric.
        S = Xn @ Xn.T
        diag = np.einsum("ii->i", S)  # a writable view of the diagonal
        diag[:] = (np.einsum("ij,ij->i", Xn, Xn) > 0).astype(np.float32)
    else:
        Yr = _as_rows(Y, "Y")
        _check_same_dims(Xn, Yr, "X", "Y")
        Yn = _normalize_inplace(np.array(Yr, dtype=np.float32, copy=True, order="C"))
        S = Xn @ Yn.T
    np.clip(S, -1.0, 1.0, out=S)
    return S


# --- top-k selection ---------------------------------------------------------


def _block_rows(n_cols: int, budget_bytes: int) -> int:
    return max(1, int(budget_bytes // (max(n_cols, 1) * _BYTES_PER_ELEMENT)))


def _select_top_prefiltered(S: np.ndarray, k: int) -> np.ndarray | None:
    """Fast exact top-k for k much smaller than the row: threshold, then sort a few candidates.

    The k-th largest of the chunk maxima is a lower bound of each row's k-th largest value (k
    chunks each hold an entry at least that large), so entries below it can be dropped after
    one cheap pass, and only the few survivors are sorted. Several times faster than
    argpartition over 10k-50k columns and without its int64 index array. Returns None
    when too many entries survive (heavy ties), for the caller to fall back.
    """
    n_cols = S.shape[1]
    n_chunks = -(-n_cols // _CHUNK)
    if n_chunks < 4 * k:
        return None
    chunk_max = np.maximum.reduceat(S, np.arange(0, n_cols, _CHUNK), axis=1)
    bound = np.partition(chunk_max, n_chunks - k, axis=1)[:, n_chunks - k]
    mask = np.greater_equal(S, bound[:, None])
    counts = np.count_nonzero(mask, axis=1)
    if counts.sum() > S.size // 16:  # the candidate arrays would cost more than S itself
        return None
    rows, cols = np.nonzero(mask)
    del mask
    # Sort candidates by row, then score descending, then column ascending.
    order = np.lexsort((cols, -S[rows, cols], rows))
    starts = np.cumsum(counts) - counts
    return cols[order[starts[:, None] + np.arange(k)]].astype(np.int64, copy=False)


def _select_top(S: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` largest entries of each row of ``S``, best first.

    Ties are broken by the lower column index, which argpartition alone does not promise:
    rows whose k-th value is tied with values left outside the selection are redone exactly.

    Parameters
    ----------
    S : ndarray of shape (n_rows, n_cols), float32, no NaN
    k : int, 1 <= k <= n_cols

    Returns
    -------
    ndarray of shape (n_rows, k), int64
    """
    n_rows, n_cols = S.shape
    fast = _select_top_prefiltered(S, k)
    if fast is not None:
        return fast
    if k == n_cols:
        idx = np.broadcast_to(np.arange(n_cols, dtype=np.int64), (n_rows, n_cols)).copy()
    else:
        # argpartition needs an int64 index per entry: go a few rows at a time so its
        # temporaries stay below the size of S.
        idx = np.empty((n_rows, k), dtype=np.int64)
        step = max(1, n_rows * 4 // 9)
        for lo in range(0, n_rows, step):
            idx[lo : lo + step] = _argpartition_top(S[lo : lo + step], k)
    vals = np.take_along_axis(S, idx, axis=1)
    order = np.lexsort((idx, -vals), axis=1)
    return np.take_along_axis(idx, order, axis=1)


def _argpartition_top(S: np.ndarray, k: int) -> np.ndarray:
    n_cols = S.shape[1]
    idx = np.argpartition(S, n_cols - k, axis=1)[:, n_cols - k :]
    vals = np.take_along_axis(S, idx, axis=1)
    kth = vals.min(axis=1)
    # How many entries equal the k-th value in the whole row vs inside the selection.
    n_eq_row = np.count_nonzero(np.equal(S, kth[:, None]), axis=1)
    n_eq_sel = np.count_nonzero(vals == kth[:, None], axis=1)
    for r in np.flatnonzero(n_eq_row > n_eq_sel):
        # Ties straddle the cut: keep everything above the k-th value plus the
        # lowest-indexed entries equal to it.
        above = np.flatnonzero(S[r] > kth[r])
        equal = np.flatnonzero(S[r] == kth[r])[: k - above.size]
        idx[r] = np.concatenate([above, equal])
    return idx


def top_k(
    query_vectors,
    corpus_vectors,
    k: int,
    *,
    exclude_self: bool = False,
    block_size: int | None = None,
    normalized: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` corpus rows most cosine-similar to each query row.

    Computed in blocks of query rows, so the full (n_queries, n_corpus) matrix is never held:
    each block costs about ``block_size * n_corpus * 13`` bytes.

    Parameters
    ----------
    query_vectors : array-like of shape (n_queries, n_features) or (n_features,)
    corpus_vectors : array-like of shape (n_corpus, n_features)
    k : int
        Neighbours per query; clamped to the number of corpus rows available (one fewer with
        ``exclude_self``).
    exclude_self : bool, default False
        Row ``i`` of the queries *is* row ``i`` of the corpus (same matrix): never return it as
        its own neighbour. Duplicates of it elsewhere are still returned.
    block_size : int, optional
        Query rows per block; by default chosen so one block's temporaries fit in
        :data:`DEFAULT_BLOCK_BYTES`.
    normalized : bool, default False
        Both matrices are float32 with rows of unit length (or zero) and no NaN / inf, as
        :func:`normalize_rows` returns them and a caller keeps them: skip the checks and the
        normalised copy (at 100,000 x 256, ~0.3 s a call — most of one query row's cost).

    Returns
    -------
    indices : ndarray of shape (n_queries, k_effective), int64
        Corpus row indices, most similar first; equal scores are ordered by lower index
        ("equal" means equal float32 values: rescaled copies may differ by rounding, and so
        may bit-identical rows, by one ulp, where the BLAS kernel sums a block edge in
        another order).
    scores : ndarray of shape (n_queries, k_effective), float32
        The cosine similarities, in [-1, 1], descending along each row.

    Raises
    ------
    InputError
        For negative ``k``, different numbers of features, NaN / inf, or ``exclude_self``
        with query and corpus of different shapes.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise InputError(f"k must be a non-negative integer; got {k!r}.")
    same = query_vectors is corpus_vectors
    if normalized:
        C = _as_unit_rows(corpus_vectors, "corpus_vectors")
        Q = C if same else _as_unit_rows(query_vectors, "query_vectors")
    else:
        C = normalize_rows(corpus_vectors)
        Q = C if same else normalize_rows(query_vectors)
    _check_same_dims(Q, C, "query_vectors", "corpus_vectors")
    if exclude_self and Q.shape != C.shape:
        raise InputError(
            "exclude_self needs the queries to be the corpus itself; got query_vectors of shape "
            f"{Q.shape} and corpus_vectors of shape {C.shape}."
        )
    n_q, n_c = Q.shape[0], C.shape[0]
    k_eff = int(min(k, n_c - 1 if exclude_self else n_c))
    k_eff = max(k_eff, 0)
    indices = np.empty((n_q, k_eff), dtype=np.int64)
    scores = np.empty((n_q, k_eff), dtype=np.float32)
    if k_eff == 0 or n_q == 0:
        return indices, scores
    from embedcore.system import usable_cores

    # Blocks on one thread per core: the selection is single-threaded numpy, so while one
    # block is selected the next one's product runs (10k x 10k: 1.9-2.1 s vs 2.6-2.8 s on two
    # busy cores). Each thread holds one block: the budget is shared between them.
    workers = max(1, min(usable_cores(), _MAX_TOP_K_WORKERS))
    if block_size is None:
        block_size = _block_rows(n_c, DEFAULT_BLOCK_BYTES // workers)
    block_size = max(1, int(block_size))
    CT = C.T

    def one_block(start: int) -> None:
        stop = min(start + block_size, n_q)
        S = Q[start:stop] @ CT
        np.clip(S, -1.0, 1.0, out=S)
        if exclude_self:
            rows = np.arange(stop - start)
            S[rows, start + rows] = -np.inf
        idx = _select_top(S, k_eff)
        indices[start:stop] = idx
        scores[start:stop] = np.take_along_axis(S, idx, axis=1)

    starts = range(0, n_q, block_size)
    if workers == 1 or len(starts) == 1:
        for start in starts:
            one_block(start)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="top-k") as pool:
            for done in [pool.submit(one_block, start) for start in starts]:
                done.result()
    return indices, scores


def nearest_neighbours(X, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other rows of every row (cosine), as ``top_k(X, X, k, exclude_self=True)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    k : int
        Clamped to ``n_samples - 1``.

    Returns
    -------
    indices : ndarray of shape (n_samples, k_effective), int64
    scores : ndarray of shape (n_samples, k_effective), float32
    """
    return top_k(X, X, k, exclude_self=True)


def top_pairs(X, n: int = 20, *, largest: bool = True) -> list[tuple[int, int, float]]:
    """The ``n`` most (or least) cosine-similar pairs of distinct rows.

    Computed in row blocks against the rows after them, so only the upper triangle is ever
    scored and memory stays within :data:`DEFAULT_BLOCK_BYTES` per block.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n : int, default 20
        Number of pairs; clamped to ``n_samples * (n_samples - 1) / 2``.
    largest : bool, default True
        ``True`` for the most similar pairs, ``False`` for the least similar.

    Returns
    -------
    list of (int, int, float)
        ``(i, j, score)`` with ``i < j``, best first (highest score when ``largest``, lowest
        otherwise); equal scores are ordered by ``(i, j)``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InputError(f"n must be a non-negative integer; got {n!r}.")
    Xn = normalize_rows(X)
    m = Xn.shape[0]
    n_eff = int(min(n, m * (m - 1) // 2))
    if n_eff == 0:
        return []
    sign = np.float32(1.0 if largest else -1.0)
    # Best so far, as parallel arrays: score (signed so that larger is better), i, j.
    best_s = np.empty(0, dtype=np.float32)
    best_i = np.empty(0, dtype=np.int64)
    best_j = np.empty(0, dtype=np.int64)
    start = 0
    while start < m - 1:
        width = m - start
        stop = min(m - 1, start + _block_rows(width, DEFAULT_BLOCK_BYTES))
        S = Xn[start:stop] @ Xn[start:].T  # rows start..stop-1 against columns start..m-1
        np.clip(S, -1.0, 1.0, out=S)
        if not largest:
            np.negative(S, out=S)
        # Keep only j > i: in the block, column c is row start + c.
        b = stop - start
        S[:, :b][np.tri(b, dtype=bool)] = -np.inf
        take = min(n_eff, S.size)
        flat = _select_top(S.reshape(1, -1), take)[0]
        bi, bj = np.divmod(flat, width)
        cand_s = np.concatenate([best_s, S.reshape(-1)[flat]])
        cand_i = np.concatenate([best_i, bi + start])
        cand_j = np.concatenate([best_j, bj + start])
        keep = np.isfinite(cand_s)
        cand_s, cand_i, cand_j = cand_s[keep], cand_i[keep], cand_j[keep]
        order = np.lexsort((cand_j, cand_i, -cand_s))[:n_eff]
        best_s, best_i, best_j = cand_s[order], cand_i[order], cand_j[order]
        start = stop
    return [(int(i), int(j), float(s * sign)) for s, i, j in zip(best_s, best_i, best_j, strict=True)]


# --- clusters and row order --------------------------------------------------


def kmeans_labels(X, n_clusters: int, random_state: int | None = 0) -> np.ndarray:
    """K-means cluster of every row, on unit-normalised rows (spherical-ish k-means).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_clusters : int
        Wanted number of clusters; clamped to the number of distinct (normalised) rows.
    random_state : int or None, default 0
        Seed of scikit-learn's ``KMeans`` (``n_init="auto"``).

    Returns
    -------
    ndarray of shape (n_samples,), int64
        Labels ``0 .. n_clusters_effective - 1``, numbered in order of first appearance
        (row 0 is in cluster 0) so colours stay put when the same data is clustered again.

    Raises
    ------
    EmptyInputError
        If ``X`` has no rows.
    InputError
        If ``n_clusters < 1`` or ``X`` holds NaN / inf.
    """
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) or n_clusters < 1:
        raise InputError(f"n_clusters must be a positive integer; got {n_clusters!r}.")
    Xn = normalize_rows(X)
    n = Xn.shape[0]
    if n == 0:
        raise EmptyInputError("There are no vectors to cluster.")
    n_distinct = np.unique(Xn, axis=0).shape[0]
    n_eff = int(min(n_clusters, n_distinct))
    if n_eff == 1:
        return np.zeros(n, dtype=np.int64)
    from sklearn.cluster import KMeans

    raw = KMeans(n_clusters=n_eff, n_init="auto", random_state=random_state).fit_predict(Xn)
    # Renumber by first appearance.
    _, first = np.unique(raw, return_index=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first)] = np.arange(first.size)
    return rank[raw]


#: Most rows HDBSCAN is fitted on; the others join the cluster of their nearest fitted row.
#: Fitting is ~1 s at 10k rows in 5-D and grows much faster than linearly (196 s at 100k).
HDBSCAN_FIT_MAX = 10_000
#: Dimensions the vectors are reduced to before HDBSCAN (BERTopic's default): density is
#: meaningless in 384-1024 dimensions, and HDBSCAN there took 60 s on 5k rows.
HDBSCAN_DIMENSIONS = 5
_REDUCERS = ("umap", "pca", None)


#: Dimensions of the PCA in which rows left out of an HDBSCAN fit find their nearest fitted row.
_ASSIGN_DIMENSIONS = 32


def _nearest_sampled(Xn: np.ndarray, fit_rows: np.ndarray, rest: np.ndarray, random_state) -> np.ndarray:
    """For each row of ``rest``, the position in ``fit_rows`` of its nearest row (unit vectors).

    Searched in a PCA of the sample rather than the full space: 90k rows against a 10k
    sample took 9 s by exact cosine on 384 dimensions, 1.9 s here (2 cores).
    """
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    sample, others = Xn[fit_rows], Xn[rest]
    if Xn.shape[1] > _ASSIGN_DIMENSIONS:
        pca = PCA(n_components=_ASSIGN_DIMENSIONS, random_state=random_state).fit(sample)
        sample, others = pca.transform(sample), pca.transform(others)
    return NearestNeighbors(n_neighbors=1).fit(sample).kneighbors(others, return_distance=False)[:, 0]


#: HDBSCAN's ``min_samples`` by default: low, so that most texts belong to a cluster. At 10
#: (the old default) a third of 1,500 real sentences were noise; see :func:`default_min_cluster_size`.
DEFAULT_MIN_SAMPLES = 3


def default_min_cluster_size(n_samples: int) -> int:
    """HDBSCAN's smallest cluster for ``n_samples`` rows: the square root of n, at least 5, at most 1,000.

    Grows with n so that the clusters stay few enough to colour and name (100 texts: 10; 1,500:
    39; 10,000: 100). Measured on the docs sample's first 1,500 sentences (11 packages) with
    ``min_samples`` 3: 11 clusters holding 77 % of the texts, where the old 1 % of n (15) with
    ``min_samples`` 10 made 23 clusters holding 65 %; on the topics sample, 6 clusters holding
    97 % (before: 85 %).
    """
    return int(min(1_000, max(5, round(math.sqrt(n_samples)))))


def _check_positive_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer of at least {minimum}; got {value!r}.")
    return int(value)


def _reduce_for_density(Xn: np.ndarray, reduce: str | None, random_state: int | None) -> np.ndarray:
    """``Xn`` (unit rows) in :data:`HDBSCAN_DIMENSIONS` dimensions, the space HDBSCAN works in."""
    n, d = Xn.shape
    if reduce is None or d <= HDBSCAN_DIMENSIONS:
        return Xn
    if reduce == "umap" and n > HDBSCAN_DIMENSIONS + 1:
        from embedcore.analysis.projection import project

        # BERTopic's recipe: min_dist 0 packs dense regions tightly, which is what density
        # clustering looks for; 15 neighbours as on the map (clamped for small sets).
        return project(
            Xn,
            "umap",
            HDBSCAN_DIMENSIONS,
            random_state=random_state,
            n_neighbors=min(15, n - 1),
            min_dist=0.0,
        )
    from sklearn.decomposition import PCA

    components = min(HDBSCAN_DIMENSIONS, n, d)
    return PCA(n_components=components, random_state=random_state).fit_transform(Xn).astype(np.float32)


def hdbscan_labels(
    X,
    min_cluster_size: int | None = None,
    *,
    min_samples: int | None = None,
    reduce: str | None = "umap",
    random_state: int | None = 0,
    max_fit: int = HDBSCAN_FIT_MAX,
) -> np.ndarray:
    """Density clusters of the rows (scikit-learn's ``HDBSCAN``): the number of clusters is found, not asked.

    Rows are unit-normalised (cosine geometry), reduced to :data:`HDBSCAN_DIMENSIONS`
    dimensions, then clustered. Rows in no dense region are *noise* (label ``-1``).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    min_cluster_size : int, optional
        Smallest group HDBSCAN calls a cluster (at least 2); default
        :func:`default_min_cluster_size` ``(n_samples)``.
    min_samples : int, optional
        How conservative the clustering is (more: more noise); default
        ``min(min_cluster_size, DEFAULT_MIN_SAMPLES)``.
    reduce : {"umap", "pca", None}, default "umap"
        How to reduce the dimensions first: UMAP (cosine, ``min_dist=0``; seeded by
        ``random_state``), PCA, or not at all (for vectors that are already low-dimensional).
    random_state : int or None, default 0
        Seed of the reduction and of the sample drawn when there are more than ``max_fit`` rows.
    max_fit : int
        Above this many rows HDBSCAN is fitted on a random sample of ``max_fit`` rows (with
        ``min_cluster_size`` scaled down in proportion), and every other row takes the label
        of its nearest sampled row (Euclidean distance of the unit vectors, in a 32-dimension
        PCA of the sample).

    Returns
    -------
    ndarray of shape (n_samples,), int64
        ``-1`` for noise, clusters ``0 .. c - 1`` numbered in order of first appearance (the
        first clustered row is in cluster 0), so colours stay put when clustered again. All
        ``-1`` when fewer rows than ``min_cluster_size`` exist or none are dense enough.

    Raises
    ------
    EmptyInputError
        If ``X`` has no rows.
    InputError
        On NaN / inf, a ``min_cluster_size`` below 2, a ``min_samples`` below 1, or an
        unknown ``reduce``.
    """
    if reduce not in _REDUCERS:
        raise InputError(f"reduce must be 'umap', 'pca' or None; got {reduce!r}.")
    Xn = normalize_rows(X)
    n = Xn.shape[0]
    if n == 0:
        raise EmptyInputError("There are no vectors to cluster.")
    size = default_min_cluster_size(n) if min_cluster_size is None else min_cluster_size
    size = _check_positive_int(size, "min_cluster_size", 2)
    samples = (
        min(size, DEFAULT_MIN_SAMPLES)
        if min_samples is None
        else _check_positive_int(min_samples, "min_samples", 1)
    )
    max_fit = _check_positive_int(max_fit, "max_fit", 2)
    labels = np.full(n, -1, dtype=np.int64)
    if n < size:
        return labels
    fit_rows = np.arange(n)
    if n > max_fit:
        rng = np.random.default_rng(random_state)
        fit_rows = np.sort(rng.choice(n, size=max_fit, replace=False))
        size = max(2, round(size * max_fit / n))
    m = fit_rows.size
    Z = _reduce_for_density(Xn[fit_rows], reduce, random_state)
    from sklearn.cluster import HDBSCAN

    raw = HDBSCAN(min_cluster_size=min(size, m), min_samples=min(samples, m), copy=True).fit_predict(Z)
    if m < n:
        rest = np.setdiff1d(np.arange(n), fit_rows, assume_unique=True)
        labels[fit_rows] = raw
        labels[rest] = raw[_nearest_sampled(Xn, fit_rows, rest, random_state)]
    else:
        labels[:] = raw
    clustered = labels >= 0
    if clustered.any():
        # Renumber by first appearance.
        ids, first = np.unique(labels[clustered], return_index=True)
        rank = np.empty(ids.size, dtype=np.int64)
        rank[np.argsort(first)] = np.arange(ids.size)
        labels[clustered] = rank[np.searchsorted(ids, labels[clustered])]
    return labels


def _linkage_order(Xn: np.ndarray, optimal: bool) -> np.ndarray:
    from scipy.cluster import hierarchy
    from scipy.spatial.distance import squareform

    if Xn.shape[0] < 3:
        return np.arange(Xn.shape[0], dtype=np.int64)
    # Cosine distance from our own matrix (scipy's "cosine" metric divides by zero norms),
    # in place and in float32 to keep the peak near 10 bytes per pair.
    D = cosine_matrix(Xn)
    np.subtract(np.float32(1.0), D, out=D)
    np.clip(D, 0.0, 2.0, out=D)
    np.fill_diagonal(D, 0.0)
    condensed = squareform(D, checks=False).astype(np.float64)
    del D
    Z = hierarchy.linkage(condensed, method="average")
    if optimal:
        Z = hierarchy.optimal_leaf_ordering(Z, condensed)
    return hierarchy.leaves_list(Z).astype(np.int64)


def cluster_order(X) -> np.ndarray:
    """A row order that puts similar rows next to each other, for a similarity heatmap.

    Average-linkage hierarchical clustering on cosine distance (scipy). Up to
    :data:`OPTIMAL_ORDERING_MAX` rows the leaves are optimally ordered (neighbouring leaves as
    similar as possible); above it, the plain dendrogram leaf order. Above
    :data:`FULL_LINKAGE_MAX` rows a two-level order is used (k-means groups ordered by a
    linkage of their centroids, rows ordered by linkage inside each group) because a full
    linkage needs O(n^2) memory.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)

    Returns
    -------
    ndarray of shape (n_samples,), int64
        A permutation of ``range(n_samples)``: ``X[order]`` is the reordered matrix.
    """
    Xn = normalize_rows(X)
    n = Xn.shape[0]
    if n <= FULL_LINKAGE_MAX:
        return _linkage_order(Xn, optimal=n <= OPTIMAL_ORDERING_MAX)
    # Groups of about FULL_LINKAGE_MAX / 4 rows (1,000): few enough for k-means to stay
    # cheap, small enough for each group's own linkage.
    labels = kmeans_labels(Xn, int(np.ceil(n / max(FULL_LINKAGE_MAX // 4, 1))))
    n_found = int(labels.max()) + 1
    centroids = np.stack([Xn[labels == g].mean(axis=0) for g in range(n_found)])
    parts = []
    for g in _linkage_order(normalize_rows(centroids), optimal=n_found <= OPTIMAL_ORDERING_MAX):
        members = np.flatnonzero(labels == g)
        if members.size > FULL_LINKAGE_MAX:
            # k-means can leave one giant group (many duplicates); keep its rows as they come.
            parts.append(members)
        else:
            parts.append(members[_linkage_order(Xn[members], optimal=members.size <= 300)])
    return np.concatenate(parts).astype(np.int64)
