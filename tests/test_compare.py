"""Tests of embedcore.analysis.compare on cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from embedcore.analysis import compare
from embedcore.errors import InputError


def _vectors(n: int, d: int, seed: int = 0) -> np.ndarray:
    # Random vectors: a test fixture only.
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _rotation(d: int, seed: int = 1) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q.astype(np.float32)


def test_identical_models_agree_perfectly():
    X = _vectors(60, 16)
    assert compare.pairwise_agreement(X, X) == pytest.approx(1.0)
    np.testing.assert_array_equal(compare.neighbour_overlap(X, X, k=5), np.ones(60))


def test_rotated_and_rescaled_model_agrees_perfectly():
    # Cosine structure survives rotation and per-row scaling; dimensions may even differ.
    X = _vectors(50, 12)
    Y = (X @ _rotation(12)) * np.linspace(0.5, 3, 50, dtype=np.float32)[:, None]
    Y = np.hstack([Y, np.zeros((50, 20), np.float32)])  # 32 dims vs 12
    assert compare.pairwise_agreement(X, Y) == pytest.approx(1.0, abs=1e-6)
    assert compare.neighbour_overlap(X, Y, k=4).min() == pytest.approx(1.0)


def test_row_shuffled_copy_does_not_agree():
    X = _vectors(200, 16)
    Y = X[np.random.default_rng(5).permutation(200)]
    assert abs(compare.pairwise_agreement(X, Y)) < 0.1
    jac = compare.neighbour_overlap(X, Y, k=5)
    assert jac.shape == (200,)
    # Expected overlap for unrelated neighbourhoods is about k/n = 0.025.
    assert jac.mean() < 0.1


def test_partial_agreement_is_between():
    X = _vectors(150, 16)
    noisy = X + _vectors(150, 16, seed=9) * 0.7
    rho = compare.pairwise_agreement(X, noisy)
    assert 0.3 < rho < 0.99
    assert 0.05 < compare.neighbour_overlap(X, noisy, k=5).mean() < 1.0


def test_jaccard_counts_shared_neighbours():
    # 1-D points on a line: under A the neighbours of 0 are {1, 2}; under B {1, 3}.
    A = np.array([[1, 0], [0.99, 0.14], [0.98, 0.2], [0.0, 1.0], [-1, 0]], np.float32)
    B = np.array([[1, 0], [0.99, 0.14], [0.0, 1.0], [0.98, 0.2], [-1, 0]], np.float32)
    jac = compare.neighbour_overlap(A, B, k=2)
    assert jac[0] == pytest.approx(1 / 3)  # |{1}| / |{1, 2, 3}|


def test_sampled_pairs_match_exact_value_closely_and_reproducibly():
    X = _vectors(300, 8)
    Y = X + _vectors(300, 8, seed=3) * 0.5
    exact = compare.pairwise_agreement(X, Y)
    sampled = compare.pairwise_agreement(X, Y, max_pairs=20_000)  # 200 of 300 texts
    assert sampled == pytest.approx(exact, abs=0.02)
    assert compare.pairwise_agreement(X, Y, max_pairs=20_000) == sampled
    assert compare.pairwise_agreement(X, Y, max_pairs=20_000, random_state=1) != sampled


def test_sample_is_a_reproducible_row_subset():
    rows = compare._sample_rows(1000, 50_000, 0)
    assert rows.size == 316  # 316 * 315 / 2 = 49,770 <= 50,000 < 317 * 316 / 2
    assert (np.diff(rows) > 0).all() and rows.max() < 1000
    np.testing.assert_array_equal(compare._sample_rows(1000, 50_000, 0), rows)
    assert compare._sample_rows(10, 45, 0) is None  # all 45 pairs fit


def test_constant_similarities_give_nan():
    X = np.ones((5, 3), np.float32)
    assert np.isnan(compare.pairwise_agreement(X, _vectors(5, 3)))


def test_row_count_mismatch_and_tiny_inputs_raise():
    with pytest.raises(InputError, match="same texts"):
        compare.pairwise_agreement(_vectors(10, 4), _vectors(9, 4))
    with pytest.raises(InputError):
        compare.neighbour_overlap(_vectors(10, 4), _vectors(11, 4))
    with pytest.raises(InputError):
        compare.pairwise_agreement(_vectors(2, 4), _vectors(2, 4))
    with pytest.raises(InputError):
        compare.compare_models({"a": _vectors(5, 4)}, list("abcde"))
    with pytest.raises(InputError, match="'b'"):
        compare.compare_models({"a": _vectors(5, 4), "b": _vectors(4, 4)}, list("abcde"))
    bad = _vectors(5, 4)
    bad[2, 1] = np.nan
    with pytest.raises(InputError):
        compare.pairwise_agreement(bad, _vectors(5, 4))


def test_compare_models_report_and_disagreements():
    n = 80
    X = _vectors(n, 16)
    texts = [f"t{i}" for i in range(n)]
    # Model "copy" = same structure in 24 dims; model "shuffled" = unrelated.
    copy = np.hstack([X @ _rotation(16), np.zeros((n, 8), np.float32)])
    shuffled = X[np.random.default_rng(2).permutation(n)]
    report = compare.compare_models({"base": X, "copy": copy, "shuffled": shuffled}, texts, k=5)
    assert report.models == ["base", "copy", "shuffled"]
    assert len(report.pairs) == 3 and report.k == 5
    same = report.pair("copy", "base")
    assert same.spearman == pytest.approx(1.0, abs=1e-6) and same.mean_jaccard == 1.0
    assert same.n_pairs == n * (n - 1) // 2
    other = report.pair("base", "shuffled")
    assert abs(other.spearman) < 0.15 and other.mean_jaccard < 0.2
    m = report.matrix("spearman")
    assert m.shape == (3, 3) and np.allclose(m, m.T) and m[0, 1] == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(KeyError):
        report.pair("base", "base")

    # base vs copy agree everywhere: no disagreement among them.
    assert all(d.jaccard == 1.0 for d in compare.disagreements(report, top=5, models=["base", "copy"]))
    worst = compare.disagreements(report, top=10)
    assert len(worst) == 10
    scores = [d.jaccard for d in worst]
    assert scores == sorted(scores)
    assert scores[0] == report.mean_jaccard_per_text().min()
    d = worst[0]
    assert set(d.neighbours) == {"base", "copy", "shuffled"}
    assert d.neighbour_texts["base"] == [texts[i] for i in d.neighbours["base"]]
    assert d.text == texts[d.index] and d.index not in d.neighbours["base"]
    with pytest.raises(InputError):
        compare.disagreements(report, models=["base", "nope"])


def test_k_is_clamped_to_available_neighbours():
    X = _vectors(4, 3)
    report = compare.compare_models({"a": X, "b": X}, list("wxyz"), k=10)
    assert report.k == 3
    assert report.pair("a", "b").mean_jaccard == 1.0


def test_chance_level_is_the_share_of_other_texts_a_neighbour_list_holds():
    X = _vectors(41, 8)
    report = compare.compare_models({"a": X, "b": _vectors(41, 8, seed=3)}, [f"t{i}" for i in range(41)], k=5)
    assert report.chance_level == pytest.approx(5 / 40)
    # Unrelated random models land near it.
    assert report.pair("a", "b").mean_jaccard < 3 * report.chance_level
