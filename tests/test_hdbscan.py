"""HDBSCAN clusters (embedcore.analysis.similarity.hdbscan_labels) on toy data whose clusters are known.

The vectors are unit-test fixtures: tight bundles of directions around orthogonal axes (cosine
geometry: what separates embeddings is their direction), plus lone outliers pointing elsewhere.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from embedcore.analysis.explore import cluster_names
from embedcore.analysis.similarity import default_min_cluster_size, hdbscan_labels
from embedcore.errors import EmptyInputError, InputError

DIMS = 24


def bundles(sizes, *, outliers: int = 0, spread: float = 0.05, seed: int = 0, dims: int = DIMS):
    """Rows around axis 0, 1, 2 … (one bundle per size, shuffled) and ``outliers`` lone rows.

    Returns ``(X, truth)`` with ``truth`` the bundle of each row and -1 for the outliers.
    """
    rng = np.random.default_rng(seed)
    truth = np.concatenate([np.full(size, c) for c, size in enumerate(sizes)] + [np.full(outliers, -1)])
    X = np.zeros((truth.size, dims), dtype=np.float32)
    for i, c in enumerate(truth):
        # Outliers each point along their own axis, far from every bundle and from each other.
        axis = c if c >= 0 else len(sizes) + i - (truth.size - outliers)
        X[i, axis] = 1.0
    X += spread * rng.standard_normal(X.shape).astype(np.float32)
    order = rng.permutation(truth.size)
    return X[order], truth[order]


def same_partition(found: np.ndarray, truth: np.ndarray) -> bool:
    return adjusted_rand_score(truth, found) == pytest.approx(1.0)


@pytest.mark.parametrize("reduce", [None, "pca"])
def test_bundles_are_found_and_the_outliers_are_noise(reduce):
    X, truth = bundles([30, 20, 12], outliers=3)
    labels = hdbscan_labels(X, 5, reduce=reduce)
    assert labels.dtype == np.int64 and labels.shape == truth.shape
    assert same_partition(labels, truth)
    assert set(labels[truth == -1]) == {-1}
    assert set(labels) == {-1, 0, 1, 2}  # the number of clusters was found, not asked


def test_clusters_are_numbered_by_first_appearance_and_noise_stays_minus_one():
    X, truth = bundles([10, 10, 10], outliers=2)
    labels = hdbscan_labels(X, 5, reduce=None)
    clustered = labels[labels >= 0]
    _, first = np.unique(clustered, return_index=True)
    assert clustered[np.sort(first)].tolist() == [0, 1, 2]
    # Noise rows keep -1 whatever the numbering.
    assert (labels[truth == -1] == -1).all()


def test_a_larger_set_is_fitted_on_a_sample_and_the_rest_join_their_nearest_row():
    # 48 dimensions: the rows left out find their nearest fitted row in a 32-D PCA.
    X, truth = bundles([300, 200, 100], spread=0.03, dims=48)
    labels = hdbscan_labels(X, 20, reduce="pca", max_fit=150)
    assert same_partition(labels, truth)


def test_default_smallest_cluster_grows_with_the_square_root_of_the_set():
    assert default_min_cluster_size(10) == 5
    assert default_min_cluster_size(100) == 10
    assert default_min_cluster_size(1_500) == 39
    assert default_min_cluster_size(10_000) == 100
    assert default_min_cluster_size(100_000_000) == 1_000


def test_fewer_rows_than_the_smallest_cluster_are_all_noise():
    X, _ = bundles([4])
    assert hdbscan_labels(X, 5, reduce=None).tolist() == [-1] * 4


def test_bad_input_raises_typed_errors():
    X, _ = bundles([10])
    with pytest.raises(EmptyInputError):
        hdbscan_labels(np.zeros((0, DIMS)))
    for bad in (1, 0, True, 2.5):
        with pytest.raises(InputError, match="min_cluster_size"):
            hdbscan_labels(X, bad)
    with pytest.raises(InputError, match="min_samples"):
        hdbscan_labels(X, 5, min_samples=0)
    with pytest.raises(InputError, match="reduce"):
        hdbscan_labels(X, 5, reduce="tsne")
    with pytest.raises(InputError, match="NaN"):
        hdbscan_labels(np.full((10, DIMS), np.nan))


def test_noise_rows_give_no_words_to_the_cluster_names():
    texts = ["guitar solo", "guitar riff", "guitar chords", "pasta sauce", "pasta dough", "zebra"]
    labels = np.array([0, 0, 0, 1, 1, -1])
    names = cluster_names(texts, labels, words=1)
    assert names == ["guitar", "pasta"]


def test_cluster_names_leave_out_numbers_and_stop_words_and_repeat_no_word():
    texts = [
        "The numpy array holds 3 arrays of floats",
        "A numpy array of 10 integers",
        "Reshape the numpy array in 2024",
        "Numpy arrays and the masked array",
        "The guitar solo in the song",
        "A guitar riff and a drum solo",
        "The band played a guitar solo",
        "Drum and guitar in the song",
    ]
    clusters = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    names = cluster_names(texts, clusters)
    for name in names:
        words = [w for term in name.split(", ") for w in term.split()]
        assert not any(w.isdigit() or w in {"the", "and", "of", "in", "a"} for w in words), name
        # "array" and "arrays", or "numpy" and "numpy array", never in one name.
        stems = [w[:4] for w in words]
        assert len(stems) == len(set(stems)), name
    assert names[0].split(", ")[0] in {"numpy", "numpy array", "array"}
    assert "guitar" in names[1]


def test_cluster_names_may_hold_a_phrase_shared_by_several_texts():
    texts = [
        "a hash map stores keys",
        "the hash map finds values",
        "hash map lookups are fast",
        "rockets reach orbit",
        "the rocket launched",
        "orbit of the moon",
    ]
    names = cluster_names(texts, np.array([0, 0, 0, 1, 1, 1]), words=2)
    assert names[0].startswith("hash map"), names
    # A phrase from one text alone never names a cluster of four or more.
    assert "finds values" not in names[0]


@pytest.mark.slow
def test_the_default_umap_reduction_finds_the_bundles():
    # UMAP's first fit in a process compiles numba code: slow.
    X, truth = bundles([40, 30, 30], outliers=0, spread=0.03)
    labels = hdbscan_labels(X, 10)
    assert same_partition(labels, truth)
