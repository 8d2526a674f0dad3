"""Our evaluation metrics against the field's reference implementations, on the same vectors.

sentence-transformers' EmbeddingSimilarityEvaluator and InformationRetrievalEvaluator are run
on a model stand-in that answers ``encode()`` from precomputed vectors (a unit-test fixture:
the references must see exactly the vectors we score); scikit-learn's k-NN, F1 and V-measure
and scipy's correlations on the same labels. Everything must agree to 1e-6.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from embedcore.evaluation import metrics as M
from embedcore.evaluation.bootstrap import resample_weights
from embedcore.evaluation.run import evaluate_vectors
from embedcore.evaluation.scoring import score
from embedcore.evaluation.tasks import BitextTask, ClassificationTask, STSTask, read_retrieval

st_eval = pytest.importorskip("sentence_transformers.sentence_transformer.evaluation")
torch = pytest.importorskip("torch")


class PrecomputedModel:
    """Unit-test fixture: a SentenceTransformer stand-in whose encode() returns given vectors."""

    similarity_fn_name = "cosine"

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table
        self.model_card_data = SimpleNamespace(set_evaluation_metrics=lambda *args, **kwargs: None)

    def similarity(self, a, b):
        from sentence_transformers.util import cos_sim

        return cos_sim(a, b)

    def encode(self, sentences, convert_to_tensor=False, **kwargs):
        X = np.stack([self.table[s] for s in sentences]).astype(np.float32)
        return torch.from_numpy(X) if convert_to_tensor else X

    encode_query = encode_document = encode


def _sts_case(seed: int, n: int = 300):
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 6, n).astype(np.float64)  # integer scores: many ties in the gold ranks
    a = rng.standard_normal((n, 24)).astype(np.float32)
    noise = rng.standard_normal((n, 24)).astype(np.float32)
    b = (a * gold[:, None] / 5 + noise * (2.5 - gold[:, None] / 5)).astype(np.float32)
    ta, tb = [f"a{i}" for i in range(n)], [f"b{i}" for i in range(n)]
    return STSTask(ta, tb, gold), dict(zip(ta + tb, np.vstack([a, b]), strict=True))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sts_equals_embedding_similarity_evaluator(seed):
    task, table = _sts_case(seed)
    ours = score(task, np.stack([table[t] for t in task.texts()])).metrics
    reference = st_eval.EmbeddingSimilarityEvaluator(
        task.text_a, task.text_b, task.scores.tolist(), write_csv=False
    )(PrecomputedModel(table))
    assert abs(ours["spearman"] - reference["spearman_cosine"]) < 1e-6
    assert abs(ours["pearson"] - reference["pearson_cosine"]) < 1e-6
    assert 0.3 < ours["spearman"] < 0.95  # a case where the metric is informative, not saturated


def _beir_case(seed: int, n_docs: int = 600, n_queries: int = 90, duplicates: bool = False):
    """A BEIR folder's three files as bytes, and the vectors of every text; ids in no sorted order."""
    rng = np.random.default_rng(seed)
    d = 16
    doc_ids = [f"{rng.integers(1e6):06d}-{i}" for i in range(n_docs)]
    docs = rng.standard_normal((n_docs, d)).astype(np.float32)
    if duplicates:  # every fifth document is the vector of another: exactly tied scores
        docs[::5] = docs[1::5][: docs[::5].shape[0]]
    corpus = "".join(json.dumps({"_id": i, "title": "", "text": f"doc {i}"}) + "\n" for i in doc_ids)
    queries, qrels, table = [], ["query-id\tcorpus-id\tscore"], {}
    for q in range(n_queries):
        rel = rng.choice(n_docs, size=int(rng.integers(1, 5)), replace=False)
        vec = docs[rel].mean(axis=0) + rng.standard_normal(d).astype(np.float32) * rng.uniform(0.3, 2.5)
        table[f"query {q}"] = vec.astype(np.float32)
        queries.append(json.dumps({"_id": f"q{q}", "text": f"query {q}"}))
        qrels += [f"q{q}\t{doc_ids[r]}\t1" for r in rel]
    for i, vec in zip(doc_ids, docs, strict=True):
        table[f"doc {i}"] = vec
    files = (
        (corpus.encode(), "corpus.jsonl"),
        ("\n".join(queries).encode(), "queries.jsonl"),
        ("\n".join(qrels).encode(), "qrels.tsv"),
    )
    return files, table


