"""Tests of embedcore.analysis.similarity against brute force and scikit-learn.

Random vectors here are unit-test fixtures only (never shown as embeddings).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_similarity

from embedcore.analysis.similarity import (
    cluster_order,
    cosine_matrix,
    kmeans_labels,
    nearest_neighbours,
    normalize_rows,
    top_k,
    top_pairs,
)
from embedcore.errors import EmptyInputError, InputError


@pytest.fixture
def unnormalised():
    """Vectors of very different lengths, like an unnormalised model's output."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 16)).astype(np.float32)
    return X * rng.uniform(0.01, 50.0, size=(40, 1)).astype(np.float32)


def brute_top_k(Q, C, k, exclude_self=False):
    S = cosine_similarity(Q, C)
    out_i, out_s = [], []
    for r, row in enumerate(S):
        cand = [(-round(float(v), 5), j) for j, v in enumerate(row) if not (exclude_self and j == r)]
        cand.sort()
        chosen = [j for _, j in cand[:k]]
        out_i.append(chosen)
        out_s.append([row[j] for j in chosen])
    return np.array(out_i, dtype=np.int64).reshape(len(S), -1), np.array(out_s).reshape(len(S), -1)


def assert_valid_top_k(Q, C, idx, sc, k, exclude_self=False, atol=1e-6):
    """``idx``/``sc`` are a correct top-``k`` of ``Q`` against ``C``, up to the order of near-ties.

    BLAS kernels can give bit-identical corpus rows scores one float32 ulp apart (a row at a
    block edge is summed in another order; ``A @ A.T`` may go through syrk), so which of two
    duplicates comes first is not fixed across machines. What is fixed: every returned score is
    the true cosine of its pair, the scores are the brute-force top-k scores, and no row repeats.
    """
    S = cosine_similarity(Q, C)
    if exclude_self:
        np.fill_diagonal(S, -np.inf)
    want = -np.sort(-S, axis=1)[:, :k]
    assert idx.shape == want.shape
    np.testing.assert_allclose(np.take_along_axis(S, idx, axis=1), want, atol=atol)
    np.testing.assert_allclose(sc, want, atol=atol)
    assert all(len(set(row)) == len(row) for row in idx.tolist())
    assert np.all(np.diff(sc, axis=1) <= 0)


# --- normalize_rows / cosine_matrix -----------------------------------------


def test_normalize_rows_unit_length_and_zero_rows(unnormalised):
    X = unnormalised.copy()
    X[3] = 0
    before = X.copy()
    Xn = normalize_rows(X)
    assert Xn.dtype == np.float32
    norms = np.linalg.norm(Xn, axis=1)
    assert np.allclose(np.delete(norms, 3), 1.0, atol=1e-6)
    assert np.all(Xn[3] == 0)
    assert np.array_equal(X, before), "the input must not be modified"


def test_normalize_rows_extreme_magnitudes():
    X = np.array([[3e38, 3e38, -3e38], [1e-44, 0, 1e-44], [0, 0, 0]], dtype=np.float32)
    Xn = normalize_rows(X)
    assert np.all(np.isfinite(Xn))
    assert np.allclose(np.linalg.norm(Xn[:2], axis=1), 1.0, atol=1e-6)
    assert np.allclose(Xn[1], [np.sqrt(0.5), 0, np.sqrt(0.5)], atol=1e-6)


def test_cosine_matches_sklearn_on_unnormalised(unnormalised):
    S = cosine_matrix(unnormalised)
    assert S.dtype == np.float32
    assert S.shape == (40, 40)
    np.testing.assert_allclose(S, cosine_similarity(unnormalised), atol=1e-5)
    # A raw dot product would not be cosine for these vectors.
    assert not np.allclose(unnormalised @ unnormalised.T, S, atol=1e-2)


def test_cosine_x_against_y(unnormalised):
    X, Y = unnormalised[:7], unnormalised[7:]
    S = cosine_matrix(X, Y)
    assert S.shape == (7, 33) and S.dtype == np.float32
    np.testing.assert_allclose(S, cosine_similarity(X, Y), atol=1e-5)


def test_cosine_self_is_symmetric_with_unit_diagonal(unnormalised):
    S = cosine_matrix(unnormalised)
    assert np.array_equal(S, S.T)
    assert np.all(np.diag(S) == 1.0)
    assert S.min() >= -1.0 and S.max() <= 1.0


def test_cosine_zero_vectors_give_zero():
    X = np.array([[0, 0, 0], [1, 2, 3], [0, 0, 0]], dtype=np.float32)
    S = cosine_matrix(X)
    assert np.all(S[0] == 0) and np.all(S[:, 2] == 0)
    assert S[1, 1] == 1.0
    assert np.all(cosine_matrix(X, np.zeros((2, 3))) == 0)


