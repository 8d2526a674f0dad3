"""Tests of embedcore.analysis.explore: neighbour tables, pair tables, query ranking and placement.

Random vectors here are unit-test fixtures only (never shown as embeddings).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics.pairwise import cosine_similarity

from embedcore.analysis.explore import (
    heatmap_rows,
    identical_rows,
    membership_weights,
    neighbour_links,
    neighbours_frame,
    neighbours_of,
    pairs_frame,
    place_query,
    rank_query,
)
from embedcore.analysis.find import find_rows
from embedcore.analysis.groups import (
    OTHER_GROUP,
    block_means,
    cluster_names,
    isolate_label,
    isolate_selection,
    take_rows,
)
from embedcore.analysis.projection import project
from embedcore.errors import InputError


@pytest.fixture
def corpus():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((60, 12)).astype(np.float32) * rng.uniform(0.5, 5, (60, 1)).astype(np.float32)
    texts = [f"text {i}" for i in range(60)]
    labels = [f"group {i % 3}" for i in range(60)]
    return X, texts, labels


# --- neighbours ------------------------------------------------------------------------------


def test_neighbours_of_matches_brute_force_and_never_returns_self(corpus):
    X, _, _ = corpus
    rows = [5, 0, 59]
    idx, scores = neighbours_of(X, rows, 4)
    S = cosine_similarity(X)
    assert idx.shape == scores.shape == (3, 4)
    assert idx.dtype == np.int64 and scores.dtype == np.float32
    for r, row in enumerate(rows):
        expected = [j for j in np.argsort(-S[row], kind="stable") if j != row][:4]
        assert idx[r].tolist() == expected
        np.testing.assert_allclose(scores[r], S[row, expected], atol=1e-5)
        assert row not in idx[r]


def test_neighbours_of_keeps_duplicates_of_the_row_but_not_the_row(corpus):
    X, _, _ = corpus
    X = X.copy()
    X[10] = X[3] * 2.0  # same direction: cosine 1 with row 3, and row 10 > row 3 in index order
    X[2] = X[3]  # an exact duplicate with a lower index than row 3
    idx, scores = neighbours_of(X, [3], 3)
    assert 3 not in idx[0]
    assert set(idx[0][:2]) == {2, 10}
    np.testing.assert_allclose(scores[0][:2], 1.0, atol=1e-6)
    assert idx.shape == (1, 3)


def test_neighbour_links_join_the_row_to_its_nearest_other_rows_most_similar_first(corpus):
    X, _, _ = corpus
    S = cosine_similarity(X)
    expected = [int(j) for j in np.argsort(-S[7], kind="stable") if j != 7][:5]
    links = neighbour_links(X, 7, 5)
    assert links == [(7, j) for j in expected]
    assert all(type(a) is int and type(b) is int for a, b in links)  # plain ints: part of cache keys
    assert len(neighbour_links(X[:3], 0, 10)) == 2  # clamped to the other rows
    assert neighbour_links(X[:1], 0, 5) == []  # one text: nothing to join


def test_neighbours_of_clamps_k_and_handles_one_row_and_no_rows(corpus):
    X, _, _ = corpus
    idx, _ = neighbours_of(X[:4], [0], 10)
    assert idx.shape == (1, 3)
    assert sorted(idx[0].tolist()) == [1, 2, 3]
    idx, scores = neighbours_of(X[:1], [0], 5)
    assert idx.shape == scores.shape == (1, 0)
    idx, _ = neighbours_of(X, [], 5)
    assert idx.shape == (0, 0)
    # Repeated rows are listed once, in first-seen order.
    idx, _ = neighbours_of(X, [7, 7, 1], 2)
    assert idx.shape == (2, 2)


@pytest.mark.parametrize("rows", [[60], [-1], [[1, 2]], ["a"]])
def test_neighbours_of_rejects_bad_rows(corpus, rows):
    X, _, _ = corpus
    with pytest.raises(InputError):
        neighbours_of(X, rows, 3)


def test_neighbours_frame_lists_texts_labels_coordinates_and_ranks(corpus):
    X, texts, labels = corpus
    coords = np.arange(120, dtype=np.float32).reshape(60, 2)
    frame = neighbours_frame(X, [4, 9], texts, labels, k=3, coords=coords)
    assert list(frame.columns) == [
        "row", "text", "label", "x", "y", "rank", "neighbour_row", "neighbour", "neighbour_label", "cosine",
    ]  # fmt: skip
    assert len(frame) == 6
    assert frame["row"].tolist() == [4, 4, 4, 9, 9, 9]
    assert frame["rank"].tolist() == [1, 2, 3, 1, 2, 3]
    idx, scores = neighbours_of(X, [4, 9], 3)
    assert frame["neighbour_row"].tolist() == idx.ravel().tolist()
    assert frame["neighbour"].tolist() == [texts[j] for j in idx.ravel()]
    assert frame["neighbour_label"].tolist() == [labels[j] for j in idx.ravel()]
    assert frame["text"].iloc[3] == "text 9" and frame["label"].iloc[3] == labels[9]
    assert frame["x"].iloc[0] == coords[4, 0] and frame["y"].iloc[5] == coords[9, 1]
    np.testing.assert_allclose(frame["cosine"].to_numpy(), scores.ravel())


def test_neighbours_frame_with_a_single_text_lists_it_without_neighbours():
    frame = neighbours_frame(np.ones((1, 4), np.float32), [0], ["only one"], k=5)
    assert len(frame) == 1
    assert frame["text"].iloc[0] == "only one"
    assert frame["neighbour_row"].isna().all()
    assert frame["neighbour"].isna().all()


def test_neighbours_frame_checks_lengths(corpus):
    X, texts, _ = corpus
    with pytest.raises(InputError, match="texts"):
        neighbours_frame(X, [0], texts[:-1])
    with pytest.raises(InputError, match="coords"):
        neighbours_frame(X, [0], texts, coords=np.zeros((60, 4)))


def test_a_streamlit_selection_event_gives_rows_and_their_neighbours(corpus):
    from embedcore.figures.scatter import selected_rows

    X, texts, _ = corpus
    # What st.plotly_chart(on_select="rerun") returns for two points of different traces:
    # point_index counts within a trace, the row is in customdata.
    event = {
        "selection": {
            "points": [
                {"curve_number": 2, "point_index": 0, "customdata": [12]},
                {"curve_number": 0, "point_index": 0, "customdata": [3]},
            ],
            "point_indices": [0, 0],
            "box": [],
            "lasso": [],
        }
    }
    rows = selected_rows(event)
    assert rows == [3, 12]
    frame = neighbours_frame(X, rows, texts, k=2)
    assert frame["text"].tolist() == ["text 3", "text 3", "text 12", "text 12"]
    assert frame["neighbour_row"].tolist() == neighbours_of(X, rows, 2)[0].ravel().tolist()


# --- pairs -----------------------------------------------------------------------------------


def test_pairs_frame_most_and_least_similar_match_brute_force(corpus):
    X, texts, labels = corpus
    S = cosine_similarity(X)
    iu = np.triu_indices(60, k=1)
    order = np.argsort(-S[iu], kind="stable")
    most = pairs_frame(X, texts, labels, n=5)
    assert list(zip(most["row_a"], most["row_b"], strict=True)) == [
        (int(iu[0][o]), int(iu[1][o])) for o in order[:5]
    ]
    assert most["text_a"].tolist() == [texts[i] for i in most["row_a"]]
    assert most["label_b"].tolist() == [labels[j] for j in most["row_b"]]
    assert (np.diff(most["cosine"].to_numpy()) <= 0).all()
    least = pairs_frame(X, texts, n=5, largest=False)
    assert "label_a" not in least.columns
    np.testing.assert_allclose(least["cosine"].to_numpy(), np.sort(S[iu])[:5], atol=1e-5)
    assert (least["row_a"] < least["row_b"]).all()


def test_pairs_frame_with_one_text_is_empty():
    frame = pairs_frame(np.ones((1, 3), np.float32), ["a"], n=10)
    assert frame.empty
    assert "cosine" in frame.columns


# --- query ranking -----------------------------------------------------------------------------


def test_rank_query_orders_the_corpus_by_cosine(corpus):
    X, texts, labels = corpus
    rng = np.random.default_rng(1)
    q = rng.standard_normal(12).astype(np.float32)
    frame = rank_query(q, X, texts, labels, k=7)
    expected = np.argsort(-cosine_similarity(q[None], X)[0], kind="stable")[:7]
    assert frame["row"].tolist() == expected.tolist()
    assert frame["rank"].tolist() == list(range(1, 8))
    assert frame["text"].tolist() == [texts[i] for i in expected]
    assert frame["label"].tolist() == [labels[i] for i in expected]
    assert (np.diff(frame["cosine"].to_numpy()) <= 0).all()
    assert len(rank_query(q, X, texts, k=500)) == 60


def test_rank_query_can_leave_out_the_query_text_itself(corpus):
    X, texts, _ = corpus
    texts = list(texts)
    texts[30] = "  text 4 "  # a repeat of row 4, with stray spaces
    same = identical_rows(texts, "text 4")
    assert same.tolist() == [4, 30]
    assert identical_rows(texts, "not there").size == 0
    full = rank_query(X[4], X, texts, k=5)
    assert full["row"].iloc[0] == 4 and full["cosine"].iloc[0] == pytest.approx(1.0)
    ranked = rank_query(X[4], X, texts, k=5, exclude=same)
    assert len(ranked) == 5
    assert not ranked["row"].isin([4, 30]).any()
    everything = rank_query(X[4], X, texts, k=60)["row"].tolist()
    assert ranked["row"].tolist() == [r for r in everything if r not in (4, 30)][:5]
    assert ranked["rank"].tolist() == [1, 2, 3, 4, 5]
    assert len(rank_query(X[4], X, texts, k=100, exclude=same)) == 58


def test_rank_query_refuses_a_query_from_another_model(corpus):
    X, texts, _ = corpus
    with pytest.raises(InputError, match="dimensions"):
        rank_query(np.ones(13, np.float32), X, texts)
    with pytest.raises(InputError):
        rank_query(np.ones((2, 12), np.float32), X, texts)
    with pytest.raises(InputError):
        rank_query(np.ones(12, np.float32), X, texts, k=0)


# --- query placement ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_components", [2, 3])
def test_place_query_on_pca_map_equals_the_fitted_pca_transform(corpus, n_components):
    X, _, _ = corpus
    coords = project(X, "pca", n_components)
    rng = np.random.default_rng(3)
    q = rng.standard_normal(12).astype(np.float32) * 4
    placed = place_query(q, X, coords, "pca")
    # Reference: sklearn's own PCA on the same unit-normalised rows, applied to the query.
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    pca = PCA(n_components=n_components, random_state=42).fit(Xn)
    ref = pca.transform((q / np.linalg.norm(q))[None])[0]
    signs = np.sign(pca.transform(Xn)[0] * coords[0])  # the map's axes may be flipped
    assert placed.how == "linear"
    np.testing.assert_allclose(placed.coords, ref * signs, atol=1e-4)
    assert placed.coords.shape == (n_components,) and placed.coords.dtype == np.float32
    # A corpus row lands exactly on its own point.
    np.testing.assert_allclose(place_query(X[17], X, coords, "pca").coords, coords[17], atol=1e-4)


def test_place_query_on_a_tiny_pca_map_keeps_unspanned_axes_at_zero(corpus):
    X, _, _ = corpus
    coords = project(X[:2], "pca", 3)  # two points span one axis
    placed = place_query(X[5], X[:2], coords, "pca")
    assert placed.how == "linear"
    assert placed.coords[1] == 0 and placed.coords[2] == 0


def test_place_query_falls_back_to_neighbours_when_coords_are_not_that_pca(corpus):
    X, _, _ = corpus
    not_pca = np.random.default_rng(0).standard_normal((60, 2)).astype(np.float32)
    placed = place_query(X[0], X, not_pca, "pca", k=1)
    assert placed.how == "neighbours"
    np.testing.assert_allclose(placed.coords, not_pca[0])


def test_place_query_on_umap_map_is_a_weighted_mean_of_nearest_positions(corpus):
    X, _, _ = corpus
    coords = np.random.default_rng(0).standard_normal((60, 2)).astype(np.float32)
    q = X[3] + X[40]
    placed = place_query(q, X, coords, "umap", k=4)
    assert placed.how == "neighbours"
    expected_nb = np.argsort(-cosine_similarity(q[None], X)[0], kind="stable")[:4]
    assert placed.neighbours.tolist() == expected_nb.tolist()
    # Inside the neighbours' bounding box, nearer the nearest one than a plain mean would be.
    pts = coords[expected_nb]
    assert (placed.coords >= pts.min(axis=0) - 1e-6).all() and (placed.coords <= pts.max(axis=0) + 1e-6).all()
    plain = pts.mean(axis=0)
    assert np.linalg.norm(placed.coords - pts[0]) < np.linalg.norm(plain - pts[0])
    assert "UMAP" in placed.description
    # One neighbour: exactly its position.
    np.testing.assert_allclose(place_query(X[9], X, coords, "tsne", k=1).coords, coords[9])


def test_membership_weights_sum_to_log2_k_like_umap():
    d = np.array([0.2, 0.25, 0.3, 0.4, 0.6, 0.61, 0.7, 0.9])
    w = membership_weights(d)
    assert w[0] == pytest.approx(1.0)
    assert w.sum() == pytest.approx(np.log2(d.size), abs=1e-4)
    assert (np.diff(w) <= 0).all()
    assert membership_weights(np.array([0.3, 0.3, 0.3])).tolist() == [1.0, 1.0, 1.0]


def test_place_query_checks_shapes(corpus):
    X, _, _ = corpus
    with pytest.raises(InputError):
        place_query(X[0], X, np.zeros((59, 2)), "umap")
    with pytest.raises(InputError, match="dimensions"):
        place_query(np.ones(5), X, np.zeros((60, 2)), "umap")


# --- heatmap rows ------------------------------------------------------------------------------


def test_heatmap_rows_orders_a_subset_with_similar_rows_together():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(16), rng.standard_normal(16)
    # Rows alternate between two tight groups; clustering must put each group together.
    X = np.stack([(a if i % 2 == 0 else b) + 0.01 * rng.standard_normal(16) for i in range(10)])
    X = X.astype(np.float32)
    subset = [9, 0, 3, 4, 7, 8]
    order = heatmap_rows(X, subset)
    assert sorted(order.tolist()) == sorted(subset)
    parity = [r % 2 for r in order]
    assert parity == sorted(parity) or parity == sorted(parity, reverse=True)
    assert heatmap_rows(X, subset, clustered=False).tolist() == subset
    assert sorted(heatmap_rows(X).tolist()) == list(range(10))
    assert heatmap_rows(X, [4, 2]).tolist() == [4, 2]


# --- find ---------------------------------------------------------------------------------------

FIND_TEXTS = ["The Guitar solo", "a quiet piano", "guitars and drums", "Football final", "(a) bracket"]


def test_find_rows_matches_substrings_case_insensitively_in_texts_and_labels():
    labels = ["music", "music", "music", "sports", "other"]
    assert find_rows(FIND_TEXTS, "guitar").tolist() == [0, 2]
    assert find_rows(FIND_TEXTS, "GUITAR", case_sensitive=True).tolist() == []
    assert find_rows(FIND_TEXTS, "sports", labels=labels).tolist() == [3]
    assert find_rows(FIND_TEXTS, "(a)").tolist() == [4]  # plain text: brackets are literal
    assert find_rows(FIND_TEXTS, "  ").dtype == np.int64 and find_rows(FIND_TEXTS, "  ").size == 0


def test_find_rows_with_a_regular_expression_and_a_clear_error_for_a_bad_one():
    assert find_rows(FIND_TEXTS, r"^guitar|piano$", regex=True).tolist() == [1, 2]
    with pytest.raises(InputError, match="not a valid regular expression"):
        find_rows(FIND_TEXTS, "(guitar", regex=True)


# --- cluster names ------------------------------------------------------------------------------


def test_cluster_names_are_the_words_that_set_each_cluster_apart():
    texts = [
        "the guitar riff and the drums",
        "a guitar solo over loud drums",
        "drums and a bass guitar",
        "the striker scored a goal",
        "a late goal by the striker",
        "the goalkeeper saved, the striker scored",
    ]
    names = cluster_names(texts, [0, 0, 0, 1, 1, 1], words=2)
    # Ties (guitar and drums three times each; goal and scored twice) go alphabetically.
    assert names == ["drums, guitar", "striker, goal"]
    assert "the" not in " ".join(names)  # stop words never name a cluster


def test_a_word_in_every_cluster_names_none_of_them():
    texts = ["music theory lesson", "music guitar lesson", "music football match", "music football goal"]
    names = cluster_names(texts, [0, 0, 1, 1], words=1)
    assert "music" not in names and names == ["lesson", "football"]


def test_a_cluster_without_words_keeps_its_number():
    # Phrases name clusters too (issue 19): the one text's phrase is its one term.
    assert cluster_names(["123 456", "the and of", "jazz piano"], [0, 1, 2], words=1) == [
        "cluster 0",
        "cluster 1",
        "jazz piano",
    ]


# --- mean similarity between groups -----------------------------------------------------------


def test_block_means_equal_the_means_of_the_cosine_blocks_computed_by_hand(corpus):
    X, texts, labels = corpus
    X = X.copy()
    groups = [labels[i] if i % 7 else "rare" for i in range(len(texts))]  # four groups of unequal size
    X[5] = 0.0  # a zero vector: cosine 0 with everything, itself included
    blocks = block_means(X, groups, clustered=False)
    S = cosine_similarity(X)
    np.fill_diagonal(S[5:6, 5:6], 0.0)
    values = np.asarray(groups, dtype=object)
    assert blocks.names[0] != "rare" and sorted(blocks.names) == sorted(set(groups))
    for a, name_a in enumerate(blocks.names):
        rows_a = np.flatnonzero(values == name_a)
        assert blocks.sizes[a] == rows_a.size
        assert (blocks.codes[rows_a] == a).all()
        for b, name_b in enumerate(blocks.names):
            rows_b = np.flatnonzero(values == name_b)
            cell = S[np.ix_(rows_a, rows_b)]
            # Within a group: pairs of different texts only.
            expected = cell[~np.eye(rows_a.size, dtype=bool)].mean() if a == b else cell.mean()
            assert blocks.means[a, b] == pytest.approx(expected, abs=1e-5), (name_a, name_b)
    assert blocks.means.dtype == np.float32
    np.testing.assert_allclose(blocks.means, blocks.means.T, atol=1e-6)
    # Largest first when not clustered.
    assert list(blocks.sizes) == sorted(blocks.sizes, reverse=True)


def test_block_means_of_one_text_groups_leave_the_diagonal_empty_and_pool_small_groups():
    X = np.eye(6, dtype=np.float32)
    blocks = block_means(X, ["a", "a", "b", "c", "d", "e"], max_groups=3, clustered=False)
    assert blocks.names == ["a", "b", OTHER_GROUP]
    assert blocks.sizes.tolist() == [2, 1, 3]
    assert np.isnan(blocks.means[1, 1])  # "b" has one text: no pair within it
    assert blocks.means[0, 0] == pytest.approx(0.0)  # two orthogonal texts
    assert blocks.codes.tolist() == [0, 0, 1, 2, 2, 2]


def test_block_means_clustered_order_puts_similar_groups_together():
    # Groups 0 and 2 point one way, 1 and 3 the other: clustered order must pair them.
    base = np.array([[1, 0, 0.1], [0, 1, 0.1], [1, 0.05, 0], [0.05, 1, 0]], dtype=np.float32)
    X = np.repeat(base, 3, axis=0)
    groups = [f"g{i // 3}" for i in range(12)]
    names = block_means(X, groups).names
    together = {frozenset(names[:2]), frozenset(names[2:])}
    assert together == {frozenset({"g0", "g2"}), frozenset({"g1", "g3"})}


def test_block_means_bad_input():
    with pytest.raises(InputError, match="groups"):
        block_means(np.eye(3), ["a", "b"])
    with pytest.raises(InputError, match="max_groups"):
        block_means(np.eye(3), ["a", "b", "c"], max_groups=1)
    with pytest.raises(InputError):
        block_means(np.zeros((0, 3)), [])


# --- isolating part of a map --------------------------------------------------------------------


def test_isolating_a_selection_keeps_those_rows_of_the_full_set():
    step = isolate_selection(np.arange(10), [7, 2, 5])
    assert step.rows.tolist() == [2, 5, 7] and step.kind == "selection"
    assert step.description == "isolated selection"
    # Within an isolated map, positions are the map's: they go back to rows of the full set.
    inner = isolate_selection(np.array([10, 20, 30, 40, 50]), [0, 3, 4])
    assert inner.rows.tolist() == [10, 40, 50]


def test_isolating_a_label_keeps_its_rows_among_those_shown():
    labels = ["a", "b", "a", "a", "b", "a", "b"]
    step = isolate_label(np.arange(7), labels, "a")
    assert step.rows.tolist() == [0, 2, 3, 5]
    assert step.description == "only label “a”"
    inner = isolate_label(np.array([1, 2, 4, 5, 6]), labels, "b")
    assert inner.rows.tolist() == [1, 4, 6]


def test_isolating_refuses_too_few_all_or_unknown():
    with pytest.raises(InputError, match="at least 3"):
        isolate_selection(np.arange(10), [1, 2])
    with pytest.raises(InputError, match="already shows"):
        isolate_selection(np.arange(4), [0, 1, 2, 3])
    with pytest.raises(InputError, match="outside"):
        isolate_selection(np.arange(4), [1, 2, 9])
    with pytest.raises(InputError, match="No text"):
        isolate_label(np.arange(3), ["a", "a", "b"], "c")
    with pytest.raises(InputError, match="at least 3"):
        isolate_label(np.arange(5), ["a", "a", "b", "b", "b"], "a")


def test_take_rows_returns_the_vectors_texts_and_labels_of_the_part(corpus):
    X, texts, labels = corpus
    sub, sub_texts, sub_labels = take_rows([4, 1, 9], X, texts, labels)
    np.testing.assert_array_equal(sub, X[[4, 1, 9]])
    assert sub_texts == [texts[4], texts[1], texts[9]] and sub_labels == [labels[4], labels[1], labels[9]]
    assert take_rows([0], X, texts)[2] is None


@pytest.mark.parametrize(
    ("pattern", "case_sensitive"),
    [
        ("guitar", False),
        ("Guitar", True),
        ("GUITAR", False),
        ("straße", False),
        ("STRASSE", False),
        ("İ", False),
    ],
)
def test_find_rows_fast_path_finds_exactly_what_the_regular_expression_finds(pattern, case_sensitive):
    # Plain substrings skip the regex engine (speed at 100k texts); the rows must not change,
    # non-ASCII case folding included, and labels shared by many rows are tested once.
    import re

    texts = [*FIND_TEXTS, "Die Straße ist lang.", "STRASSE in capitals", "İstanbul and istanbul", "guitar"]
    labels = ["music", "music", "sports", "guitar club", "misc", "de", "de", "tr", "Guitar"]
    compiled = re.compile(re.escape(pattern), 0 if case_sensitive else re.IGNORECASE)
    expected = [
        i
        for i, (t, g) in enumerate(zip(texts, labels, strict=True))
        if compiled.search(t) or compiled.search(g)
    ]
    got = find_rows(texts, pattern, labels=labels, case_sensitive=case_sensitive)
    assert got.tolist() == expected
    assert got.dtype == np.int64


def test_neighbour_lists_from_kept_unit_rows_match_the_raw_vectors():
    from embedcore.analysis.explore import neighbours_frame
    from embedcore.analysis.similarity import normalize_rows

    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 6)).astype(np.float32) * 3
    texts = [f"text {i}" for i in range(30)]
    labels = [f"label {i % 3}" for i in range(30)]
    raw = neighbours_frame(X, [4, 0, 17], texts, labels, k=3)
    kept = neighbours_frame(normalize_rows(X), [4, 0, 17], texts, labels, k=3, normalized=True)
    assert raw.drop(columns="cosine").equals(kept.drop(columns="cosine"))
    np.testing.assert_allclose(kept["cosine"], raw["cosine"], atol=1e-6)
    assert kept["neighbour"].tolist()[:3] == [texts[j] for j in kept["neighbour_row"][:3]]
    with pytest.raises(InputError, match="2 texts for 30 vectors"):
        neighbours_frame(X, [1], texts[:2], k=3)
