"""Clusters of embeddings and the heatmap's row order: k-means, HDBSCAN, hierarchical order.

Rows are unit-normalised first (cosine geometry), as everywhere in :mod:`embedcore.analysis.similarity`.
HDBSCAN first reduces the vectors with a UMAP (:func:`embedcore.analysis.projection.project`).
scikit-learn and scipy are imported inside the functions that need them.

Examples
--------
>>> import numpy as np
>>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
>>> kmeans_labels(X, 2).tolist()
[0, 0, 1, 1]
>>> sorted(cluster_order(X).tolist())
[0, 1, 2, 3]
>>> default_min_cluster_size(100)  # the square root, at least 5
10
"""

from __future__ import annotations

import math

import numpy as np

from embedcore.analysis.projection import project
from embedcore.analysis.similarity import cosine_matrix, normalize_rows
from embedcore.errors import EmptyInputError, InputError
from embedcore.extras import require_extra

__all__ = [
    "FULL_LINKAGE_MAX",
    "HDBSCAN_DIMENSIONS",
    "HDBSCAN_FIT_MAX",
    "OPTIMAL_ORDERING_MAX",
    "cluster_order",
    "default_min_cluster_size",
    "hdbscan_labels",
    "kmeans_labels",
]

#: Above this many rows ``cluster_order`` skips optimal leaf ordering (O(n^3) worst case).
OPTIMAL_ORDERING_MAX = 1000
#: Above this many rows ``cluster_order`` clusters in two levels instead of one linkage over
#: all rows, whose condensed distance matrix alone would take n^2 * 4 bytes (1.6 GB at 20k).
FULL_LINKAGE_MAX = 4000


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
    require_extra("maps", "k-means clusters", "sklearn")
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
    require_extra("maps", "HDBSCAN clusters", "sklearn")
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
