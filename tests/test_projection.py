"""Tests of embedcore.analysis.projection: guards, all three methods, exact kNN, cache and warm-up.

Random vectors here are unit-test fixtures only. Tests that fit UMAP are marked slow: the first
UMAP fit in a process compiles numba code (seconds), unless numba's disk cache is already warm.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_similarity

import embedcore.analysis.projection as proj
from embedcore.analysis.projection import (
    DEFAULTS,
    ProjectionResult,
    auto_perplexity,
    cache_info,
    clear_cache,
    exact_knn,
    is_warm,
    project,
    project_with_info,
    warm_up,
    warm_up_error,
)
from embedcore.errors import EmptyInputError, InputError, ProjectionInputError

slow = pytest.mark.slow
ALL_METHODS = [pytest.param("umap", marks=slow), "pca", "tsne"]


@pytest.fixture(autouse=True)
def _empty_cache():
    clear_cache()
    yield
    clear_cache()


def groups(n_per=20, n_groups=3, dim=16, seed=0):
    """Well-separated groups of unnormalised vectors, and their group labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_groups, dim)) * 3
    X = np.concatenate([c + rng.normal(0, 0.4, (n_per, dim)) for c in centres])
    X *= rng.uniform(0.5, 20, size=(len(X), 1))  # lengths must not matter
    return X.astype(np.float32), np.repeat(np.arange(n_groups), n_per)


def neighbour_agreement(coords, labels):
    """Share of points whose nearest other point on the map has the same label."""
    d = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return float(np.mean(labels[d.argmin(1)] == labels))


# --- guards -------------------------------------------------------------------


@pytest.mark.parametrize("method", ["umap", "tsne"])
@pytest.mark.parametrize("n", [1, 2])
def test_neighbour_methods_need_three_points(method, n):
    X, _ = groups()
    with pytest.raises(ProjectionInputError) as info:
        project(X[:n], method)
    msg = str(info.value)
    assert "at least 3 texts" in msg and f"you have {n}" in msg and "PCA" in msg
    assert ("UMAP" if method == "umap" else "t-SNE") in msg


def test_more_components_than_points():
    X, _ = groups()
    with pytest.raises(ProjectionInputError, match="4-D"):
        project(X[:3], "tsne", n_components=4)


@pytest.mark.parametrize("method", ["umap", "pca", "tsne"])
def test_bad_inputs(method):
    X, _ = groups()
    X[4, 2] = np.nan
    with pytest.raises(InputError, match="NaN"):
        project(X, method)
    with pytest.raises(EmptyInputError):
        project(np.zeros((0, 5)), method)
    with pytest.raises(InputError, match="n_components"):
        project(groups()[0], method, n_components=0)


def test_unknown_method_and_parameter():
    X, _ = groups()
    with pytest.raises(InputError, match="Unknown projection method"):
        project(X, "mds")
    with pytest.raises(InputError, match="Unsupported parameter"):
        project(X, "tsne", no_such_option=3)


# --- PCA ----------------------------------------------------------------------


def test_pca_one_and_two_points_are_finite():
    X, _ = groups()
    one = project(X[:1], "pca")
    assert one.shape == (1, 2) and one.dtype == np.float32 and np.all(one == 0)
    res = project_with_info(X[:2], "pca", n_components=3)
    assert res.coords.shape == (2, 3) and np.all(np.isfinite(res.coords))
    assert np.all(res.coords[:, 1:] == 0) and res.coords[0, 0] == pytest.approx(-res.coords[1, 0], abs=1e-5)
    assert any("at most 1 axes" in note for note in res.notes)


def test_pca_first_axis_carries_most_variance_and_is_scale_free():
    X, labels = groups()
    coords = project(X, "pca")
    assert coords.shape == (60, 2) and coords.dtype == np.float32
    assert coords[:, 0].var() >= coords[:, 1].var()
    # Rows are normalised first: rescaling any row does not move its point.
    scaled = X * np.linspace(0.1, 10, len(X), dtype=np.float32)[:, None]
    np.testing.assert_allclose(project(scaled, "pca"), coords, atol=1e-4)
    assert neighbour_agreement(coords, labels) > 0.9


