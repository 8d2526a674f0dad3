"""The evaluation metrics, in numpy: correlations, streaming top-k retrieval, bitext, k-NN, V-measure.

Every function here takes vectors (or labels) and returns numbers; nothing embeds. Each one
was written to give what the field's reference implementation gives on the same input, and
``tests/test_evaluation_reference.py`` runs both side by side:

* :func:`spearman`, :func:`pearson` — scipy's ``spearmanr`` / ``pearsonr`` as
  sentence-transformers' ``EmbeddingSimilarityEvaluator`` calls them (average ranks for ties).
* :func:`retrieval_scores` — sentence-transformers' ``InformationRetrievalEvaluator``:
  binary relevance, hits ordered by score then by corpus id (its tie rule: pass the corpus
  sorted by id, as :mod:`embedcore.evaluation.tasks` does), ``MAP@k`` divided by
  ``min(k, relevant)``.
* :func:`knn_predict`, :func:`macro_f1` — scikit-learn's ``KNeighborsClassifier(metric="cosine")``
  (a tie in the vote goes to the smallest label) and ``f1_score(average="macro")``.
* :func:`v_measure` — scikit-learn's ``v_measure_score``.

Differences kept on purpose (documented where they apply): equal similarities are ordered by
the lower corpus row (sentence-transformers: the same, as corpus ids sort); a query without a
relevant document is left out before scoring (sentence-transformers does the same silently;
:mod:`~embedcore.evaluation.tasks` says so in a warning).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from embedcore.analysis.similarity import normalize_rows, select_top, top_k
from embedcore.errors import EvaluationCancelled, InputError

__all__ = [
    "RETRIEVAL_METRICS",
    "bitext_trials",
    "cosine_pairs",
    "knn_predict",
    "macro_f1",
    "pearson",
    "rankdata",
    "retrieval_scores",
    "spearman",
    "streaming_top_k",
    "v_measure",
]

#: The retrieval metrics, in the order they are reported.
RETRIEVAL_METRICS = ("ndcg@10", "mrr@10", "recall@1", "recall@10", "recall@100", "map@100")
#: Bytes of float32 scores per streamed block of queries (progress and Stop are looked at between blocks).
BLOCK_BYTES = 128 * 2**20
#: Columns per chunk in the selection's first pass.
_CHUNK = 64


def cosine_pairs(A, B) -> np.ndarray:
    """Cosine similarity of each row of ``A`` with the same row of ``B``.

    Parameters
    ----------
    A, B : array-like of shape (n, d)

    Returns
    -------
    ndarray of shape (n,), float64

    Examples
    --------
    >>> cosine_pairs([[1, 0], [1, 1]], [[1, 0], [0, 1]]).round(4).tolist()
    [1.0, 0.7071]
    """
    a = normalize_rows(A).astype(np.float64)
    b = normalize_rows(B).astype(np.float64)
    if a.shape != b.shape:
        raise InputError(f"A has shape {a.shape} and B has shape {b.shape}; they must match.")
    return np.einsum("ij,ij->i", a, b)


def rankdata(x, weights=None) -> np.ndarray:
    """Ranks from 1, equal values sharing their average rank (scipy's ``rankdata(method="average")``).

    With ``weights`` (non-negative integers: how often each item is repeated, as in a bootstrap
    resample), the rank each item would have among the repeated items.

    Examples
    --------
    >>> rankdata([10, 30, 20, 20]).tolist()
    [1.0, 4.0, 2.5, 2.5]
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.ones(x.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], w[order]
    # Groups of equal values: each group's ranks run from (weight before it) + 1 to + its weight.
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    group_w = np.add.reduceat(ws, starts) if xs.size else ws
    before = np.cumsum(group_w) - group_w
    avg = before + (group_w + 1) / 2
    ranks = np.empty_like(x)
    ranks[order] = np.repeat(avg, np.diff(np.r_[starts, xs.size]))
    return ranks


def pearson(x, y, weights=None) -> float:
    """Pearson's correlation (float64); NaN when either side is constant.

    Examples
    --------
    >>> round(pearson([1, 2, 3, 4], [2, 4, 5, 9]), 4)
    0.9648
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones(x.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    total = w.sum()
    dx = x - (w @ x) / total
    dy = y - (w @ y) / total
    sxx, syy = w @ (dx * dx), w @ (dy * dy)
    if sxx <= 0 or syy <= 0:
        return float("nan")
    r = (w @ (dx * dy)) / np.sqrt(sxx * syy)
    return float(np.clip(r, -1.0, 1.0))


def spearman(x, y, weights=None) -> float:
    """Spearman's rank correlation: Pearson's of the average ranks; NaN when either side is constant.

    Examples
    --------
    >>> spearman([1, 2, 3, 4], [2, 4, 5, 9])
    1.0
    """
    return pearson(rankdata(x, weights), rankdata(y, weights), weights)


def _check_stop(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise EvaluationCancelled("The evaluation was stopped.")


def streaming_top_k(
    queries,
    corpus,
    k: int,
    *,
    normalized: bool = False,
    block_bytes: int = BLOCK_BYTES,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most cosine-similar corpus rows of every query, streamed in blocks of queries.

    The full (n_queries, n_corpus) matrix is never held: one block of query rows is scored
    against the corpus (``block_bytes`` of float32 scores, one GEMM) and its top ``k`` are
    selected before the next block, so the extra memory is the normalised copies, one block and
    the result. The selection reads each block once (:func:`_top_k_block`), so it costs little
    beside the product itself (``python -m bench evaluate``).

    Parameters
    ----------
    queries : array-like of shape (n_queries, d)
    corpus : array-like of shape (n_corpus, d)
    k : int
        Clamped to ``n_corpus``.
    normalized : bool
        Both are float32 unit rows already: no normalised copies.
    block_bytes : int
        Size of one block's scores.
    progress : callable, optional
        ``progress(queries_done, n_queries)`` after each block.
    should_stop : callable, optional
        Asked before each block; True raises :class:`~embedcore.errors.EvaluationCancelled`.

    Returns
    -------
    indices : ndarray of shape (n_queries, k), int64
        Best first; equal scores by the lower corpus row.
    scores : ndarray of shape (n_queries, k), float32

    Examples
    --------
    >>> idx, sc = streaming_top_k([[1, 0], [0, 1]], [[0, 1], [1, 0.1], [1, 0]], 2)
    >>> idx.tolist()
    [[2, 1], [0, 1]]
    """
    Q = queries if normalized else normalize_rows(queries)
    C = corpus if normalized else normalize_rows(corpus)
    if Q.shape[1] != C.shape[1]:
        raise InputError(
            f"Queries have {Q.shape[1]} dimensions and the corpus {C.shape[1]}; they must match."
        )
    n_q, n_c = Q.shape[0], C.shape[0]
    k_eff = int(min(k, n_c))
    indices = np.empty((n_q, k_eff), dtype=np.int64)
    scores = np.empty((n_q, k_eff), dtype=np.float32)
    if k_eff == 0:
        return indices, scores
    rows = max(1, int(block_bytes // (4 * max(n_c, 1))))
    CT = C.T
    for start in range(0, n_q, rows):
        _check_stop(should_stop)
        stop = min(n_q, start + rows)
        S = Q[start:stop] @ CT
        idx = _top_k_block(S, k_eff)
        indices[start:stop] = idx
        scores[start:stop] = np.take_along_axis(S, idx, axis=1)
        del S
        if progress is not None:
            progress(stop, n_q)
    np.clip(scores, -1.0, 1.0, out=scores)
    return indices, scores


def _top_k_block(S: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` largest entries, best first, ties by the lower column.

    Exact, reading ``S`` once: the maxima of chunks of 64 columns (fewer in short rows) are taken; the ``k``-th largest
    chunk maximum is a lower bound of the row's ``k``-th largest entry (``k`` chunks each hold an
    entry that large), so every entry of the top ``k`` lies in a chunk whose maximum reaches the
    bound. Only those chunks (about ``k`` of them) are gathered and sorted. Rows of heavy ties,
    where too many chunks reach the bound, go to :func:`embedcore.analysis.similarity.top_k`'s selection.
    """
    b, n = S.shape
    # Chunks of 64 columns, fewer for short rows: at least 4k chunks keep the bound tight.
    chunk = min(_CHUNK, n // (4 * k))
    if chunk < 4:
        return select_top(S, k)
    # The last chunk may be shorter; reduceat takes its maximum all the same.
    maxima = np.maximum.reduceat(S, np.arange(0, n, chunk), axis=1)
    n_chunks = maxima.shape[1]
    bound = np.partition(maxima, n_chunks - k, axis=1)[:, n_chunks - k]
    reach = np.count_nonzero(maxima >= bound[:, None], axis=1)
    m = int(reach.max())
    if m > 4 * k:
        return select_top(S, k)
    # The m chunks with the largest maxima hold every chunk that reaches the bound.
    chunks = np.argpartition(maxima, n_chunks - m, axis=1)[:, n_chunks - m :]
    cols = (chunks[:, :, None] * chunk + np.arange(chunk)).reshape(b, m * chunk)
    values = S[np.arange(b)[:, None], np.minimum(cols, n - 1)]
    values[cols >= n] = -np.inf  # past the end of a short last chunk
    keep = values >= bound[:, None]
    r, c = np.nonzero(keep)
    counts = np.count_nonzero(keep, axis=1)
    order = np.lexsort((cols[r, c], -values[r, c], r))
    starts = np.cumsum(counts) - counts
    return cols[r, c][order[starts[:, None] + np.arange(k)]].astype(np.int64, copy=False)


def retrieval_scores(hits_index: np.ndarray, relevant: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per-query nDCG@10, MRR@10, Recall@1/10/100 and MAP@100 from each query's ranked corpus rows.

    Parameters
    ----------
    hits_index : ndarray of shape (n_queries, k), int
        Corpus rows best first (``k`` ≥ 100 for exact @100 metrics, or the whole corpus).
    relevant : list of ndarray of int, length n_queries
        Each query's relevant corpus rows (binary relevance; at least one each).

    Returns
    -------
    dict of str -> ndarray of shape (n_queries,), float64
        Keys :data:`RETRIEVAL_METRICS`; the metric is the mean of its array.

    Examples
    --------
    >>> s = retrieval_scores(np.array([[2, 0, 1], [0, 1, 2]]), [np.array([0]), np.array([0, 2])])
    >>> s["mrr@10"].tolist(), s["recall@1"].tolist()
    ([0.5, 1.0], [0.0, 0.5])
    """
    n_q, k = hits_index.shape
    if len(relevant) != n_q:
        raise InputError(f"{n_q} ranked lists for {len(relevant)} sets of relevant documents.")
    n_rel = np.array([len(r) for r in relevant], dtype=np.float64)
    if n_q and n_rel.min() == 0:
        raise InputError("Every query needs at least one relevant document.")
    # hits[q, j]: the j-th retrieved document of query q is relevant. Pairs are coded as
    # q * n + doc and looked up in one sorted array, so there is no loop over queries.
    n = int(max(hits_index.max(initial=0), max((r.max(initial=0) for r in relevant), default=0))) + 1
    codes = np.sort(np.concatenate([q * n + np.asarray(r, dtype=np.int64) for q, r in enumerate(relevant)]))
    wanted = np.arange(n_q, dtype=np.int64)[:, None] * n + hits_index
    pos = np.searchsorted(codes, wanted)
    hits = codes[np.minimum(pos, codes.size - 1)] == wanted
    ranks = np.arange(1, k + 1, dtype=np.float64)

    out: dict[str, np.ndarray] = {}
    # The ideal list holds min(relevant, 10) relevant documents, however short the ranked list.
    discount = 1.0 / np.log2(np.arange(2, 12, dtype=np.float64))
    top10 = hits[:, :10]
    dcg = (top10 * discount[: top10.shape[1]]).sum(axis=1)
    ideal = np.cumsum(discount)[np.minimum(n_rel, 10).astype(np.int64) - 1]
    out["ndcg@10"] = dcg / ideal
    first = np.where(hits[:, :10].any(axis=1), hits[:, :10].argmax(axis=1) + 1, 0)
    out["mrr@10"] = np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0)
    for cut in (1, 10, 100):
        out[f"recall@{cut}"] = hits[:, :cut].sum(axis=1) / n_rel
    h100 = hits[:, :100]
    precision_at_hits = np.cumsum(h100, axis=1) / ranks[: h100.shape[1]]
    out["map@100"] = (precision_at_hits * h100).sum(axis=1) / np.minimum(n_rel, 100)
    return out


def bitext_trials(
    X,
    sentence_codes: np.ndarray,
    language_codes: np.ndarray,
    *,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, np.ndarray]:
    """Every translation-retrieval trial: a text looks for its translation among all texts of another language.

    The trials are those of :func:`embedcore.alignment_report` (same accuracy): for each text
    and each *other* language its sentence exists in, rank the texts of that language by
    cosine. ``rank`` is 1 + the number of non-translations scoring at least as high as the
    best translation (a tie counts against the model, as in the alignment report).

    Parameters
    ----------
    X : array-like of shape (n_texts, d)
    sentence_codes, language_codes : ndarray of shape (n_texts,), int

    Returns
    -------
    dict of ndarray, one entry per trial
        ``source`` (row), ``target`` (language code), ``rank`` (int), ``found`` (the row ranked
        first among the non-translations: what the model returned instead when ``rank > 1``).

    Examples
    --------
    >>> X = [[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9]]
    >>> t = bitext_trials(X, np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1]))
    >>> t["rank"].tolist()
    [1, 1, 1, 1]
    """
    Xn = normalize_rows(X)
    sid = np.asarray(sentence_codes, dtype=np.int64)
    lang = np.asarray(language_codes, dtype=np.int64)
    n_sid = int(sid.max()) + 1 if sid.size else 0
    n_lang = int(lang.max()) + 1 if lang.size else 0
    present = np.zeros((n_sid, n_lang), dtype=bool)
    present[sid, lang] = True
    out: dict[str, list[np.ndarray]] = {"source": [], "target": [], "rank": [], "found": []}
    for target in range(n_lang):
        _check_stop(should_stop)
        cand = np.flatnonzero(lang == target)
        sources = np.flatnonzero((lang != target) & present[sid, target])
        if cand.size == 0 or sources.size == 0:
            continue
        cand_T = np.ascontiguousarray(Xn[cand].T)
        block = max(1, (64 * 2**20) // (cand.size * 10))
        for start in range(0, sources.size, block):
            rows = sources[start : start + block]
            S = Xn[rows] @ cand_T
            np.clip(S, -1.0, 1.0, out=S)
            own = sid[rows][:, None] == sid[cand][None, :]
            best_own = np.where(own, S, -np.inf).max(axis=1)
            others = np.where(own, -np.inf, S)
            rank = 1 + (others >= best_own[:, None]).sum(axis=1)
            found = cand[others.argmax(axis=1)]
            out["source"].append(rows)
            out["target"].append(np.full(rows.size, target, dtype=np.int64))
            out["rank"].append(rank.astype(np.int64))
            out["found"].append(found.astype(np.int64))
    return {
        key: (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)) for key, parts in out.items()
    }


def knn_predict(train, train_labels: np.ndarray, test, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k-nearest-neighbour labels by cosine, uniform votes, a tie going to the smallest label code.

    Parameters
    ----------
    train : array-like of shape (n_train, d)
    train_labels : ndarray of shape (n_train,), int (codes 0..n_classes-1)
    test : array-like of shape (n_test, d)
    k : int

    Returns
    -------
    predicted : ndarray of shape (n_test,), int
    nearest : ndarray of shape (n_test,), int
        The row of ``train`` nearest each test row.

    Examples
    --------
    >>> pred, near = knn_predict([[1, 0], [0.9, 0.2], [0, 1]], np.array([0, 0, 1]), [[0.1, 1], [1, 0.1]], 1)
    >>> pred.tolist(), near.tolist()
    ([1, 0], [2, 0])
    """
    labels = np.asarray(train_labels, dtype=np.int64)
    idx, _ = top_k(test, train, k)
    votes = np.zeros((idx.shape[0], int(labels.max()) + 1), dtype=np.int64)
    np.add.at(votes, (np.arange(idx.shape[0])[:, None], labels[idx]), 1)
    return votes.argmax(axis=1), idx[:, 0]


def macro_f1(y_true, y_pred, n_classes: int, weights=None) -> float:
    """Unweighted mean of the per-class F1 scores (a class never predicted and never true is skipped).

    ``weights``: how often each item counts (a bootstrap resample). Equal to scikit-learn's
    ``f1_score(average="macro")`` (zero for a class with no true positives).

    Examples
    --------
    >>> round(macro_f1([0, 0, 1, 1], [0, 1, 1, 1], 2), 4)
    0.7333
    """
    t = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_pred, dtype=np.int64)
    w = np.ones(t.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    tp = np.bincount(t[t == p], weights=w[t == p], minlength=n_classes)
    true_n = np.bincount(t, weights=w, minlength=n_classes)
    pred_n = np.bincount(p, weights=w, minlength=n_classes)
    seen = (true_n + pred_n) > 0
    denom = true_n + pred_n
    f1 = np.divide(2 * tp, denom, out=np.zeros(n_classes), where=denom > 0)
    return float(f1[seen].mean()) if seen.any() else 0.0


def _entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum())


def v_measure(labels_true, labels_pred, weights=None) -> float:
    """Harmonic mean of homogeneity and completeness (scikit-learn's ``v_measure_score``, beta = 1).

    Examples
    --------
    >>> v_measure([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    """
    t = np.unique(np.asarray(labels_true), return_inverse=True)[1]
    p = np.unique(np.asarray(labels_pred), return_inverse=True)[1]
    w = np.ones(t.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    table = np.zeros((t.max() + 1, p.max() + 1))
    np.add.at(table, (t, p), w)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    h_true, h_pred = _entropy(table.sum(axis=1)), _entropy(table.sum(axis=0))
    total = table.sum()
    nz = table > 0
    joint = table[nz] / total
    outer = np.outer(table.sum(axis=1), table.sum(axis=0))[nz] / total**2
    mutual = max(0.0, float((joint * (np.log(joint) - np.log(outer))).sum()))
    # scikit-learn's conventions: a score whose entropy is zero counts as perfect.
    homogeneity = mutual / h_true if h_true else 1.0
    completeness = mutual / h_pred if h_pred else 1.0
    if homogeneity + completeness == 0:
        return 0.0
    return float(2 * homogeneity * completeness / (homogeneity + completeness))
