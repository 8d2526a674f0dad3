"""What the similarity explorer shows, as tables and coordinates: pairs, neighbours, query ranking
and placement, heatmap rows (groups of texts are in :mod:`embedcore.analysis.groups`, Find in
:mod:`embedcore.analysis.find`).

Everything here takes the corpus vectors and texts the explorer already has and returns
pandas DataFrames (for tables and CSV exports) or small numpy arrays (for the map), so the
page only draws. The maths is :mod:`embedcore.analysis.similarity`'s; this module arranges it.

Placing a typed query on a map
-------------------------------
* **PCA** is linear, so the query goes through the *same* linear map as the corpus.
  :func:`place_query` recovers that map from the corpus and its coordinates (no refit, no
  access to the fitted estimator needed) and checks that it reproduces them.
* **UMAP / t-SNE** have no quick, faithful way to add a point: umap-learn's ``transform``
  needs a nearest-neighbour index we never build and compiles more numba code; t-SNE has no
  transform at all. The query is placed where umap-learn's own ``transform`` *starts* a new
  point: the membership-weighted mean of its nearest texts' positions.

pandas is imported inside the functions (``import embedcore`` stays light).

Examples
--------
>>> import numpy as np
>>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
>>> idx, scores = neighbours_of(X, [0], 1)
>>> idx.tolist()
[[1]]
>>> neighbour_links(X, 2, 1)
[(2, 3)]
>>> identical_rows(["a", "b", "a"], "a").tolist()
[0, 2]
>>> from embedcore.analysis.projection import project
>>> coords = project(X, "pca")
>>> place_query([1.0, 0.0], X, coords, "pca").how  # PCA is linear: the query goes through it
'linear'
>>> heatmap_rows(X, clustered=False).tolist()
[0, 1, 2, 3]
>>> rank_query([1.0, 0.0], X, ["a", "b", "c", "d"], k=2)["text"].tolist()
['a', 'b']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from embedcore.analysis.checks import as_rows, check_k, check_length, rows_index, texts_array
from embedcore.analysis.clustering import cluster_order
from embedcore.analysis.projection import get_method
from embedcore.analysis.similarity import normalize_rows, top_k, top_pairs
from embedcore.errors import InputError, TooManyTextsError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "PAIRS_MAX_ROWS",
    "PLACEMENT_NEIGHBOURS",
    "QueryPlacement",
    "heatmap_rows",
    "identical_rows",
    "membership_weights",
    "neighbour_links",
    "neighbours_frame",
    "neighbours_of",
    "pairs_frame",
    "place_query",
    "rank_query",
]

#: Most rows :func:`pairs_frame` searches: every pair is scored, n²/2 of them (20,000 rows: 2·10^8
#: pairs, seconds; 100,000 rows: 5·10^9, minutes of CPU on two cores).
PAIRS_MAX_ROWS = 20_000

#: Nearest texts whose positions place a query on a UMAP / t-SNE map.
PLACEMENT_NEIGHBOURS = 10

#: Largest relative error accepted when checking that a recovered PCA map reproduces the
#: corpus coordinates (float32 round-off is ~1e-6; anything near 1e-2 means "not that PCA").
_LINEAR_TOLERANCE = 1e-3


# --- input checks ---------------------------------------------------------------------------


def _pick(values: Sequence[str], rows: np.ndarray) -> np.ndarray:
    """``values[rows]`` as an object array, copying only those rows (not all 100,000 texts)."""
    out = np.empty(len(rows), dtype=object)
    out[:] = [values[int(i)] for i in rows]
    return out


# --- neighbours of chosen rows ---------------------------------------------------------------


def neighbours_of(X, rows, k: int, *, normalized: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest *other* rows of each chosen row, by cosine.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The corpus vectors.
    rows : sequence of int, length m
        Rows to find neighbours for (e.g. points selected on a map); repeats are dropped.
    k : int
        Neighbours per row; clamped to ``n_samples - 1``.
    normalized : bool
        ``X`` is :func:`embedcore.analysis.similarity.normalize_rows` output kept by the caller: see
        :func:`embedcore.analysis.similarity.top_k`.

    Returns
    -------
    indices : ndarray of shape (m, k_effective), int64
        Neighbour rows, most similar first, never the row itself (its exact duplicates can
        appear: they are other texts).
    scores : ndarray of shape (m, k_effective), float32
        Cosine similarities, descending along each row.
    """
    k = check_k(k)
    X = X if normalized else as_rows(X)
    n = X.shape[0]
    chosen = rows_index(rows, n)
    k_eff = min(k, n - 1)
    if chosen.size == 0 or k_eff < 1:
        return np.empty((chosen.size, 0), dtype=np.int64), np.empty((chosen.size, 0), dtype=np.float32)
    # One extra candidate stands in for the row itself. Among equal scores (duplicates) the
    # row need not come first, so it is dropped wherever it appears, else the last one is.
    idx, scores = top_k(X[chosen], X, k_eff + 1, normalized=normalized)
    is_self = idx == chosen[:, None]
    keep = np.argsort(is_self, axis=1, kind="stable")[:, :k_eff]
    return np.take_along_axis(idx, keep, axis=1), np.take_along_axis(scores, keep, axis=1)