@pytest.mark.parametrize(("seed", "duplicates"), [(0, False), (1, False), (2, True)])
def test_retrieval_equals_information_retrieval_evaluator(seed, duplicates):
    files, table = _beir_case(seed, duplicates=duplicates)
    task = read_retrieval(*files)
    ours = score(task, np.stack([table[t] for t in task.texts()])).metrics

    reference = st_eval.InformationRetrievalEvaluator(
        queries=dict(zip(task.query_ids, task.query_texts, strict=True)),
        # In the file's order, not ours: the reference sorts ties by id itself.
        corpus={
            json.loads(line)["_id"]: f"doc {json.loads(line)['_id']}" for line in files[0][0].splitlines()
        },
        relevant_docs={
            q: {task.corpus_ids[r] for r in rel} for q, rel in zip(task.query_ids, task.relevant, strict=True)
        },
        corpus_chunk_size=128,  # the reference merges chunks; we stream blocks: same answer
        mrr_at_k=[10],
        ndcg_at_k=[10],
        accuracy_at_k=[1],
        precision_recall_at_k=[1, 10, 100],
        map_at_k=[100],
        write_csv=False,
    )(PrecomputedModel(table))
    for ours_name, ref_name in [
        ("ndcg@10", "cosine_ndcg@10"),
        ("mrr@10", "cosine_mrr@10"),
        ("recall@1", "cosine_recall@1"),
        ("recall@10", "cosine_recall@10"),
        ("recall@100", "cosine_recall@100"),
        ("map@100", "cosine_map@100"),
    ]:
        assert abs(ours[ours_name] - reference[ref_name]) < 1e-6, ours_name
    assert 0.1 < ours["ndcg@10"] < 0.9


def _labelled_case(seed: int, n_per: int = 40, n_classes: int = 4):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, 12))
    y = np.repeat(np.arange(n_classes), n_per)
    X = (centres[y] + rng.standard_normal((y.size, 12)) * 1.3).astype(np.float32)
    texts = [f"text {i}" for i in range(y.size)]
    return ClassificationTask(texts, [f"label{c}" for c in y]), X, y


@pytest.mark.parametrize("seed", [0, 1])
def test_classification_equals_scikit_learn(seed):
    from sklearn.metrics import accuracy_score, f1_score, v_measure_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    task, X, y = _labelled_case(seed)
    scored = score(task, X, seed=seed)
    reference = cross_val_predict(
        KNeighborsClassifier(n_neighbors=5, metric="cosine", algorithm="brute"),
        X,
        y,
        cv=StratifiedKFold(5, shuffle=True, random_state=seed),
    )
    predicted = np.array([int(p.removeprefix("label")) for p in scored.items["predicted"]])
    np.testing.assert_array_equal(predicted, reference)
    assert abs(scored.metrics["accuracy"] - accuracy_score(y, reference)) < 1e-6
    assert abs(scored.metrics["macro_f1"] - f1_score(y, reference, average="macro")) < 1e-6
    assert abs(scored.metrics["v_measure"] - v_measure_score(y, scored.items["cluster"])) < 1e-6
    assert 0.4 < scored.metrics["accuracy"] < 0.98


