"""The dashboard's caches answer with what their inputs ask for: every input that changes a
result is part of its key (a key that leaves one out returns a stale answer no page notices)."""

from __future__ import annotations

import numpy as np

from ui.explorer import widgets as xw


def test_pairs_of_the_same_texts_with_labels_are_not_the_label_less_pairs():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 8)).astype(np.float32)
    texts = [f"text {i}" for i in range(6)]
    labels = ["a", "b", "a", "b", "a", "b"]
    dataset, digest = "upload:pairs-key-test", "pairs-key-test-digest"

    without = xw.pairs(vectors, digest, dataset, texts, None, n=3, largest=True)
    with_labels = xw.pairs(vectors, digest, dataset, texts, labels, n=3, largest=True)
    other_labels = xw.pairs(vectors, digest, dataset, texts, ["x"] * 6, n=3, largest=True)

    assert "label_a" not in without.columns
    assert {"label_a", "label_b"} <= set(with_labels.columns)
    assert set(with_labels["label_a"]) <= {"a", "b"}
    assert set(other_labels["label_a"]) == {"x"}