@pytest.mark.parametrize("shape", [(60, 16), (10, 16), (5, 300)])
@pytest.mark.parametrize("n_components", [1, 2, 3])
def test_pca_matches_sklearn(shape, n_components):
    from sklearn.decomposition import PCA

    X = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    want = PCA(n_components=n_components).fit_transform(X.astype(np.float64))
    got = project(X, "pca", n_components, normalize=False)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_pca_rank_deficient_axes_are_zero():
    # Four points on one line in 3-D: one informative axis.
    X = np.outer([1, 2, 3, 5], [1, -2, 0.5]).astype(np.float32)
    coords = project(X, "pca", 3, normalize=False)
    assert np.all(coords[:, 1:] == 0) and np.count_nonzero(coords[:, 0]) == 4


def test_pca_more_dimensions_than_features():
    coords = project(np.array([[1, 0], [0, 1], [1, 1], [2, 1]], dtype=np.float32), "pca", n_components=3)
    assert coords.shape == (4, 3) and np.all(coords[:, 2] == 0)


# --- all methods ------------------------------------------------------------------


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("n_components", [2, 3])
def test_methods_separate_groups(method, n_components):
    X, labels = groups()
    res = project_with_info(X, method, n_components)
    assert isinstance(res, ProjectionResult)
    assert res.coords.shape == (60, n_components) and res.coords.dtype == np.float32
    assert np.all(np.isfinite(res.coords))
    # sklearn's 3-D t-SNE of 60 points mixes a few neighbours (0.88 here); chance is 0.33.
    assert neighbour_agreement(res.coords, labels) > (0.8 if n_components == 3 else 0.9)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_three_points(method):
    X, _ = groups()
    res = project_with_info(X[[0, 20, 40]], method)
    assert res.coords.shape == (3, 2) and np.all(np.isfinite(res.coords))


@pytest.mark.parametrize("method", ALL_METHODS)
def test_identical_points_share_the_origin(method):
    v = np.array([0.3, -1.0, 2.0, 0.5], dtype=np.float32)
    X = np.stack([v, 2 * v, v, 5 * v, v])  # one direction: identical for cosine
    res = project_with_info(X, method)
    assert res.coords.shape == (5, 2) and np.all(res.coords == 0)
    if method != "pca":
        assert any("same direction" in note for note in res.notes)


@pytest.mark.parametrize("method", ALL_METHODS)
# UMAP's spectral start can fail on such a graph; umap-learn then warns and starts at random.
@pytest.mark.filterwarnings("ignore:Spectral initialisation failed")
def test_duplicates_share_one_place(method):
    X, _ = groups(n_per=4)
    X = np.concatenate([X] * 5)  # every point five times
    res = project_with_info(X, method)
    coords = res.coords
    assert coords.shape == (60, 2) and np.all(np.isfinite(coords))
    # Every copy of a point is drawn exactly where the first copy is.
    for copy in range(1, 5):
        np.testing.assert_array_equal(coords[copy * 12 : (copy + 1) * 12], coords[:12])
    assert len(np.unique(coords, axis=0)) == 12
    if method != "pca":
        assert any("48 repeated texts" in note for note in res.notes), res.notes


@pytest.mark.parametrize("method", ["umap", "tsne"])
def test_copies_of_one_text_among_others_share_one_place_and_the_rest_is_unchanged(method):
    X, _ = groups()
    with_copies = np.concatenate([X, X[[3, 3, 3]]])  # the row 3 text pasted three more times
    coords = project(with_copies, method)
    np.testing.assert_array_equal(coords[-3:], np.repeat(coords[[3]], 3, axis=0))
    # The distinct texts are mapped exactly as without the copies (same fit on the same rows).
    np.testing.assert_array_equal(coords[: len(X)], project(X, method))


