"""One model's vectors on one task -> its metrics, the statistic to resample, per-item scores, failures.

:func:`score` dispatches on the task's kind. What it returns (:class:`Scored`) holds the
statistic as a function of bootstrap weights over the task's *units* — STS pairs, retrieval
queries, bitext sentences, labelled texts — so that :mod:`embedcore.evaluation.bootstrap`
can draw intervals and paired tests without knowing which task it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from . import metrics as M
from .tasks import BitextTask, ClassificationTask, RetrievalTask, STSTask

__all__ = ["PRIMARY_METRIC", "Scored", "score"]

#: The metric a verdict between models is about, per task.
PRIMARY_METRIC = {
    "sts": "spearman",
    "retrieval": "ndcg@10",
    "bitext": "accuracy",
    "classification": "accuracy",
}
#: Neighbours voting in the k-NN classifier, and at most this many cross-validation folds.
KNN_K, CV_FOLDS = 5, 5


@dataclass
class Scored:
    """What :func:`score` returns.

    Attributes
    ----------
    metrics : dict of str -> float
    stat : callable
        ``stat(weights over units) -> metrics`` (all ones gives ``metrics``).
    n_units : int
    items : DataFrame
        One row per item (pair, query, trial, text) with its own scores, for download.
    failures : list of dict
        The worst items first, each with what the model returned instead.
    details : dict
        Task-specific extras (per language pair for bitext).
    warnings : list of str
    """

    metrics: dict[str, float]
    stat: Callable[[np.ndarray], dict[str, float]]
    n_units: int
    items: pd.DataFrame
    failures: list[dict]
    details: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def score(task, vectors: np.ndarray, *, n_failures: int = 10, seed: int = 0, should_stop=None) -> Scored:
    """Score ``vectors`` (one row per text of ``task.texts()``, in that order) on ``task``.

    Examples
    --------
    >>> from embedcore.evaluation.tasks import STSTask
    >>> t = STSTask(["a", "b", "c"], ["a2", "b2", "c2"], np.array([5.0, 3.0, 0.0]))
    >>> V = np.array([[1, 0], [0.8, 0.6], [0, 1], [1, 0.1], [0.2, 1], [1, 0]], dtype=np.float32)
    >>> score(t, V).metrics["spearman"]
    1.0
    """
    texts = task.texts()
    V = np.asarray(vectors, dtype=np.float32)
    if V.ndim != 2 or V.shape[0] != len(texts):
        raise InputError(f"{len(texts)} texts to score but vectors of shape {V.shape}.")
    row = {t: i for i, t in enumerate(texts)}
    if isinstance(task, STSTask):
        return _sts(task, V, row, n_failures)
    if isinstance(task, RetrievalTask):
        return _retrieval(task, V, row, n_failures, should_stop)
    if isinstance(task, BitextTask):
        return _bitext(task, V, row, n_failures, should_stop)
    if isinstance(task, ClassificationTask):
        return _classification(task, V, row, n_failures, seed)
    raise InputError(f"Unknown task {type(task).__name__}.")


def _sts(task: STSTask, V: np.ndarray, row: dict[str, int], n_failures: int) -> Scored:
    a = V[[row[t] for t in task.text_a]]
    b = V[[row[t] for t in task.text_b]]
    cos = M.cosine_pairs(a, b)
    gold = task.scores

    def stat(w: np.ndarray) -> dict[str, float]:
        return {"spearman": M.spearman(cos, gold, w), "pearson": M.pearson(cos, gold, w)}

    metrics = stat(np.ones(len(gold)))
    warnings = []
    if not np.isfinite(metrics["spearman"]):
        warnings.append(
            "The model gave every pair the same similarity, so there is no correlation to measure."
        )
    # The worst pairs: where the model's rank of the pair is furthest from the gold rank.
    n = len(gold)
    cos_rank, gold_rank = M.rankdata(cos) / n, M.rankdata(gold) / n
    gap = cos_rank - gold_rank
    items = pd.DataFrame(
        {"text_a": task.text_a, "text_b": task.text_b, "score": gold, "cosine": cos, "rank_gap": gap}
    )
    worst = np.argsort(-np.abs(gap), kind="stable")[:n_failures]
    failures = [
        {
            "text_a": task.text_a[i],
            "text_b": task.text_b[i],
            "expected": float(gold[i]),
            "cosine": float(cos[i]),
            "why": "rated more similar than the gold score says"
            if gap[i] > 0
            else "rated less similar than the gold score says",
        }
        for i in worst
    ]
    return Scored(metrics, stat, n, items, failures, warnings=warnings)


def _retrieval(task: RetrievalTask, V, row, n_failures: int, should_stop) -> Scored:
    Q = V[[row[t] for t in task.query_texts]]
    C = V[[row[t] for t in task.corpus_texts]]
    idx, sims = M.streaming_top_k(Q, C, 100, should_stop=should_stop)
    per_query = M.retrieval_scores(idx, task.relevant)
    table = np.column_stack([per_query[m] for m in M.RETRIEVAL_METRICS])

    def stat(w: np.ndarray) -> dict[str, float]:
        means = (w @ table) / w.sum()
        return dict(zip(M.RETRIEVAL_METRICS, (float(v) for v in means), strict=True))

    metrics = stat(np.ones(len(task.query_ids)))
    first = []
    for q, rel in enumerate(task.relevant):
        found = np.flatnonzero(np.isin(idx[q], rel))
        first.append(int(found[0]) + 1 if found.size else None)
    items = pd.DataFrame(
        {
            "query_id": task.query_ids,
            "query": task.query_texts,
            "relevant": [len(r) for r in task.relevant],
            "first_relevant_rank": pd.array(first, dtype="Int64"),
            "top_document": [task.corpus_texts[i] for i in idx[:, 0]],
            **{m: per_query[m] for m in M.RETRIEVAL_METRICS},
        }
    )
    order = np.lexsort((per_query["mrr@10"], per_query["ndcg@10"]))[:n_failures]
    failures = []
    for q in order:
        if per_query["ndcg@10"][q] >= 1.0:
            break
        failures.append(
            {
                "query_id": task.query_ids[q],
                "query": task.query_texts[q],
                "relevant": [task.corpus_texts[d] for d in task.relevant[q]],
                "first_relevant_rank": first[q],  # None: not in the top 100
                "returned_instead": [
                    {"text": task.corpus_texts[d], "id": task.corpus_ids[d], "cosine": float(s)}
                    for d, s in zip(idx[q, :3], sims[q, :3], strict=False)
                    if d not in task.relevant[q]
                ],
                "ndcg@10": float(per_query["ndcg@10"][q]),
            }
        )
    return Scored(metrics, stat, len(task.query_ids), items, failures)


def _codes(values) -> tuple[list, np.ndarray]:
    distinct = sorted(set(values))
    index = {v: i for i, v in enumerate(distinct)}
    return distinct, np.array([index[v] for v in values], dtype=np.int64)


def _bitext(task: BitextTask, V, row, n_failures: int, should_stop) -> Scored:
    X = V[[row[t] for t in task.texts_]]
    langs, lang = _codes(task.languages)
    sids, sid = _codes(task.sentence_ids)
    trials = M.bitext_trials(X, sid, lang, should_stop=should_stop)
    src, tgt, rank, found = trials["source"], trials["target"], trials["rank"], trials["found"]
    ok = (rank == 1).astype(np.float64)
    rr = 1.0 / rank
    unit = sid[src]
    n_units = len(sids)
    per_sentence = np.column_stack(
        [
            np.bincount(unit, weights=ok, minlength=n_units),
            np.bincount(unit, weights=rr, minlength=n_units),
            np.bincount(unit, minlength=n_units).astype(np.float64),
        ]
    )

    def stat(w: np.ndarray) -> dict[str, float]:
        correct, recip, count = w @ per_sentence
        return {"accuracy": float(correct / count), "mrr": float(recip / count)}

    metrics = stat(np.ones(n_units))
    pairs = {}
    for s_lang in range(len(langs)):
        for t_lang in range(len(langs)):
            sel = (lang[src] == s_lang) & (tgt == t_lang)
            if sel.any():
                pairs[f"{langs[s_lang]}->{langs[t_lang]}"] = {
                    "accuracy": float(ok[sel].mean()),
                    "mrr": float(rr[sel].mean()),
                    "trials": int(sel.sum()),
                }
    items = pd.DataFrame(
        {
            "sentence_id": [task.sentence_ids[i] for i in src],
            "from": [task.languages[i] for i in src],
            "to": [langs[t] for t in tgt],
            "text": [task.texts_[i] for i in src],
            "rank": rank,
            "found": [task.texts_[i] for i in found],
        }
    )
    items["found"] = items["found"].where(rank > 1, "")
    worst = np.lexsort((src, -rank))[: min(n_failures, int((rank > 1).sum()))]
    failures = [
        {
            "sentence_id": task.sentence_ids[src[i]],
            "from": task.languages[src[i]],
            "to": langs[tgt[i]],
            "text": task.texts_[src[i]],
            "translation": next(
                task.texts_[j] for j in np.flatnonzero((sid == sid[src[i]]) & (lang == tgt[i]))
            ),
            "returned_instead": task.texts_[found[i]],
            "rank": int(rank[i]),
        }
        for i in worst
    ]
    return Scored(metrics, stat, n_units, items, failures, details={"language_pairs": pairs})


def _classification(task: ClassificationTask, V, row, n_failures: int, seed: int) -> Scored:
    from sklearn.cluster import KMeans
    from sklearn.model_selection import StratifiedKFold

    from embedcore.analysis.similarity import normalize_rows

    X = normalize_rows(V[[row[t] for t in task.texts_]])
    classes, y = _codes(task.labels)
    n_classes = len(classes)
    folds = min(CV_FOLDS, int(np.bincount(y).min()))
    predicted = np.empty_like(y)
    nearest = np.empty_like(y)
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        k = min(KNN_K, len(train))
        p, near = M.knn_predict(X[train], y[train], X[test], k)
        predicted[test], nearest[test] = p, train[near]
    clusters = KMeans(n_clusters=n_classes, n_init=10, random_state=seed).fit_predict(X)
    correct = (predicted == y).astype(np.float64)

    def stat(w: np.ndarray) -> dict[str, float]:
        return {
            "accuracy": float(w @ correct / w.sum()),
            "macro_f1": M.macro_f1(y, predicted, n_classes, w),
            "v_measure": M.v_measure(y, clusters, w),
        }

    metrics = stat(np.ones(len(y)))
    items = pd.DataFrame(
        {
            "text": task.texts_,
            "label": task.labels,
            "predicted": [classes[p] for p in predicted],
            "correct": predicted == y,
            "nearest": [task.texts_[i] for i in nearest],
            "cluster": clusters,
        }
    )
    wrong = np.flatnonzero(predicted != y)[:n_failures]
    failures = [
        {
            "text": task.texts_[i],
            "label": task.labels[i],
            "predicted": classes[predicted[i]],
            "returned_instead": task.texts_[nearest[i]],
            "returned_label": task.labels[nearest[i]],
        }
        for i in wrong
    ]
    details = {"folds": folds, "k": KNN_K, "labels": classes}
    return Scored(metrics, stat, len(y), items, failures, details=details)
