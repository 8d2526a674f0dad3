"""Groups of texts on the explorer's map: cluster names, mean similarity between groups, and the
parts of a map a user isolates (a selection, one label).

Like :mod:`embedcore.analysis.explore`, this takes the corpus vectors and texts the explorer already
has and returns small arrays, tables or dataclasses, so the page only draws.

Examples
--------
>>> import numpy as np
>>> part = isolate_selection([10, 11, 12, 13, 14], [0, 2, 4])
>>> part.rows.tolist(), part.kind
([10, 12, 14], 'selection')
>>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
>>> means = block_means(X, ["a", "a", "b"], clustered=False)
>>> means.names, means.sizes.tolist()
(['a', 'b'], [2, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embedcore.analysis.checks import as_rows, check_k, rows_index, texts_array
from embedcore.analysis.clustering import cluster_order
from embedcore.analysis.similarity import normalize_rows
from embedcore.errors import EmptyInputError, InputError
from embedcore.extras import require_extra

__all__ = [
    "BLOCK_GROUPS_MAX",
    "MIN_ISOLATED",
    "OTHER_GROUP",
    "BlockMeans",
    "Isolation",
    "block_means",
    "cluster_names",
    "isolate_label",
    "isolate_selection",
    "take_rows",
]


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
        Cluster ids ``0 .. c - 1`` (e.g. :func:`embedcore.analysis.clustering.kmeans_labels`); ``-1``: none.
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

    require_extra("maps", "Naming clusters", "sklearn")
    from sklearn.feature_extraction.text import CountVectorizer

    codes = np.asarray(clusters, dtype=np.int64).ravel()
    texts_array(texts, codes.size)
    k = check_k(words, "words")
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

    max_groups = check_k(max_groups, "max_groups")
    if max_groups < 2:
        raise InputError(f"max_groups must be at least 2; got {max_groups}.")
    Xn = normalize_rows(X)
    n = Xn.shape[0]
    if n == 0:
        raise EmptyInputError("There are no vectors to group.")
    values = list(texts_array(groups, n, "groups"))
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
    view = rows_index(view_rows, np.iinfo(np.int64).max)
    chosen = rows_index(picked, view.size)
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
    view = rows_index(view_rows, len(labels))
    label_arr = texts_array(labels, len(labels), "labels")
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
    X = as_rows(X)
    n = X.shape[0]
    chosen = rows_index(rows, n)
    text_arr = texts_array(texts, n)
    label_arr = None if labels is None else texts_array(labels, n, "labels")
    return (
        X[chosen],
        text_arr[chosen].tolist(),
        None if label_arr is None else label_arr[chosen].tolist(),
    )