def neighbour_links(X, row: int, k: int, *, normalized: bool = False) -> list[tuple[int, int]]:
    """Lines from ``row`` to its ``k`` nearest other rows by cosine, as the map draws them.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    row : int
        The text the lines start from (a clicked point).
    k : int
        Neighbours; clamped to ``n_samples - 1`` as in :func:`neighbours_of`.
    normalized : bool
        As in :func:`neighbours_of`.

    Returns
    -------
    list of (int, int)
        ``(row, neighbour)`` pairs, most similar neighbour first; empty for a single text.
    """
    neighbours, _ = neighbours_of(X, [row], k, normalized=normalized)
    return [(int(row), int(j)) for j in neighbours[0]]


def neighbours_frame(
    X,
    rows,
    texts: Sequence[str],
    labels: Sequence[str] | None = None,
    *,
    k: int = 5,
    coords=None,
    normalized: bool = False,
) -> pd.DataFrame:
    """One line per (chosen row, neighbour): what the explorer lists for selected points.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    rows : sequence of int, length m
        Chosen rows, in the order to list them.
    texts : sequence of str, length n_samples
    labels : sequence of str, length n_samples, optional
    k : int
        Neighbours per chosen row (clamped to ``n_samples - 1``).
    coords : array-like of shape (n_samples, 2) or (n_samples, 3), optional
        Map coordinates; adds the chosen row's ``x``, ``y`` (, ``z``).
    normalized : bool
        As in :func:`neighbours_of`.

    Returns
    -------
    pandas.DataFrame
        ``m * k_effective`` lines (just ``m`` when there are no other rows, with empty
        neighbour columns) and columns ``row``, ``text``, [``label``], [``x``, ``y``, ``z``],
        ``rank`` (1 = nearest), ``neighbour_row``, ``neighbour``, [``neighbour_label``],
        ``cosine``.
    """
    import pandas as pd

    X = X if normalized else as_rows(X)
    n = X.shape[0]
    # Only the listed rows' texts are picked: an object array of all 100,000 texts per call
    # cost more than the neighbours themselves.
    check_length(texts, n, "texts")
    if labels is not None:
        check_length(labels, n, "labels")
    chosen = rows_index(rows, n)
    idx, scores = neighbours_of(X, chosen, k, normalized=normalized)
    k_eff = idx.shape[1]
    if k_eff == 0:
        # Nothing to compare with (one text): still list the chosen rows.
        base = chosen
        nb = np.full(chosen.size, -1, dtype=np.int64)
        rank = np.zeros(chosen.size, dtype=np.int64)
        cos = np.full(chosen.size, np.nan, dtype=np.float32)
    else:
        base = np.repeat(chosen, k_eff)
        nb = idx.ravel()
        rank = np.tile(np.arange(1, k_eff + 1, dtype=np.int64), chosen.size)
        cos = scores.ravel()
    data: dict[str, object] = {"row": base, "text": _pick(texts, base)}
    if labels is not None:
        data["label"] = _pick(labels, base)
    if coords is not None:
        xyz = np.asarray(coords, dtype=np.float32)
        if xyz.ndim != 2 or xyz.shape[0] != n or xyz.shape[1] not in (2, 3):
            raise InputError(f"coords must have shape ({n}, 2) or ({n}, 3); got {xyz.shape}.")
        for axis, name in enumerate("xyz"[: xyz.shape[1]]):
            data[name] = xyz[base, axis]
    has_nb = nb >= 0
    data["rank"] = rank
    # Nullable integers: a missing neighbour stays empty instead of turning the column into floats.
    data["neighbour_row"] = pd.Series(nb, dtype="Int64").mask(~has_nb).array
    data["neighbour"] = np.where(has_nb, _pick(texts, np.where(has_nb, nb, 0)), None)
    if labels is not None:
        data["neighbour_label"] = np.where(has_nb, _pick(labels, np.where(has_nb, nb, 0)), None)
    data["cosine"] = cos
    return pd.DataFrame(data)