def test_unique_rows_keeps_first_seen_order_and_maps_every_row_back():
    X, _ = groups(n_per=5)
    order = np.random.default_rng(3).permutation(np.concatenate([np.arange(15), [4, 0, 4, 9, 14, 0]]))
    rows = X[order]
    first, inverse = proj._unique_rows(rows)
    assert len(first) == 15 and first.dtype == inverse.dtype == np.int64
    np.testing.assert_array_equal(rows[first][inverse], rows)
    assert np.all(np.diff(first) > 0)  # first-seen order
    for place, row in enumerate(first):  # each kept row is the first of its copies
        assert np.flatnonzero(inverse == place)[0] == row
    negative_zero = np.array([[0.0, 1.0], [-0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    assert proj._unique_rows(negative_zero)[0].tolist() == [0, 1]  # byte for byte, as documented


def test_too_few_distinct_texts_for_a_neighbour_map_is_a_clear_error():
    X, _ = groups()
    with pytest.raises(ProjectionInputError, match="Only 2 of the 6 texts are distinct"):
        project(X[[0, 0, 0, 30, 30, 30]], "umap")


@slow
def test_umap_clamps_n_neighbors():
    X, _ = groups()
    res = project_with_info(X[:6], "umap")
    assert res.params["n_neighbors"] == 5
    assert any("n_neighbors lowered from 15 to 5" in note for note in res.notes)
    assert np.all(np.isfinite(res.coords))


def test_tsne_clamps_perplexity():
    X, _ = groups()
    res = project_with_info(X[:10], "tsne", perplexity=30)
    assert res.params["perplexity"] == 3.0
    assert any("perplexity lowered from 30 to 3" in note for note in res.notes)
    assert np.all(np.isfinite(res.coords))


@pytest.mark.parametrize(
    ("n", "dims", "expected"),
    [(30, 2, 5.0), (100, 2, 10.0), (100, 3, 8.3), (140, 2, 14.0), (1_000, 2, 30.0), (50_000, 3, 30.0)],
)
def test_auto_perplexity_follows_the_number_of_points(n, dims, expected):
    assert auto_perplexity(n, dims) == expected


def test_tsne_chooses_its_perplexity_from_n_and_dimensions():
    X, _ = groups()
    assert project_with_info(X, "tsne").params["perplexity"] == auto_perplexity(len(X), 2)
    assert project_with_info(X, "tsne", 3).params["perplexity"] == auto_perplexity(len(X), 3)
    assert project_with_info(X, "tsne", perplexity=4).params["perplexity"] == 4.0


@slow
def test_umap_seed_is_reproducible_and_none_runs_parallel():
    X, labels = groups()
    a = project_with_info(X, "umap", random_state=7, use_cache=False).coords
    b = project_with_info(X, "umap", random_state=7, use_cache=False).coords
    assert np.array_equal(a, b)
    c = project(X, "umap", random_state=None)
    assert np.all(np.isfinite(c)) and neighbour_agreement(c, labels) > 0.9


def test_defaults_are_not_mutated_by_calls():
    before = {k: dict(v) for k, v in DEFAULTS.items()}
    X, _ = groups()
    project(X[:5], "tsne", perplexity=2.0)
    assert before == DEFAULTS
    assert DEFAULTS["umap"]["n_neighbors"] == 15 and DEFAULTS["umap"]["metric"] == "cosine"


# --- UMAP's start and layout threads ---------------------------------------------------


@pytest.mark.parametrize("n_components", [2, 3])
def test_pca_start_is_the_pca_scaled_like_umap_learns_starts(n_components):
    X, _ = groups()
    Xn = proj.normalize_rows(X)
    start = proj._pca_start(Xn, n_components, 42)
    assert start.shape == (60, n_components) and start.dtype == np.float32
    assert np.abs(start).max() == pytest.approx(10.0, abs=1e-3)
    # The PCA axes themselves (same order and signs), up to the scale and 1e-4 noise.
    pca = project(Xn, "pca", n_components, use_cache=False)
    scale = 10.0 / np.abs(pca).max()
    np.testing.assert_allclose(start, pca * scale, atol=1e-3)
    assert not np.array_equal(start, (pca * scale).astype(np.float32))  # the noise is there


def test_pca_start_is_seeded():
    Xn = proj.normalize_rows(groups()[0])
    same = proj._pca_start(Xn, 2, 7), proj._pca_start(Xn, 2, 7)
    assert np.array_equal(*same)
    other = proj._pca_start(Xn, 2, 8)
    assert not np.array_equal(same[0], other)
    np.testing.assert_allclose(same[0], other, atol=1e-3)  # only the noise differs


@pytest.mark.parametrize(("n", "n_components"), [(3, 3), (4, 3), (3, 2)])
def test_pca_start_of_few_points_spreads_every_axis(n, n_components):
    # 3 points span 2 axes: a constant third axis would make umap-learn divide by 0 when it
    # rescales each axis to [0, 10]; such an axis is drawn at random in [-10, 10] instead.
    Xn = proj.normalize_rows(groups()[0][[0, 20, 40, 1][:n]])
    start = proj._pca_start(Xn, n_components, 0)
    assert start.shape == (n, n_components) and np.all(np.isfinite(start))
    assert np.all(np.ptp(start, axis=0) > 1.0)  # every axis has a real spread
    assert np.all(np.abs(start) <= 10.0 + 1e-3)
    assert np.array_equal(start, proj._pca_start(Xn, n_components, 0))


def test_pca_start_of_points_on_a_line():
    # Rank 1: the second axis is random, the first is the line.
    Xn = proj.normalize_rows(np.array([[1, 0, 0], [1, 1, 0], [1, 2, 0], [1, 3, 0]], dtype=np.float32))
    start = proj._pca_start(Xn, 2, 0)
    assert np.all(np.isfinite(start)) and np.ptp(start[:, 1]) > 1.0
    assert np.all(np.diff(start[:, 0]) > 0) or np.all(np.diff(start[:, 0]) < 0)  # order along the line


@slow
@pytest.mark.parametrize("n_components", [2, 3])
def test_umap_starts_from_pca_and_never_runs_the_spectral_start(monkeypatch, n_components):
    import umap.umap_

    def refuse(*args, **kwargs):
        raise AssertionError("the spectral start ran")

    monkeypatch.setattr(umap.umap_, "spectral_layout", refuse)
    X, labels = groups()  # three far-apart groups: a kNN graph of three components
    res = project_with_info(X, "umap", n_components)
    assert res.params["init"] == "pca"
    assert res.coords.shape == (60, n_components)
    assert neighbour_agreement(res.coords, labels) > 0.9
    again = project_with_info(X, "umap", n_components, use_cache=False).coords
    assert np.array_equal(res.coords, again)  # same input, same seed: the same map


@slow
@pytest.mark.parametrize(("n", "n_components"), [(3, 2), (3, 3), (4, 2), (4, 3), (6, 2), (6, 3)])
def test_umap_with_fewer_points_than_neighbours(n, n_components):
    X, _ = groups()
    rows = [0, 20, 40, 1, 21, 41][:n]
    res = project_with_info(X[rows], "umap", n_components)
    assert res.coords.shape == (n, n_components) and np.all(np.isfinite(res.coords))
    assert res.params["n_neighbors"] == n - 1
    assert np.array_equal(res.coords, project(X[rows], "umap", n_components, use_cache=False))


@slow
@pytest.mark.parametrize("n_jobs", [1, -1])
def test_duplicates_share_one_place_with_either_layout(n_jobs):
    X, _ = groups(n_per=10)
    with_copies = np.concatenate([X, X[[0, 0, 15]]])
    coords = project(with_copies, "umap", n_jobs=n_jobs)
    np.testing.assert_array_equal(coords[-3:], coords[[0, 0, 15]])
    assert len(np.unique(coords, axis=0)) == len(X)


def test_layout_threads_follow_size_seed_and_n_jobs():
    cores = proj._usable_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    threshold = proj.PARALLEL_LAYOUT_MIN
    assert proj._layout_threads(threshold - 1, 42, None) == 1  # small and seeded: reproducible
    assert proj._layout_threads(threshold, 42, None) == cores
    assert proj._layout_threads(100, None, None) == cores  # no seed: as umap-learn does
    assert proj._layout_threads(10 * threshold, 42, 1) == 1
    assert proj._layout_threads(100, 42, -1) == cores
    assert proj._layout_threads(100, 42, 1000) == cores
    assert proj._layout_threads(100, 42, 1) == 1


def test_umap_rejects_a_bad_n_jobs():
    X, _ = groups()
    for bad in (0, -2, 1.5, True):
        with pytest.raises(InputError, match="n_jobs"):
            project(X, "umap", n_jobs=bad)


@slow
def test_large_umap_maps_run_fewer_epochs_with_more_negative_samples(monkeypatch):
    """Above AUTO_EPOCHS_SWITCH points: LARGE_EPOCHS epochs of LARGE_NEGATIVE_SAMPLE_RATE samples."""
    import inspect

    import umap.umap_

    seen = []
    real = umap.umap_.simplicial_set_embedding

    def spy(*args, **kwargs):
        bound = inspect.signature(real).bind(*args, **kwargs).arguments
        seen.append((bound["n_epochs"], bound["negative_sample_rate"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(umap.umap_, "simplicial_set_embedding", spy)
    monkeypatch.setattr(proj, "AUTO_EPOCHS_SWITCH", 60)  # 60 points are "small", 61 "large"
    X, labels = groups(n_per=21)
    large = project_with_info(X, "umap", use_cache=False)
    expected = (proj.LARGE_EPOCHS, proj.LARGE_NEGATIVE_SAMPLE_RATE)
    assert expected != (500, 5)
    assert (large.params["n_epochs"], large.params["negative_sample_rate"]) == expected == seen[-1]
    assert neighbour_agreement(large.coords, labels) > 0.9
    small = project_with_info(X[:60], "umap", use_cache=False)
    assert (small.params["n_epochs"], small.params["negative_sample_rate"]) == (500, 5) == seen[-1]
    # What a caller sets is kept; what it leaves out still follows the size.
    asked = project_with_info(X, "umap", use_cache=False, n_epochs=300)
    assert (asked.params["n_epochs"], asked.params["negative_sample_rate"]) == (300, expected[1]) == seen[-1]
    assert (
        project_with_info(X, "umap", use_cache=False, negative_sample_rate=3).params["n_epochs"]
        == expected[0]
    )
    assert seen[-1] == (expected[0], 3)


@slow
def test_seeded_umap_uses_the_parallel_layout_from_the_threshold(monkeypatch):
    import umap.layouts

    chosen = []
    real = umap.layouts._get_optimize_layout_euclidean_single_epoch_fn

    def spy(parallel=False):
        chosen.append(parallel)
        return real(parallel)

    monkeypatch.setattr(umap.layouts, "_get_optimize_layout_euclidean_single_epoch_fn", spy)
    X, labels = groups()
    monkeypatch.setattr(proj, "PARALLEL_LAYOUT_MIN", 50)
    res = project_with_info(X, "umap", use_cache=False)
    assert chosen == [True] and res.params["n_jobs"] >= 1
    assert neighbour_agreement(res.coords, labels) > 0.9
    monkeypatch.setattr(proj, "PARALLEL_LAYOUT_MIN", 61)
    project(X, "umap", use_cache=False)
    assert chosen == [True, False]
    project(X, "umap", use_cache=False, n_jobs=-1)  # asked for explicitly, at any size
    assert chosen == [True, False, True]


# Two Streamlit sessions are two threads of one process. Run in a fresh interpreter: numba
# picks its threading layer once per process, and the failure this guards against aborts it.
_TWO_SESSIONS = """
import sys, threading
import numpy as np
import numba
from embedcore.analysis import projection

rng = np.random.default_rng(0)
data = [rng.standard_normal((n, 16)).astype(np.float32) for n in (400, 500)]
together = threading.Barrier(2)
shapes = {}

def session(i):
    together.wait()
    shapes[i] = projection.project(data[i], "umap", n_jobs=-1, use_cache=False).shape

threads = [threading.Thread(target=session, args=(i,)) for i in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(numba.threading_layer(), shapes[0], shapes[1])
"""


@slow
@pytest.mark.parametrize("layer", ["workqueue", "default"])
def test_two_sessions_mapping_at_once_both_finish(layer):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "NUMBA_THREADING_LAYER": layer, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", _TWO_SESSIONS], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    # Without the guard, the workqueue layer aborts the process (exit -6, "Concurrent access").
    assert done.returncode == 0, done.stderr[-2000:]
    used, *shapes = done.stdout.strip().split(maxsplit=1)
    assert shapes == ["(400, 2) (500, 2)"], done.stdout
    if layer == "workqueue":
        assert used == "workqueue"


# --- exact kNN ----------------------------------------------------------------------


def test_exact_knn_matches_brute_force():
    X, _ = groups()
    idx, dist = exact_knn(X, 6)
    assert idx.shape == dist.shape == (60, 6)
    assert idx.dtype == np.int64 and dist.dtype == np.float32
    assert np.array_equal(idx[:, 0], np.arange(60)) and np.all(dist[:, 0] == 0)
    D = 1 - cosine_similarity(X)
    np.fill_diagonal(D, np.inf)
    want = np.argsort(D, axis=1, kind="stable")[:, :5]
    assert np.array_equal(idx[:, 1:], want)
    np.testing.assert_allclose(dist[:, 1:], np.take_along_axis(D, want, 1), atol=1e-5)
    assert np.all(np.diff(dist, axis=1) >= 0)


def test_exact_knn_self_first_with_duplicates_and_clamped_k():
    X = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], dtype=np.float32)
    idx, dist = exact_knn(X, 10)
    assert idx.shape == (4, 4)
    assert idx[:, 0].tolist() == [0, 1, 2, 3]
    assert idx[1].tolist() == [1, 0, 2, 3] and dist[1].tolist() == [0, 0, 0, 1]
    with pytest.raises(InputError):
        exact_knn(X, 0)
    with pytest.raises(InputError, match="cosine"):
        exact_knn(X, 2, metric="euclidean")


def test_knn_cache_slices_and_copies():
    X, _ = groups()
    Xn = proj.normalize_rows(X)
    idx, dist = proj._cached_knn(Xn, 8)
    dist[:] = 9.0
    assert len(proj._knn_cache) == 1
    idx[:] = -1  # umap-learn writes into what it gets: the cache must not see that
    small_idx, small_dist = proj._cached_knn(Xn, 5)
    want_idx, want_dist = exact_knn(Xn, 5)
    assert np.array_equal(small_idx, want_idx) and np.array_equal(small_dist, want_dist)
    assert len(proj._knn_cache) == 1  # served from the 8-neighbour entry
    big_idx, _ = proj._cached_knn(Xn, 12)
    assert np.array_equal(big_idx, exact_knn(Xn, 12)[0])


@slow
def test_umap_with_cached_knn_equals_fresh_computation():
    X, _ = groups()
    project(X, "umap", n_neighbors=12)  # leaves the kNN cached
    reused = project(X, "umap", n_neighbors=10, min_dist=0.5)
    clear_cache()
    fresh = project(X, "umap", n_neighbors=10, min_dist=0.5)
    assert np.array_equal(reused, fresh)


# --- cache ----------------------------------------------------------------------


def test_cache_hit_returns_without_recomputation():
    X, _ = groups()
    first = project_with_info(X, "tsne")
    assert not first.cached and cache_info()["misses"] == 1
    second = project_with_info(X.copy(), "tsne")
    assert second.cached and cache_info()["hits"] == 1
    assert np.array_equal(first.coords, second.coords)
    assert second.seconds == first.seconds  # the original computation's time, not a new one
    second.coords[:] = 0  # callers get a copy: the cache is not corrupted
    assert np.array_equal(project(X, "tsne"), first.coords)


def test_cache_key_covers_data_and_parameters():
    X, _ = groups()
    project(X, "pca")
    project(X, "pca", n_components=3)
    project(X, "pca", random_state=1)
    project(X, "pca", normalize=False)
    Y = X.copy()
    Y[0, 0] += 1
    project(Y, "pca")
    assert cache_info()["hits"] == 0 and cache_info()["misses"] == 5
    assert not project_with_info(X, "pca", use_cache=False).cached
    assert cache_info()["size"] == 5


def test_cache_key_reads_array_parameters_by_content():
    X, _ = groups(n_per=200)  # 600 x 2 starting positions: numpy abbreviates their repr
    start = np.zeros((len(X), 2), dtype=np.float32)
    start[:, 0] = np.arange(len(X))
    other = start.copy()
    other[300, 1] = 1.0  # hidden in the middle of an abbreviated repr
    assert repr(start) == repr(other)
    project(X, "tsne", init=start, max_iter=250)
    assert not project_with_info(X, "tsne", init=other, max_iter=250).cached
    assert project_with_info(X, "tsne", init=start.copy(), max_iter=250).cached


def test_cache_evicts_least_recently_used(monkeypatch):
    monkeypatch.setattr(proj, "CACHE_SIZE", 2)
    X, _ = groups()
    project(X, "pca", n_components=1)
    project(X, "pca", n_components=2)
    project(X, "pca", n_components=1)  # hit: now the most recent
    project(X, "pca", n_components=3)  # evicts n_components=2
    assert cache_info()["size"] == 2
    assert project_with_info(X, "pca", n_components=1).cached
    assert not project_with_info(X, "pca", n_components=2).cached


# --- warm-up --------------------------------------------------------------------------


@slow
def test_warm_up_is_idempotent_and_makes_umap_ready():
    thread = warm_up()
    assert thread is warm_up()
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert warm_up_error() is None and is_warm()
    X, labels = groups()
    assert neighbour_agreement(project(X, "umap"), labels) > 0.9


# --- BLAS threads -----------------------------------------------------------------------


def blas_threads():
    from threadpoolctl import threadpool_info

    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_single_threaded_blas_nests_and_restores():
    before = blas_threads()
    with proj._single_threaded_blas():
        assert set(blas_threads()) == {1}
        with proj._single_threaded_blas():
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {1}  # the outer user still holds the limit
    assert blas_threads() == before
    project(groups()[0], "pca", use_cache=False)
    assert blas_threads() == before
