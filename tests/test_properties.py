"""Hypothesis properties of the similarity and projection maths.

Generated arrays are unit-test fixtures. Small integer entries make exact duplicates, parallel
vectors and zero rows (the cases that break tie handling and normalisation) common.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from embedcore.analysis.projection import project_with_info
from embedcore.analysis.similarity import cosine_matrix, normalize_rows, top_k, top_pairs
from embedcore.errors import ProjectionInputError

FLOATS = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)
SMALL_INTS = st.integers(-2, 2).map(float)


@st.composite
def matrices(draw, min_rows=1, max_rows=12, max_cols=6, cols=None):
    rows = draw(st.integers(min_rows, max_rows))
    cols = cols or draw(st.integers(1, max_cols))
    return draw(arrays(np.float32, (rows, cols), elements=st.one_of(FLOATS, SMALL_INTS)))


@st.composite
def query_and_corpus(draw):
    cols = draw(st.integers(1, 6))
    return draw(matrices(cols=cols)), draw(matrices(max_rows=15, cols=cols))


def brute_scores(Q, C):
    """Cosine similarity, one row-vector product at a time (no blocking, no BLAS matrix kernel)."""
    Qn, Cn = normalize_rows(Q), normalize_rows(C)
    return np.clip(np.array([[float(np.dot(q, c)) for c in Cn] for q in Qn]), -1, 1)


@given(matrices())
def test_cosine_bounded_symmetric_unit_diagonal(X):
    S = cosine_matrix(X)
    assert S.dtype == np.float32 and S.shape == (len(X), len(X))
    assert np.all(S >= -1) and np.all(S <= 1)
    assert np.array_equal(S, S.T)
    nonzero = np.any(X != 0, axis=1)
    assert np.array_equal(np.diag(S), nonzero.astype(np.float32))
    np.testing.assert_allclose(
        S, brute_scores(X, X) * np.where(np.eye(len(X)), 0, 1) + np.diag(np.diag(S)), atol=1e-5
    )


@given(matrices(), st.floats(0.01, 100))
def test_cosine_is_scale_invariant(X, scale):
    # Only for normal floats: a subnormal scaled down loses bits or becomes 0 (found by
    # hypothesis: [[1e-45]] * 0.5 is the zero vector, whose cosine is 0, not 1).
    scaled = X * np.float32(scale)
    tiny = np.finfo(np.float32).tiny
    assume(np.all((X == 0) | (np.abs(X) >= tiny)) and np.all((scaled == 0) == (X == 0)))
    assume(np.all((scaled == 0) | (np.abs(scaled) >= tiny)))
    np.testing.assert_allclose(cosine_matrix(scaled), cosine_matrix(X), atol=1e-5)


@given(query_and_corpus(), st.integers(0, 20), st.integers(1, 5))
def test_top_k_is_a_sorted_stable_top_k(QC, k, block_size):
    Q, C = QC
    idx, sc = top_k(Q, C, k, block_size=block_size)
    k_eff = min(k, len(C))
    assert idx.shape == sc.shape == (len(Q), k_eff)
    B = brute_scores(Q, C)
    for r in range(len(Q)):
        row = idx[r].tolist()
        assert len(set(row)) == k_eff
        np.testing.assert_allclose(sc[r], B[r, row], atol=1e-5)
        # Best first; equal scores in index order (stable).
        assert all(
            sc[r, i] > sc[r, i + 1] or (sc[r, i] == sc[r, i + 1] and row[i] < row[i + 1])
            for i in range(k_eff - 1)
        )
        # Nothing left out scores (clearly) better than what was kept.
        if k_eff and k_eff < len(C):
            left_out = np.setdiff1d(np.arange(len(C)), row)
            assert B[r, left_out].max() <= sc[r, -1] + 1e-5
    # Blocking changes only BLAS rounding (a one-row product is not computed like a block).
    _, sc1 = top_k(Q, C, k)
    np.testing.assert_allclose(sc, sc1, atol=1e-6)


@given(query_and_corpus(), st.integers(1, 4))
def test_prefiltered_selection_equals_plain_selection(QC, k):
    import embedcore.analysis.similarity as sim

    Q, C = QC
    C = np.concatenate([C] * 8)  # wide rows full of exact ties
    S = Q.astype(np.float32) @ normalize_rows(C).T
    k = min(k, S.shape[1])
    plain = sim._argpartition_top(S, k)
    plain = np.take_along_axis(plain, np.lexsort((plain, -np.take_along_axis(S, plain, 1)), axis=1), 1)
    old = sim._CHUNK
    sim._CHUNK = 2  # small chunks so a 16-120 column row takes the pre-filtered path
    try:
        fast = sim._select_top_prefiltered(S, k)
    finally:
        sim._CHUNK = old
    if fast is not None:
        assert np.array_equal(fast, plain)


@given(matrices(max_rows=15), st.integers(0, 20))
def test_top_k_exclude_self_never_returns_self(X, k):
    idx, sc = top_k(X, X, k, exclude_self=True)
    assert idx.shape == (len(X), min(k, len(X) - 1))
    assert not np.any(idx == np.arange(len(X))[:, None])
    assert np.all(np.diff(sc, axis=1) <= 0)


@given(matrices(max_rows=14), st.integers(0, 30), st.booleans())
def test_top_pairs_matches_brute_force(X, n, largest):
    got = top_pairs(X, n, largest=largest)
    m = len(X)
    assert len(got) == min(n, m * (m - 1) // 2)
    assert all(0 <= i < j < m for i, j, _ in got)
    assert len({(i, j) for i, j, _ in got}) == len(got)
    B = brute_scores(X, X)
    scores = [s for *_, s in got]
    for i, j, s in got:
        assert s == pytest.approx(B[i, j], abs=1e-5)
    sign = 1 if largest else -1
    assert all(sign * a >= sign * b for a, b in itertools.pairwise(scores))
    if got and len(got) < m * (m - 1) // 2:
        chosen = {(i, j) for i, j, _ in got}
        rest = [B[i, j] for i in range(m) for j in range(i + 1, m) if (i, j) not in chosen]
        assert (max(rest) <= scores[-1] + 1e-5) if largest else (min(rest) >= scores[-1] - 1e-5)


@settings(max_examples=60, deadline=None)
@given(matrices(max_rows=10), st.integers(1, 3))
def test_pca_is_finite_for_any_input(X, n_components):
    res = project_with_info(X, "pca", n_components, use_cache=False)
    assert res.coords.shape == (len(X), n_components) and res.coords.dtype == np.float32
    assert np.all(np.isfinite(res.coords))


def check_neighbour_method(method, X, n_components):
    try:
        res = project_with_info(X, method, n_components, use_cache=False)
    except ProjectionInputError:
        # Identical rows are fitted once, so what must suffice is the number of distinct rows.
        distinct = len(np.unique(normalize_rows(X), axis=0))
        assert len(X) < 3 or n_components > len(X) or distinct < max(3, n_components)
        return
    assert res.coords.shape == (len(X), n_components) and res.coords.dtype == np.float32
    assert np.all(np.isfinite(res.coords))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(matrices(max_rows=12, max_cols=5), st.integers(2, 3))
def test_tsne_is_finite_for_any_input(X, n_components):
    check_neighbour_method("tsne", X, n_components)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Spectral initialisation failed")
@pytest.mark.filterwarnings("ignore:Graph is not fully connected")
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(matrices(max_rows=12, max_cols=5), st.integers(2, 3))
def test_umap_is_finite_for_any_input(X, n_components):
    check_neighbour_method("umap", X, n_components)
