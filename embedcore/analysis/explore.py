"""What the similarity explorer shows, as tables and coordinates: pairs, neighbours, query ranking,
mean similarity between groups, and the parts of a map a user isolates.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from embedcore.analysis.similarity import _as_rows, cluster_order, normalize_rows, top_k, top_pairs
from embedcore.errors import EmptyInputError, InputError, TooManyTextsError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "BLOCK_GROUPS_MAX",
    "MIN_ISOLATED",
    "OTHER_GROUP",
    "PAIRS_MAX_ROWS",
    "PLACEMENT_NEIGHBOURS",
    "BlockMeans",
    "Isolation",
    "QueryPlacement",
    "block_means",
    "cluster_names",
    "find_rows",
    "heatmap_rows",
    "identical_rows",
    "isolate_label",
    "isolate_selection",
    "neighbour_links",
    "neighbours_frame",
    "neighbours_of",
    "pairs_frame",
    "place_query",
    "rank_query",
    "take_rows",
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


def _rows_index(rows, n: int) -> np.ndarray:
    """``rows`` as a 1-D int64 array of valid, unique row indices (input order kept)."""
    arr = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows)
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise InputError("rows must be a 1-D sequence of row indices.")
    arr = arr.astype(np.int64, copy=False)
    if arr.min() < 0 or arr.max() >= n:
        raise InputError(f"rows holds indices outside 0..{n - 1}.")
    _, first = np.unique(arr, return_index=True)
    return arr[np.sort(first)]


def _check_length(values: Sequence[str], n: int, what: str) -> None:
    if len(values) != n:
        raise InputError(f"{len(values)} {what} for {n} vectors: one per vector is needed.")


def _pick(values: Sequence[str], rows: np.ndarray) -> np.ndarray:
    """``values[rows]`` as an object array, copying only those rows (not all 100,000 texts)."""
    out = np.empty(len(rows), dtype=object)
    out[:] = [values[int(i)] for i in rows]
    return out


def _check_texts(texts: Sequence[str], n: int, what: str = "texts") -> np.ndarray:
    _check_length(texts, n, what)
    # An object array, so fancy indexing picks texts without a Python loop.
    out = np.empty(n, dtype=object)
    out[:] = list(texts)
    return out


def _check_k(k, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"{name} must be a positive integer; got {k!r}.")
    return int(k)


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
    k = _check_k(k)
    X = X if normalized else _as_rows(X)
    n = X.shape[0]
    chosen = _rows_index(rows, n)
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

    X = X if normalized else _as_rows(X)
    n = X.shape[0]
    # Only the listed rows' texts are picked: an object array of all 100,000 texts per call
    # cost more than the neighbours themselves.
    _check_length(texts, n, "texts")
    if labels is not None:
        _check_length(labels, n, "labels")
    chosen = _rows_index(rows, n)
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

    X = _as_rows(X)
    if X.shape[0] > PAIRS_MAX_ROWS:
        m = X.shape[0]
        raise TooManyTextsError(
            f"Finding the most and least similar pairs scores every pair: {m * (m - 1) // 2:,} of them "
            f"for {m:,} texts, minutes of computing. It is done for up to {PAIRS_MAX_ROWS:,} texts; "
            "select fewer on the map, or rank the texts against one query."
        )
    text_arr = _check_texts(texts, X.shape[0])
    label_arr = None if labels is None else _check_texts(labels, X.shape[0], "labels")
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
    q = _as_rows(query_vector, "query_vector")
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

    k = _check_k(k)
    X = _as_rows(X)
    q = _one_vector(query_vector, X.shape[1])
    text_arr = _check_texts(texts, X.shape[0])
    left_out = _rows_index([] if exclude is None else exclude, X.shape[0])
    idx, scores = top_k(q, X, k + left_out.size)
    keep = ~np.isin(idx[0], left_out)
    rows, kept_scores = idx[0][keep][:k], scores[0][keep][:k]
    data: dict[str, object] = {
        "rank": np.arange(1, rows.size + 1, dtype=np.int64),
        "row": rows,
        "text": text_arr[rows],
    }
    if labels is not None:
        data["label"] = _check_texts(labels, X.shape[0], "labels")[rows]
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


def _membership_weights(distances: np.ndarray) -> np.ndarray:
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
    method : {"pca", "umap", "tsne"}
        How the map was made. For ``"pca"`` the query goes through the same linear map
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
    k = _check_k(k)
    X = _as_rows(X)
    q = _one_vector(query_vector, X.shape[1])
    C = np.asarray(coords, dtype=np.float32)
    if C.ndim != 2 or C.shape[0] != X.shape[0]:
        raise InputError(f"coords must have shape ({X.shape[0]}, n_components); got {C.shape}.")
    idx, scores = top_k(q, X, k)
    neighbours = idx[0]
    if str(method).lower() == "pca":
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
    weights = _membership_weights(1.0 - scores[0].astype(np.float64))
    point = (weights @ C[neighbours].astype(np.float64) / weights.sum()).astype(np.float32)
    name = {"umap": "UMAP", "tsne": "t-SNE"}.get(str(method).lower(), str(method))
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
        Order by :func:`embedcore.analysis.similarity.cluster_order` of the subset (similar rows
        together); otherwise keep the given order.

    Returns
    -------
    ndarray of shape (m,), int64
        Row indices of ``X``.
    """
    X = _as_rows(X)
    chosen = np.arange(X.shape[0], dtype=np.int64) if rows is None else _rows_index(rows, X.shape[0])
    if not clustered or chosen.size < 3:
        return chosen
    return chosen[cluster_order(X[chosen])]