# --- pairs ------------------------------------------------------------------------------------


def pairs_frame(
    X,
    texts: Sequence[str],
    labels: Sequence[str] | None = None,
    *,
    n: int = 20,
    largest: bool = True,
) -> pd.DataFrame:
    """The ``n`` most (or least) similar pairs of distinct rows, with their texts.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    texts : sequence of str, length n_samples
    labels : sequence of str, length n_samples, optional
    n : int
        Pairs wanted; fewer when there are fewer pairs.
    largest : bool
        ``True`` for the most similar pairs (highest cosine first), ``False`` for the least
        similar (lowest first).

    Returns
    -------
    pandas.DataFrame
        Columns ``row_a``, ``row_b`` (``row_a < row_b``), ``text_a``, ``text_b``,
        [``label_a``, ``label_b``], ``cosine`` (float32), one line per pair, best first.

    Raises
    ------
    TooManyTextsError
        More than :data:`PAIRS_MAX_ROWS` rows: scoring every pair would take minutes.
    """
    import pandas as pd

    X = as_rows(X)
    if X.shape[0] > PAIRS_MAX_ROWS:
        m = X.shape[0]
        raise TooManyTextsError(
            f"Finding the most and least similar pairs scores every pair: {m * (m - 1) // 2:,} of them "
            f"for {m:,} texts, minutes of computing. It is done for up to {PAIRS_MAX_ROWS:,} texts; "
            "select fewer on the map, or rank the texts against one query."
        )
    text_arr = texts_array(texts, X.shape[0])
    label_arr = None if labels is None else texts_array(labels, X.shape[0], "labels")
    pairs = top_pairs(X, n, largest=largest)
    a = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
    b = np.fromiter((p[1] for p in pairs), dtype=np.int64, count=len(pairs))
    data: dict[str, object] = {"row_a": a, "row_b": b, "text_a": text_arr[a], "text_b": text_arr[b]}
    if label_arr is not None:
        data["label_a"] = label_arr[a]
        data["label_b"] = label_arr[b]
    data["cosine"] = np.fromiter((p[2] for p in pairs), dtype=np.float32, count=len(pairs))
    return pd.DataFrame(data)


# --- a typed query ---------------------------------------------------------------------------


def _one_vector(query_vector, n_features: int) -> np.ndarray:
    q = as_rows(query_vector, "query_vector")
    if q.shape[0] != 1:
        raise InputError(f"Expected one query vector; got {q.shape[0]}.")
    if q.shape[1] != n_features:
        raise InputError(
            f"The query vector has {q.shape[1]} dimensions and the corpus {n_features}: "
            "embed the query with the model that embedded the texts."
        )
    return q


def identical_rows(texts: Sequence[str], query: str) -> np.ndarray:
    """Rows whose text is the query itself (ignoring surrounding whitespace).

    Returns
    -------
    ndarray of shape (m,), int64
        Ascending row indices; empty when the query is not one of the texts.
    """
    wanted = str(query).strip()
    return np.flatnonzero(
        np.fromiter((str(t).strip() == wanted for t in texts), dtype=bool, count=len(texts))
    )