def test_cosine_parallel_vectors_clip_to_one():
    v = np.array([0.1, 0.7, 0.3], dtype=np.float32)
    X = np.stack([v, 3 * v, -7 * v])
    S = cosine_matrix(X)
    np.testing.assert_allclose(S, [[1, 1, -1], [1, 1, -1], [-1, -1, 1]], atol=1e-6)
    assert S.max() <= 1.0 and S.min() >= -1.0


def test_cosine_one_d_is_one_row(unnormalised):
    S = cosine_matrix(unnormalised[0], unnormalised)
    assert S.shape == (1, 40)
    np.testing.assert_allclose(S[0], cosine_similarity(unnormalised[:1], unnormalised)[0], atol=1e-5)


def test_cosine_float64_and_int_inputs_give_float32():
    assert cosine_matrix(np.eye(3, dtype=np.float64)).dtype == np.float32
    assert cosine_matrix([[1, 0], [0, 2]]).dtype == np.float32


def test_cosine_dimension_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as info:
        cosine_matrix(np.ones((3, 4)), np.ones((5, 6)))
    assert isinstance(info.value, InputError)
    assert "(3, 4)" in str(info.value) and "(5, 6)" in str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_cosine_rejects_non_finite(bad):
    X = np.ones((3, 4), dtype=np.float32)
    X[1, 2] = bad
    with pytest.raises(InputError, match="NaN or infinite"):
        cosine_matrix(X)


def test_cosine_rejects_3d_and_text():
    with pytest.raises(InputError, match="2-D"):
        cosine_matrix(np.ones((2, 3, 4)))
    with pytest.raises(InputError, match="numeric"):
        cosine_matrix(np.array([["a", "b"]]))


def test_cosine_empty_input():
    assert cosine_matrix(np.zeros((0, 5))).shape == (0, 0)


# --- top_k --------------------------------------------------------------------


@pytest.mark.parametrize("block_size", [None, 1, 3, 1000])
def test_top_k_equals_brute_force(unnormalised, block_size):
    Q, C = unnormalised[:9], unnormalised[9:]
    idx, sc = top_k(Q, C, 5, block_size=block_size)
    assert idx.dtype == np.int64 and sc.dtype == np.float32 and idx.shape == (9, 5)
    bi, bs = brute_top_k(Q, C, 5)
    assert np.array_equal(idx, bi)
    np.testing.assert_allclose(sc, bs, atol=1e-5)
    assert np.all(np.diff(sc, axis=1) <= 0)


def test_top_k_ties_go_to_lower_index():
    # Many exact ties: duplicates of a few directions, scaled (scale must not matter).
    base = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]], dtype=np.float32)
    C = np.concatenate([base * s for s in (1, 2, 3, 4, 5, 6, 7)])  # 21 rows, 7 copies each
    q = np.array([[1, 0, 0]], dtype=np.float32)
    for k in range(1, 22):
        idx, sc = top_k(q, C, k, block_size=1)
        assert (
            idx[0].tolist() == [0, 3, 6, 9, 12, 15, 18, 2, 5, 8, 11, 14, 17, 20, 1, 4, 7, 10, 13, 16, 19][:k]
        )
        assert np.all(np.diff(sc[0]) <= 0)


def test_top_k_all_ties():
    C = np.ones((50, 4), dtype=np.float32)
    idx, _ = top_k(C[:3], C, 7)
    assert idx.tolist() == [list(range(7))] * 3


@pytest.mark.parametrize("k", [1, 5, 30])
def test_top_k_large_corpus_with_ties(k):
    # Wide enough for the pre-filtered selection (64-column chunks), with exact duplicates.
    # Their scores may differ by an ulp (BLAS block edges), so the order within a tie is checked
    # on small exact inputs above, and here only that the answer is a correct top-k.
    rng = np.random.default_rng(3)
    base = rng.standard_normal((500, 24)).astype(np.float32)
    C = np.concatenate([base, base[:200], base[:100]])
    rng.shuffle(C)
    Q = np.concatenate([C[:40], rng.standard_normal((5, 24)).astype(np.float32)])
    idx, sc = top_k(Q, C, k)
    assert_valid_top_k(Q, C, idx, sc, k)
    # Each of the first 40 queries is a corpus row: its best match is itself or a bit-identical copy.
    assert all(np.array_equal(C[i], Q[r]) for r, i in enumerate(idx[:40, 0]))


def test_top_k_heavy_ties_fall_back_exactly():
    C = np.ones((3000, 4), dtype=np.float32)
    C[1234] = [1, 0, 0, 0]
    idx, sc = top_k(C[:2], C, 5)
    assert idx.tolist() == [[0, 1, 2, 3, 4]] * 2 and np.all(sc == 1)
    idx, _ = top_k(C[1234], C, 2)
    assert idx.tolist() == [[1234, 0]]