# --- find -------------------------------------------------------------------------------------


def find_rows(
    texts: Sequence[str],
    pattern: str,
    *,
    labels: Sequence[str] | None = None,
    regex: bool = False,
    case_sensitive: bool = False,
) -> np.ndarray:
    """Rows whose text (or label) contains ``pattern``: the explorer's "Find" box.

    Parameters
    ----------
    texts : sequence of str, length n
    pattern : str
        A plain substring, or a regular expression with ``regex=True`` (searched, not
        matched: it may match anywhere in the text). Surrounding white space is ignored.
    labels : sequence of str, optional
        Searched too, so ``music`` finds every text labelled music.
    regex, case_sensitive : bool

    Returns
    -------
    ndarray of shape (m,), int64
        Matching rows in ascending order; empty for an empty pattern.

    Raises
    ------
    InputError
        An invalid regular expression, with the reason (``missing ), unterminated
        subpattern at position 3``).
    """
    import re

    pattern = str(pattern or "").strip()
    if not pattern:
        return np.zeros(0, dtype=np.int64)
    flags = 0 if case_sensitive else re.IGNORECASE
    try:
        compiled = re.compile(pattern if regex else re.escape(pattern), flags)
    except re.error as exc:
        raise InputError(f"{pattern!r} is not a valid regular expression: {exc}.") from exc
    found = _found(texts, compiled, pattern if not regex else None, case_sensitive)
    if labels is not None:
        # A label is shared by thousands of rows: test each distinct label once.
        # (Codes through a dict: np.unique sorts 100k strings, 15x slower.)
        codes: dict[str, int] = {}
        index = np.fromiter(
            (codes.setdefault(str(x), len(codes)) for x in labels), dtype=np.int64, count=len(labels)
        )
        found |= np.asarray([compiled.search(name) is not None for name in codes], dtype=bool)[index]
    return np.flatnonzero(found).astype(np.int64)


def _found(texts: Sequence[str], compiled, substring: str | None, case_sensitive: bool) -> np.ndarray:
    """Boolean mask of the texts ``compiled`` finds; a plain substring skips the regex engine.

    Python's ``in`` is several times faster than ``re.search`` per text, which is most of a
    Find's rerun at 100,000 texts.
    """
    if substring is None:
        return np.fromiter((compiled.search(str(t)) is not None for t in texts), dtype=bool, count=len(texts))
    if case_sensitive:
        return np.fromiter((substring in str(t) for t in texts), dtype=bool, count=len(texts))
    folded = substring.casefold()
    if folded != substring.lower() or not folded.isascii():
        # casefold() and re.IGNORECASE disagree on some letters (ß, Turkish i): keep the regex
        return np.fromiter((compiled.search(str(t)) is not None for t in texts), dtype=bool, count=len(texts))
    return np.fromiter((folded in str(t).lower() for t in texts), dtype=bool, count=len(texts))