def rank_query(
    query_vector,
    X,
    texts: Sequence[str],
    labels: Sequence[str] | None = None,
    *,
    k: int = 10,
    exclude: Sequence[int] | np.ndarray | None = None,
) -> pd.DataFrame:
    """The corpus ranked by cosine similarity to one query.

    Parameters
    ----------
    query_vector : array-like of shape (n_features,) or (1, n_features)
        The query, embedded with the same model as the corpus.
    X : array-like of shape (n_samples, n_features)
    texts : sequence of str, length n_samples
    labels : sequence of str, length n_samples, optional
    k : int
        How many results (clamped to the rows available).
    exclude : sequence of int, optional
        Rows never to return — e.g. :func:`identical_rows`, since a text identical to the
        query always ranks first with cosine 1 and says nothing about the model.

    Returns
    -------
    pandas.DataFrame
        Columns ``rank`` (1 = best), ``row``, ``text``, [``label``], ``cosine`` (float32),
        best first; equal scores in row order.
    """
    import pandas as pd

    k = check_k(k)
    X = as_rows(X)
    q = _one_vector(query_vector, X.shape[1])
    text_arr = texts_array(texts, X.shape[0])
    left_out = rows_index([] if exclude is None else exclude, X.shape[0])
    idx, scores = top_k(q, X, k + left_out.size)
    keep = ~np.isin(idx[0], left_out)
    rows, kept_scores = idx[0][keep][:k], scores[0][keep][:k]
    data: dict[str, object] = {
        "rank": np.arange(1, rows.size + 1, dtype=np.int64),
        "row": rows,
        "text": text_arr[rows],
    }
    if labels is not None:
        data["label"] = texts_array(labels, X.shape[0], "labels")[rows]
    data["cosine"] = kept_scores
    return pd.DataFrame(data)


@dataclass(frozen=True)
class QueryPlacement:
    """Where a query lands on a map, and how that was worked out.

    Attributes
    ----------
    coords : ndarray of shape (n_components,), float32
    how : str
        ``"linear"`` (the PCA map applied to the query) or ``"neighbours"`` (weighted mean of
        the nearest texts' positions).
    neighbours : ndarray of shape (k,), int64
        The nearest rows used (``"neighbours"``) or simply the query's nearest rows.
    description : str
        One sentence for a caption.
    """

    coords: np.ndarray
    how: str
    neighbours: np.ndarray
    description: str