def test_top_k_exclude_self_matches_brute_force(unnormalised):
    X = np.concatenate([unnormalised, unnormalised[:5] * 2])  # duplicates of rows 0..4
    idx, sc = top_k(X, X, 4, exclude_self=True, block_size=7)
    assert_valid_top_k(X, X, idx, sc, 4, exclude_self=True)
    assert not np.any(idx == np.arange(len(X))[:, None])
    # The duplicate of row 0 is its nearest neighbour, with similarity 1.
    assert idx[0, 0] == 40 and sc[0, 0] == pytest.approx(1.0, abs=1e-6)


def test_top_k_clamps_k(unnormalised):
    idx, sc = top_k(unnormalised[:2], unnormalised[:6], 100)
    assert idx.shape == (2, 6) and sc.shape == (2, 6)
    assert sorted(idx[0].tolist()) == list(range(6))
    idx, _ = top_k(unnormalised[:6], unnormalised[:6], 100, exclude_self=True)
    assert idx.shape == (6, 5)


def test_top_k_zero_and_one_row():
    X = np.eye(3, dtype=np.float32)
    idx, sc = top_k(X, X, 0)
    assert idx.shape == (3, 0) and sc.shape == (3, 0)
    idx, sc = top_k(X[:1], X[:1], 3, exclude_self=True)
    assert idx.shape == (1, 0)


def test_top_k_errors(unnormalised):
    with pytest.raises(InputError, match="k must be"):
        top_k(unnormalised, unnormalised, -1)
    with pytest.raises(InputError, match=r"\(3, 16\).*\(2, 5\)"):
        top_k(unnormalised[:3], np.ones((2, 5)), 1)
    with pytest.raises(InputError, match="exclude_self"):
        top_k(unnormalised[:3], unnormalised, 1, exclude_self=True)


def test_nearest_neighbours_is_top_k_excluding_self(unnormalised):
    # X @ X.T may run as syrk and X @ copy.T as gemm: equal up to rounding, not bit for bit.
    idx, sc = nearest_neighbours(unnormalised, 3)
    assert_valid_top_k(unnormalised, unnormalised, idx, sc, 3, exclude_self=True)
    b_idx, b_sc = top_k(unnormalised, unnormalised.copy(), 3, exclude_self=True)
    assert np.array_equal(idx, b_idx)  # no ties in this fixture, so the order is fixed
    np.testing.assert_allclose(sc, b_sc, atol=1e-6)


# --- top_pairs ---------------------------------------------------------------


def brute_pairs(X, n, largest):
    S = cosine_similarity(X)
    pairs = [(i, j, float(S[i, j])) for i, j in itertools.combinations(range(len(X)), 2)]
    sign = -1 if largest else 1
    pairs.sort(key=lambda p: (sign * round(p[2], 5), p[0], p[1]))
    return pairs[:n]


@pytest.mark.parametrize("largest", [True, False])
def test_top_pairs_equals_brute_force(unnormalised, largest):
    got = top_pairs(unnormalised, 25, largest=largest)
    want = brute_pairs(unnormalised, 25, largest)
    assert [(i, j) for i, j, _ in got] == [(i, j) for i, j, _ in want]
    np.testing.assert_allclose([s for *_, s in got], [s for *_, s in want], atol=1e-5)
    assert all(i < j for i, j, _ in got)
    assert all(isinstance(i, int) and isinstance(s, float) for i, _, s in got)


def test_top_pairs_blocks_and_ties(monkeypatch):
    import embedcore.analysis.similarity as sim

    # A budget of a few hundred bytes forces one or two rows per block.
    monkeypatch.setattr(sim, "DEFAULT_BLOCK_BYTES", 200)
    X = np.array([[1, 0], [2, 0], [0, 1], [3, 0], [0, 5], [1, 1]], dtype=np.float32)
    got = top_pairs(X, 100)
    assert len(got) == 15
    assert [(i, j) for i, j, _ in got[:4]] == [(0, 1), (0, 3), (1, 3), (2, 4)]
    assert got == [(i, j, pytest.approx(s, abs=1e-6)) for i, j, s in brute_pairs(X, 100, True)]
    low = top_pairs(X, 3, largest=False)
    assert [(i, j) for i, j, _ in low] == [(0, 2), (0, 4), (1, 2)]


def test_top_pairs_small_inputs():
    assert top_pairs(np.ones((1, 3))) == []
    assert top_pairs(np.zeros((0, 3))) == []
    assert top_pairs(np.eye(2), 0) == []
    (pair,) = top_pairs(np.eye(2), 5)
    assert pair == (0, 1, 0.0)
    with pytest.raises(InputError):
        top_pairs(np.eye(2), -3)


