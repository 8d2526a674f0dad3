"""The wordings and table helpers the pages share (plain functions, no Streamlit run needed)."""

from __future__ import annotations

import pytest

from embedcore.figures.tables import pair_difference, word_changes
from ui.common.format import cache_share, duration, plural


@pytest.mark.parametrize(
    ("n", "noun", "expected"),
    [
        (0, "text", "0 texts"),
        (1, "text", "1 text"),
        (2, "text", "2 texts"),
        (1500, "text", "1,500 texts"),
        (1, "batch", "1 batch"),
        (3, "batch", "3 batches"),
        (2, "query", "2 queries"),
        (1, "document", "1 document"),
    ],
)
def test_plural(n, noun, expected):
    assert plural(n, noun) == expected


def test_plural_with_an_explicit_form():
    assert plural(2, "person", "people") == "2 people"
    assert plural(1, "person", "people") == "1 person"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.0, "0 ms"),
        (0.0034, "3 ms"),
        (0.9994, "999 ms"),
        (1.0, "1.00 s"),
        (12.345, "12.35 s"),
        (154.2, "154 s"),
    ],
)
def test_duration(seconds, expected):
    assert duration(seconds) == expected


def test_cache_share_is_short_and_exact_at_the_ends():
    assert cache_share(100, 0)[0] == "100 %"
    assert cache_share(0, 100)[0] == "0 %"
    # Never "100 %" while one text was fetched, never "0 %" while one came from the cache.
    assert cache_share(1499, 1)[0] == "99 %"
    assert cache_share(1, 1499)[0] == "1 %"
    assert cache_share(37, 63)[0] == "37 %"
    value, help_text = cache_share(1, 1)
    assert value == "50 %" and "1 of 2 distinct texts" in help_text and "1 was sent" in help_text
    assert cache_share(0, 0)[0] == "—"
    # Short enough for a metric a third of a narrow column wide.
    assert all(len(cache_share(c, f)[0]) <= 5 for c, f in [(100, 0), (1, 20000), (12345, 54321)])


def test_word_changes_mark_what_differs_and_give_the_texts_back():
    a, b = "The launch was delayed by rain again.", "The launch was delayed by wind again."
    a_runs, b_runs = word_changes(a, b)
    assert "".join(t for t, _ in a_runs) == a and "".join(t for t, _ in b_runs) == b
    assert [t.strip() for t, changed in a_runs if changed] == ["rain"]
    assert [t.strip() for t, changed in b_runs if changed] == ["wind"]
    assert word_changes("same words", "same words") == ([("same words", False)], [("same words", False)])


def test_pair_difference_tells_near_duplicates_apart():
    long_start = "Customers can return any item within thirty days of delivery for a full refund"
    assert pair_difference(long_start + " in store.", long_start + " online.") == "“in store.” → “online.”"
    assert pair_difference("a b c d", "a b c d e") == "+ “e”"
    assert pair_difference("a very b c d", "a b c d") == "− “very”"
    assert pair_difference("same", "same") == "identical"
    assert pair_difference("two  spaces", "two spaces") == "differ only in spacing"
    # Unrelated wording: nothing to list.
    assert pair_difference("The striker scored a goal", "Bake the bread for an hour") == ""
    # Long changes are cut, never longer than asked.
    many = pair_difference("w " * 40 + "x", "w " * 40 + "y " * 40, max_chars=50)
    assert len(many) <= 50 and "…" in many