def _linear_map(Xn: np.ndarray, coords: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(mean, W)`` with ``coords ≈ (Xn - mean) @ W`` when ``coords`` is a PCA of ``Xn``, else None.

    For PCA, ``coords = Xc @ V`` with ``Xc`` the centred data and ``V`` (d, c) orthonormal
    principal axes, so ``Xc.T @ coords = V diag(eigenvalues)``: normalising the columns of
    ``Xc.T @ coords`` gives ``V`` back exactly, at the cost of one (d, n) x (n, c) product —
    whatever solver (full, randomized, ARPACK) made the map. Axes a tiny corpus cannot span are
    all-zero coordinates and stay zero.
    """
    mean = Xn.mean(axis=0, dtype=np.float64).astype(np.float32)
    Xc = Xn - mean
    C = coords.astype(np.float32, copy=False)
    V = Xc.T @ C
    norms = np.linalg.norm(V, axis=0)
    np.divide(V, norms, out=V, where=norms > 0)
    V[:, norms <= 0] = 0.0
    scale = float(np.linalg.norm(C))
    if scale == 0.0:
        return mean, V
    error = float(np.linalg.norm(Xc @ V - C)) / scale
    return (mean, V) if error <= _LINEAR_TOLERANCE else None


def membership_weights(distances: np.ndarray) -> np.ndarray:
    """UMAP's fuzzy membership weights for one point's neighbour distances (ascending).

    ``w_j = exp(-(d_j - rho) / sigma)`` with ``rho`` the nearest distance and ``sigma`` chosen
    so the weights sum to ``log2(k)`` — umap-learn's ``smooth_knn_dist`` for a single point,
    written out here because calling it would compile numba code (seconds) for one query.
    """
    d = np.asarray(distances, dtype=np.float64)
    k = d.size
    if k == 1:
        return np.ones(1)
    target = np.log2(k)
    gaps = d - d[0]
    if not np.any(gaps > 0):
        return np.ones(k)
    lo, hi = 0.0, np.inf
    sigma = 1.0
    for _ in range(64):  # bisection, as umap-learn does
        total = np.exp(-gaps / sigma).sum()
        if abs(total - target) < 1e-5:
            break
        if total > target:
            hi = sigma
            sigma = (lo + hi) / 2
        else:
            lo = sigma
            sigma = sigma * 2 if hi == np.inf else (lo + hi) / 2
    return np.exp(-gaps / sigma)


def place_query(query_vector, X, coords, method: str, *, k: int = PLACEMENT_NEIGHBOURS) -> QueryPlacement:
    """Where to draw a query on a map of the corpus.

    Parameters
    ----------
    query_vector : array-like of shape (n_features,) or (1, n_features)
    X : array-like of shape (n_samples, n_features)
        The corpus the map was made from.
    coords : array-like of shape (n_samples, n_components)
        The map (from :func:`embedcore.analysis.projection.project`).
    method : str
        How the map was made (a registered method). For a linear one (PCA; registered with
        ``neighbour_based=False``) the query goes through the same linear map
        (recovered from ``X`` and ``coords``, and checked: if the coordinates are not a
        cosine-geometry PCA of ``X`` the neighbour rule is used instead). Otherwise the
        query lands at the membership-weighted mean of its ``k`` nearest texts' positions,
        where umap-learn's ``transform`` starts a new point.
    k : int
        Neighbours for the weighted mean (clamped to ``n_samples``).

    Returns
    -------
    QueryPlacement
    """
    k = check_k(k)
    X = as_rows(X)
    q = _one_vector(query_vector, X.shape[1])
    C = np.asarray(coords, dtype=np.float32)
    if C.ndim != 2 or C.shape[0] != X.shape[0]:
        raise InputError(f"coords must have shape ({X.shape[0]}, n_components); got {C.shape}.")
    idx, scores = top_k(q, X, k)
    neighbours = idx[0]
    spec = get_method(method)
    if not spec.neighbour_based:
        Xn = normalize_rows(X)
        linear = _linear_map(Xn, C)
        if linear is not None:
            mean, V = linear
            point = ((normalize_rows(q)[0] - mean) @ V).astype(np.float32)
            return QueryPlacement(
                point,
                "linear",
                neighbours,
                "The query is placed by the same PCA that made the map (an exact linear projection).",
            )
    weights = membership_weights(1.0 - scores[0].astype(np.float64))
    point = (weights @ C[neighbours].astype(np.float64) / weights.sum()).astype(np.float32)
    name = spec.display_name
    return QueryPlacement(
        point,
        "neighbours",
        neighbours,
        f"The query is placed at the similarity-weighted centre of its {neighbours.size} nearest "
        f"texts ({name} cannot add a point to a finished map quickly); its ranking is exact.",
    )


# --- heatmap rows ----------------------------------------------------------------------------


def heatmap_rows(X, rows=None, *, clustered: bool = True) -> np.ndarray:
    """Rows to draw in a similarity heatmap, in display order.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    rows : sequence of int, optional
        A subset (e.g. selected points); default all rows.
    clustered : bool
        Order by :func:`embedcore.analysis.clustering.cluster_order` of the subset (similar rows
        together); otherwise keep the given order.

    Returns
    -------
    ndarray of shape (m,), int64
        Row indices of ``X``.
    """
    X = as_rows(X)
    chosen = np.arange(X.shape[0], dtype=np.int64) if rows is None else rows_index(rows, X.shape[0])
    if not clustered or chosen.size < 3:
        return chosen
    return chosen[cluster_order(X[chosen])]