# --- naming clusters --------------------------------------------------------------------------


def _same_stem(a: str, b: str) -> bool:
    """``array``/``arrays``, ``music``/``musicians``: one word the start of the other (4+ letters)."""
    short, long = sorted((a, b), key=len)
    return len(short) >= 4 and long.startswith(short[: max(4, len(short) - 1)])


def _overlap(a: str, b: str) -> bool:
    """Do two terms (words or two-word phrases) share a word, or words of one stem?"""
    return any(_same_stem(x, y) for x in a.split() for y in b.split())


def cluster_names(
    texts: Sequence[str],
    clusters,
    *,
    words: int = 3,
    stop_words: str | None = "english",
    phrases: bool = True,
) -> list[str]:
    """A short name for each cluster: distinctive, representative and diverse words or phrases.

    BERTopic's recipe (Grootendorst 2022), in three steps:

    1. **c-TF-IDF**: a term scores ``tf(term, cluster) * log(1 + A / f(term))``, with ``tf``
       the share of the cluster's texts that hold the term (each text counts once, so one long
       text cannot name its cluster), ``f`` the texts holding it anywhere and ``A`` the mean
       number of terms per cluster: terms common in *this* cluster and rare elsewhere win.
       Terms are words of three letters or more and, with ``phrases``, two-word phrases;
       English stop words and numbers are left out. A term must be held by two texts of the
       cluster (when it has four or more), so a name describes the cluster, not one text.
    2. **Diverse terms**, the way BERTopic's maximal marginal relevance re-ranks them, with a
       similarity that needs no model: the next term is the best-scoring one that overlaps
       none already chosen (a shared word, or ``array``/``arrays``, ``music``/``musicians``),
       so ``"guitar, album, song"`` rather than ``"array, arrays, numpy array"``. (A
       co-occurrence similarity as MMR's penalty lowered the share of names holding a word of
       their theme on the labelled samples: see ``bench/cluster_names.py``.)

    Rows with a negative cluster id (HDBSCAN's noise) are named nothing but count as texts
    elsewhere, so a word everywhere in the noise is not called distinctive.

    Parameters
    ----------
    texts : sequence of str, length n
    clusters : array-like of int, shape (n,)
        Cluster ids ``0 .. c - 1`` (e.g. :func:`embedcore.analysis.similarity.kmeans_labels`); ``-1``: none.
    words : int
        Terms per name.
    stop_words : str or None
        Passed to scikit-learn's ``CountVectorizer``; None keeps every word (other languages).
    phrases : bool
        Allow two-word phrases (``"hash map"``).

    Returns
    -------
    list of str, length c
        ``"guitar, album, song"``; a cluster with no usable term is named ``"cluster 3"``.
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    codes = np.asarray(clusters, dtype=np.int64).ravel()
    _check_texts(texts, codes.size)
    k = _check_k(words, "words")
    n_clusters = int(codes.max()) + 1 if codes.size else 0
    names = [f"cluster {c}" for c in range(n_clusters)]
    if not n_clusters:
        return names
    vectorizer = CountVectorizer(
        stop_words=stop_words,
        token_pattern=r"(?u)\b[^\W\d_]{3,}\b",
        ngram_range=(1, 2 if phrases else 1),
        binary=True,
        dtype=np.float32,
    )
    try:
        holds = vectorizer.fit_transform([str(t) for t in texts]).tocsr()  # text x term, 0/1
    except ValueError:  # nothing but stop words and numbers in every text
        return names
    vocabulary = vectorizer.get_feature_names_out()
    # Texts of each class holding each term; the noise (-1) is one more class, never named.
    classes = np.where(codes < 0, n_clusters, codes)
    member = sparse.csr_matrix(
        (np.ones(codes.size, dtype=np.float32), (classes, np.arange(codes.size))),
        shape=(n_clusters + 1, codes.size),
    )
    counts = np.asarray((member @ holds).todense())
    sizes = np.bincount(classes, minlength=n_clusters + 1).astype(np.float64)
    frequency = counts.sum(axis=0)
    average_terms = counts.sum() / (n_clusters + (1 if sizes[-1] else 0))
    scores = counts / np.maximum(sizes[:, None], 1.0) * np.log1p(average_terms / np.maximum(frequency, 1.0))
    column = {term: j for j, term in enumerate(vocabulary)}
    for c in range(n_clusters):
        least = 2 if sizes[c] >= 4 else 1
        # A phrase names a cluster only when each of its words is as distinctive there as the
        # phrase: "music football" where every cluster speaks of music is "football".
        usable = [
            j
            for j in np.flatnonzero(counts[c] >= least)
            if all(scores[c, column[w]] >= scores[c, j] - 1e-9 for w in vocabulary[j].split() if w in column)
        ]
        if not usable:
            continue
        # Best first; a phrase before its words when it scores the same (every text with
        # "hash" says "hash map"); then alphabetically, so a name never depends on numpy's sort.
        ranked = sorted(
            usable, key=lambda j: (-round(scores[c, j], 9), -vocabulary[j].count(" "), vocabulary[j])
        )
        chosen: list[str] = []
        for j in ranked:
            term = vocabulary[j]
            if not any(_overlap(term, other) for other in chosen):
                chosen.append(term)
                if len(chosen) == k:
                    break
        names[c] = ", ".join(chosen)
    return names


# --- mean similarity between groups -----------------------------------------------------------


@dataclass(frozen=True)
class BlockMeans:
    """Mean cosine between groups of texts: a heatmap of g × g cells instead of n × n.

    Attributes
    ----------
    names : list
        The groups (label or cluster values), in display order.
    sizes : ndarray of shape (g,), int64
        Texts per group.
    means : ndarray of shape (g, g), float32
        ``means[a, b]``: mean cosine of a text of group ``a`` and a text of group ``b``; on the
        diagonal the mean over pairs of *different* texts of the group (NaN for one text).
    codes : ndarray of shape (n_samples,), int64
        Each text's group, as a position in ``names``.
    """

    names: list
    sizes: np.ndarray
    means: np.ndarray
    codes: np.ndarray


#: Groups drawn at most in a block heatmap; smaller ones are pooled into "other".
BLOCK_GROUPS_MAX = 60
OTHER_GROUP = "other"


def block_means(
    X, groups: Sequence, *, max_groups: int = BLOCK_GROUPS_MAX, clustered: bool = True
) -> BlockMeans:
    """Mean cosine similarity within and between groups, without the n × n matrix.

    For unit rows the sum of all cosines between groups ``a`` and ``b`` is ``s_a · s_b``,
    with ``s_a`` the sum of group ``a``'s rows, so the whole table costs one pass over ``X``
    (O(n d + g² d)): 100,000 texts need no 40 GB matrix.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    groups : sequence, length n_samples
        Each text's group (a label, a cluster name).
    max_groups : int
        At most this many groups; beyond, the largest ``max_groups - 1`` are kept and the
        rest pooled into one group named :data:`OTHER_GROUP`.
    clustered : bool
        Order the groups so similar ones sit together (hierarchical clustering of their mean
        vectors); otherwise largest first.

    Returns
    -------
    BlockMeans

    Raises
    ------
    EmptyInputError
        If ``X`` has no rows.
    InputError
        On a length mismatch, NaN / inf, or ``max_groups < 2``.
    """
    from scipy import sparse

    max_groups = _check_k(max_groups, "max_groups")
    if max_groups < 2:
        raise InputError(f"max_groups must be at least 2; got {max_groups}.")
    Xn = normalize_rows(X)
    n = Xn.shape[0]
    if n == 0:
        raise EmptyInputError("There are no vectors to group.")
    values = list(_check_texts(groups, n, "groups"))
    counts: dict = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    names = sorted(counts, key=lambda v: (-counts[v], str(v)))
    if len(names) > max_groups:
        names = [*names[: max_groups - 1], OTHER_GROUP]
    position = {name: i for i, name in enumerate(names)}
    pooled = position.get(OTHER_GROUP, -1) if len(counts) > max_groups else -1
    codes = np.fromiter((position.get(v, pooled) for v in values), dtype=np.int64, count=n)
    g = len(names)
    membership = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(g, n))
    sums = np.asarray(membership @ Xn.astype(np.float64))
    sizes = np.bincount(codes, minlength=g).astype(np.int64)
    self_terms = np.bincount(codes, weights=np.einsum("ij,ij->i", Xn, Xn, dtype=np.float64), minlength=g)
    totals = sums @ sums.T
    with np.errstate(invalid="ignore", divide="ignore"):
        means = totals / np.outer(sizes, sizes)
        within = (np.diag(totals) - self_terms) / (sizes * (sizes - 1.0))
    means[np.diag_indices(g)] = np.where(sizes > 1, within, np.nan)
    order = np.arange(g)
    if clustered and g >= 3:
        order = cluster_order(sums / sizes[:, None])
    rank = np.empty(g, dtype=np.int64)
    rank[order] = np.arange(g)
    return BlockMeans(
        names=[names[i] for i in order],
        sizes=sizes[order],
        means=means[np.ix_(order, order)].astype(np.float32),
        codes=rank[codes],
    )


# --- isolating part of a map ------------------------------------------------------------------

#: Fewest texts a map can be narrowed to: UMAP and t-SNE need three.
MIN_ISOLATED = 3


@dataclass(frozen=True)
class Isolation:
    """One narrowing of a map to part of its texts ("isolate selection", "only this label").

    Attributes
    ----------
    rows : ndarray of shape (m,), int64
        Rows of the *full* text set kept, ascending.
    kind : str
        ``"selection"`` or ``"label"``.
    label : object
        The label kept (``kind == "label"``).
    """

    rows: np.ndarray
    kind: str
    label: object = None

    @property
    def description(self) -> str:
        """``"isolated selection"`` or ``"only label “music”"``."""
        return "isolated selection" if self.kind == "selection" else f"only label “{self.label}”"


def _isolation(rows: np.ndarray, shown: int, kind: str, label: object = None, what: str = "") -> Isolation:
    if rows.size < MIN_ISOLATED:
        raise InputError(
            f"A map needs at least {MIN_ISOLATED} texts; {what} {'has' if rows.size == 1 else 'have'} "
            f"{rows.size}."
        )
    if rows.size == shown:
        raise InputError(f"The map already shows only these {shown:,} texts.")
    return Isolation(np.sort(rows), kind, label)


def isolate_selection(view_rows, picked) -> Isolation:
    """Narrow a map to the texts picked on it.

    Parameters
    ----------
    view_rows : array-like of int, shape (m,)
        Rows of the full set the map shows now (``range(n)`` when nothing is isolated).
    picked : sequence of int
        Positions *within the map* (0 .. m - 1), as its selection gives them.

    Returns
    -------
    Isolation
        Rows of the full set.

    Raises
    ------
    InputError
        Positions outside the map, fewer than :data:`MIN_ISOLATED` texts, or all of them.
    """
    view = _rows_index(view_rows, np.iinfo(np.int64).max)
    chosen = _rows_index(picked, view.size)
    return _isolation(view[chosen], view.size, "selection", what="the selection")


def isolate_label(view_rows, labels: Sequence, label) -> Isolation:
    """Narrow a map to the texts with one label.

    Parameters
    ----------
    view_rows : array-like of int, shape (m,)
        Rows of the full set the map shows now.
    labels : sequence, length n
        Labels of the *full* set.
    label
        The label to keep.

    Raises
    ------
    InputError
        No shown text has that label, fewer than :data:`MIN_ISOLATED` do, or all of them do.
    """
    view = _rows_index(view_rows, len(labels))
    label_arr = _check_texts(labels, len(labels), "labels")
    rows = view[label_arr[view] == label] if view.size else view
    if rows.size == 0:
        raise InputError(f"No text on the map has the label “{label}”.")
    return _isolation(rows, view.size, "label", label, what=f"label “{label}”")


def take_rows(rows, X, texts: Sequence[str], labels: Sequence[str] | None = None):
    """``(X[rows], texts, labels)`` of part of a text set (labels None when there are none).

    Returns
    -------
    vectors : ndarray of shape (m, n_features), float32
    texts : list of str, length m
    labels : list of str, length m, or None
    """
    X = _as_rows(X)
    n = X.shape[0]
    chosen = _rows_index(rows, n)
    text_arr = _check_texts(texts, n)
    label_arr = None if labels is None else _check_texts(labels, n, "labels")
    return (
        X[chosen],
        text_arr[chosen].tolist(),
        None if label_arr is None else label_arr[chosen].tolist(),
    )