def test_weighted_statistics_equal_the_reference_on_the_resample_they_stand_for():
    """A bootstrap weight vector means "repeat item i w[i] times": check every weighted metric that way."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import f1_score, v_measure_score

    rng = np.random.default_rng(5)
    x, t = rng.integers(0, 8, 150).astype(float), rng.standard_normal(150)
    y_true, y_pred, clusters = rng.integers(0, 4, 150), rng.integers(0, 4, 150), rng.integers(0, 5, 150)
    for w in list(resample_weights(150, 5, seed=3)):
        rep = np.repeat(np.arange(150), w.astype(int))
        assert abs(M.spearman(x, t, w) - spearmanr(x[rep], t[rep])[0]) < 1e-9
        assert abs(M.pearson(x, t, w) - pearsonr(x[rep], t[rep])[0]) < 1e-9
        assert (
            abs(M.macro_f1(y_true, y_pred, 4, w) - f1_score(y_true[rep], y_pred[rep], average="macro")) < 1e-9
        )
        assert abs(M.v_measure(y_true, clusters, w) - v_measure_score(y_true[rep], clusters[rep])) < 1e-9


def test_v_measure_edge_cases_follow_scikit_learn():
    from sklearn.metrics import v_measure_score

    for a, b in [
        ([0, 0, 0], [0, 1, 2]),
        ([0, 1, 2], [0, 0, 0]),
        ([0, 0, 1, 1], [0, 1, 0, 1]),
        ([1, 1], [2, 2]),
    ]:
        assert abs(M.v_measure(a, b) - v_measure_score(a, b)) < 1e-12, (a, b)


def test_bitext_accuracy_equals_the_alignment_report_and_ranks_equal_brute_force():
    from embedcore import alignment_report

    rng = np.random.default_rng(4)
    n_sent, langs = 30, ["de", "en", "fr"]
    base = rng.standard_normal((n_sent, 10))
    rows = [(s, lang) for s in range(n_sent) for lang in langs if not (s % 7 == 0 and lang == "fr")]
    X = np.array([base[s] + rng.standard_normal(10) * 0.9 for s, _ in rows], dtype=np.float32)
    task = BitextTask([f"s{s} {lang}" for s, lang in rows], [str(s) for s, _ in rows], [la for _, la in rows])
    scored = score(task, X)
    report = alignment_report(X, [s for s, _ in rows], [la for _, la in rows])
    assert abs(scored.metrics["accuracy"] - report.score) < 1e-12
    assert scored.items.shape[0] == report.n_trials
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    for item in scored.items.itertuples():  # rank = 1 + non-translations scoring at least as high
        src = task.texts_.index(item.text)
        cand = [i for i, (_, la) in enumerate(rows) if la == item.to]
        sims = Xn[cand] @ Xn[src]
        own = np.array([rows[i][0] == rows[src][0] for i in cand])
        assert item.rank == 1 + int((sims[~own] >= sims[own].max()).sum())
    assert abs(scored.metrics["mrr"] - np.mean(1 / scored.items["rank"])) < 1e-12
    assert 0.3 < scored.metrics["accuracy"] < 0.99


def test_streaming_top_k_equals_the_full_matrix_and_reports_progress():
    rng = np.random.default_rng(0)
    Q, C = rng.standard_normal((700, 8)), rng.standard_normal((900, 8))
    seen = []
    idx, sims = M.streaming_top_k(
        Q, C, 100, block_bytes=256 * 900 * 4, progress=lambda d, t: seen.append((d, t))
    )
    Qn, Cn = Q / np.linalg.norm(Q, axis=1, keepdims=True), C / np.linalg.norm(C, axis=1, keepdims=True)
    full = Qn @ Cn.T
    np.testing.assert_array_equal(idx, np.argsort(-full, axis=1, kind="stable")[:, :100])
    np.testing.assert_allclose(sims, np.take_along_axis(full, idx, axis=1), atol=1e-6)
    assert seen == [(256, 700), (512, 700), (700, 700)]


def test_evaluate_vectors_paired_test_tells_a_better_model_from_noise():
    task, table = _sts_case(0)
    texts = task.texts()
    good = np.stack([table[t] for t in texts])
    noisy = good + np.random.default_rng(1).standard_normal(good.shape).astype(np.float32) * 3
    report = evaluate_vectors(task, {"good": good, "noisy": noisy, "good again": good.copy()}, n_boot=300)
    by_pair = {(c.model_a, c.model_b, c.metric): c for c in report.comparisons}
    assert by_pair[("good", "noisy", "spearman")].better() == "good"
    assert by_pair[("good", "noisy", "spearman")].p_value < 0.01
    same = by_pair[("good", "good again", "spearman")]
    assert same.better() is None and same.p_value == 1.0 and same.difference == 0
    for result in report.results:
        low, high = result.ci["spearman"]
        assert low <= result.metrics["spearman"] <= high


@pytest.mark.parametrize(
    ("dims", "value", "n_corpus"),
    [
        (32, None, 30_000),  # continuous scores: the chunk-maxima path
        (24, None, 2_003),  # a short row: chunks of 5 columns
        (16, 0.25, 30_017),  # scores on a grid of 1/8: ties at the k-th place, a partial last chunk
        (4, 0.5, 26_000),  # 16 distinct vectors: hundreds tie for first, the fallback path
    ],
)
def test_streaming_selection_is_exact_with_ties_by_lower_row(dims, value, n_corpus):
    """Against a full sort by (score descending, row ascending) of the same exact scores."""
    rng = np.random.default_rng(dims)
    if value is None:
        Q, C = rng.standard_normal((300, dims)), rng.standard_normal((n_corpus, dims))
        Q, C = (X / np.linalg.norm(X, axis=1, keepdims=True) for X in (Q, C))
    else:  # entries +-value with dims * value**2 == 1: unit rows whose products are exact in float32
        Q, C = (rng.choice([-value, value], size=(n, dims)) for n in (300, n_corpus))
    Q, C = Q.astype(np.float32), C.astype(np.float32)
    idx, sims = M.streaming_top_k(Q, C, 100, normalized=True, block_bytes=64 * n_corpus * 4)
    assert idx.shape == (300, 100)
    full = Q @ C.T
    rows = np.broadcast_to(np.arange(n_corpus), full.shape)
    expected = np.lexsort((rows, -full), axis=1)[:, :100]
    if value is not None:
        np.testing.assert_array_equal(idx, expected)
    else:  # a GEMM of another shape may round one product differently by an ulp
        assert (idx == expected).mean() > 0.999
    np.testing.assert_allclose(sims, np.take_along_axis(full, idx, axis=1), atol=1e-6)