# --- clustering ---------------------------------------------------------------


def three_groups():
    rng = np.random.default_rng(1)
    centres = np.eye(3, 8, dtype=np.float32) * 10
    X = np.concatenate([c + rng.normal(0, 0.3, (10, 8)) for c in centres]).astype(np.float32)
    perm = rng.permutation(30)
    return X[perm], np.repeat(np.arange(3), 10)[perm]


def test_kmeans_recovers_groups():
    X, truth = three_groups()
    labels = kmeans_labels(X, 3)
    assert labels.dtype == np.int64 and labels.shape == (30,)
    assert labels[0] == 0 and set(labels.tolist()) == {0, 1, 2}
    for g in range(3):
        assert len(set(labels[truth == g].tolist())) == 1
    assert np.array_equal(labels, kmeans_labels(X, 3))  # deterministic


def test_kmeans_clamps_to_distinct_points():
    X = np.array([[1, 0], [2, 0], [0, 1], [0, 3], [1, 0]], dtype=np.float32)  # 2 directions
    labels = kmeans_labels(X, 4)
    assert labels.tolist() == [0, 0, 1, 1, 0]
    assert kmeans_labels(np.ones((4, 3)), 3).tolist() == [0, 0, 0, 0]
    assert kmeans_labels(np.ones((1, 3)), 1).tolist() == [0]


def test_kmeans_guards():
    with pytest.raises(EmptyInputError):
        kmeans_labels(np.zeros((0, 3)), 2)
    with pytest.raises(InputError, match="n_clusters"):
        kmeans_labels(np.eye(3), 0)


def is_permutation(order, n):
    return order.dtype == np.int64 and sorted(order.tolist()) == list(range(n))


def test_cluster_order_groups_similar_rows():
    X, truth = three_groups()
    order = cluster_order(X)
    assert is_permutation(order, 30)
    # Rows of one group are contiguous: the group changes exactly twice along the order.
    assert np.count_nonzero(np.diff(truth[order])) == 2


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_cluster_order_tiny(n):
    assert is_permutation(cluster_order(np.arange(1, 3 * n + 1, dtype=np.float32).reshape(n, 3)), n)


def test_cluster_order_duplicates_and_zero_rows():
    X = np.array([[1, 0], [0, 1], [1, 0], [0, 0], [2, 0], [0, 0], [0, 3]], dtype=np.float32)
    order = cluster_order(X)
    assert is_permutation(order, 7)
    pos = {int(r): p for p, r in enumerate(order)}
    # The three copies of direction (1, 0) are adjacent, and so are the two of (0, 1).
    assert sorted(pos[r] for r in (0, 2, 4)) == list(
        range(min(pos[r] for r in (0, 2, 4)), min(pos[r] for r in (0, 2, 4)) + 3)
    )
    assert abs(pos[1] - pos[6]) == 1
    assert is_permutation(cluster_order(np.ones((5, 4))), 5)


def test_cluster_order_two_level_for_large_inputs(monkeypatch):
    import embedcore.analysis.similarity as sim

    # Lower the thresholds so the large-input path runs on a small fixture.
    monkeypatch.setattr(sim, "FULL_LINKAGE_MAX", 12)
    X, truth = three_groups()
    order = cluster_order(X)
    assert is_permutation(order, 30)
    assert np.count_nonzero(np.diff(truth[order])) == 2


def test_top_k_on_parallel_blocks_is_the_serial_result(monkeypatch):
    # Blocks run on one thread per core; results must not depend on which thread did which block,
    # ties (duplicate rows) included.
    import embedcore.system

    rng = np.random.default_rng(7)
    X = rng.normal(size=(53, 12)).astype(np.float32)
    X[10] = X[3]
    X[40] = X[3]
    monkeypatch.setattr(embedcore.system, "usable_cores", lambda: 1)
    serial = top_k(X, X, 6, exclude_self=True, block_size=5)
    monkeypatch.setattr(embedcore.system, "usable_cores", lambda: 2)
    parallel = top_k(X, X, 6, exclude_self=True, block_size=5)
    np.testing.assert_array_equal(parallel[0], serial[0])
    np.testing.assert_array_equal(parallel[1], serial[1])


def test_top_k_on_rows_already_normalised_gives_the_same_neighbours():
    from embedcore.analysis.similarity import normalize_rows

    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 9)) * rng.uniform(0.5, 4, size=(40, 1))  # rows of various lengths
    unit = normalize_rows(X)
    expected = top_k(X[:5], X, 4)
    got = top_k(unit[:5], unit, 4, normalized=True)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], atol=1e-6)
    with pytest.raises(InputError, match="normalize_rows"):
        top_k(X[:5], X, 4, normalized=True)  # float64, not the kept float32 rows
