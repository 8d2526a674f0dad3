"""embedcore.analysis.multilingual (inputs and tables of the Across-languages page) and embedcore.figures.charts.matrix_figure."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from embedcore.analysis.alignment import alignment_report
from embedcore.analysis.multilingual import (
    aligned_table,
    guess_columns,
    sentence_detail,
    sentence_table,
    worst_table,
)
from embedcore.errors import InputError, ParseError
from embedcore.figures.charts import matrix_figure
from embedcore.io import load_sample


def test_guess_columns_by_name_and_content():
    df = pd.DataFrame(
        {"pair": [1, 1], "Lang": ["en", "de"], "sentence": ["Good morning everyone", "Guten Morgen zusammen"]}
    )
    assert guess_columns(df) == {"text": "sentence", "sentence_id": "pair", "language": "Lang"}
    assert guess_columns(pd.DataFrame({"words": ["a b c", "d e f"]})) == {
        "text": "words",
        "sentence_id": None,
        "language": None,
    }


def test_aligned_table_cleans_ids_and_drops_incomplete_rows():
    df = pd.DataFrame(
        {
            "id": ["3", 3.0, 3, "7", None, "8"],
            "language": ["en", "de", "fr", "en", "de", ""],
            "text": ["Hello", "Hallo", "Bonjour", "Alone", "Ohne Id", "Sans langue"],
        }
    )
    table = aligned_table(df, "text", "id", "language")
    assert table.texts == ["Hello", "Hallo", "Bonjour", "Alone"]
    assert table.extra["sentence_id"] == [3, 3, 3, 7]
    assert table.extra["language"] == table.labels == ["en", "de", "fr", "en"]
    assert any("2 row(s) without a sentence id or language" in w for w in table.warnings)


def test_aligned_table_refuses_what_cannot_be_aligned():
    df = pd.DataFrame({"id": [1, 2], "language": ["en", "en"], "text": ["One", "Two"]})
    with pytest.raises(ParseError, match="three different columns"):
        aligned_table(df, "text", "language", "language")
    with pytest.raises(ParseError, match="no sentence id column 'nope'"):
        aligned_table(df, "text", "nope", "language")
    with pytest.raises(InputError, match="at least two"):
        aligned_table(df, "text", "id", "language")
    other = pd.DataFrame({"id": [1, 2], "language": ["en", "de"], "text": ["One", "Zwei"]})
    with pytest.raises(InputError, match="no translations"):
        aligned_table(other, "text", "id", "language")


def _toy():
    """Two sentences in en/de/fr. Fixture vectors: sentence 1 aligned, sentence 2's German is off."""
    texts = ["cat", "Katze", "chat", "dog", "Hund", "chien"]
    ids = [1, 1, 1, 2, 2, 2]
    langs = ["en", "de", "fr", "en", "de", "fr"]
    X = np.array(
        [
            [1.0, 0.0, 0.0],
            [1.0, 0.1, 0.0],
            [1.0, 0.0, 0.1],
            [0.0, 1.0, 0.0],
            [0.9, 0.3, 0.0],  # "Hund" sits next to the cats
            [0.0, 1.0, 0.1],
        ],
        dtype=np.float32,
    )
    return X, ids, langs, texts


def test_sentence_table_per_language_similarity():
    X, ids, langs, texts = _toy()
    report = alignment_report(X, ids, langs, texts=texts)
    frame = sentence_table(X, ids, langs, texts, report)
    assert list(frame.columns) == ["sentence_id", "text", "accuracy", "similarity", "de", "en", "fr"]
    assert list(frame["sentence_id"]) == [2, 1]  # worst first
    assert frame.loc[0, "text"] == "dog" and frame.loc[1, "text"] == "cat"  # the English version
    assert frame.loc[1, "accuracy"] == 1.0 and frame.loc[0, "accuracy"] < 1.0

    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    cos = Xn @ Xn.T
    # The German "Hund" against the other versions of sentence 2.
    assert frame.loc[0, "de"] == pytest.approx((cos[4, 3] + cos[4, 5]) / 2, abs=1e-6)
    assert frame.loc[0, "similarity"] == pytest.approx(report.sentence_similarity[2], abs=1e-9)
    assert frame.loc[0, "de"] < frame.loc[0, "fr"]


def test_sentence_table_skips_untranslated_sentences_and_checks_lengths():
    X, ids, langs, texts = _toy()
    X = np.vstack([X, [[0.0, 0.0, 1.0]]]).astype(np.float32)
    ids, langs, texts = [*ids, 9], [*langs, "en"], [*texts, "lonely"]
    report = alignment_report(X, ids, langs, texts=texts)
    frame = sentence_table(X, ids, langs, texts, report)
    assert 9 not in set(frame["sentence_id"])
    with pytest.raises(InputError):
        sentence_table(X, ids[:-1], langs, texts, report)


def test_worst_table_and_what_was_found_instead():
    X, ids, langs, texts = _toy()
    report = alignment_report(X, ids, langs, texts=texts)
    worst = worst_table(report, texts, langs)
    assert list(worst.columns) == ["sentence_id", "text", "accuracy", "similarity", "mistakes"]
    assert list(worst["sentence_id"]) == [2, 1] and list(worst["text"]) == ["dog", "cat"]
    assert worst.loc[0, "mistakes"] == len(report.worst[0].failures) > 0 and worst.loc[1, "mistakes"] == 0

    detail = sentence_detail(report.worst[0], texts, langs)
    assert list(detail.columns) == ["from", "text", "looked in", "found instead"]
    row = detail[(detail["from"] == "de") & (detail["looked in"] == "en")].iloc[0]
    assert row["text"] == "Hund" and row["found instead"] == "cat"
    assert sentence_detail(report.worst[1], texts, langs).empty


def test_sample_sentence_table_has_every_language():
    table = load_sample("multilingual")
    rng = np.random.default_rng(0)  # fixture vectors: the table's shape is what is tested
    X = rng.standard_normal((len(table), 16)).astype(np.float32)
    ids, langs = table.extra["sentence_id"], table.extra["language"]
    report = alignment_report(X, ids, langs, texts=table.texts)
    frame = sentence_table(X, ids, langs, table.texts, report)
    assert len(frame) == 20 and set(frame.columns) >= {"en", "de", "fr", "es", "it", "pt", "nl"}
    assert frame[["en", "de"]].notna().all().all()


def test_matrix_figure_leaves_missing_cells_blank_and_escapes_labels():
    values = np.array([[np.nan, 0.5], [0.25, np.nan]])
    fig = matrix_figure(values, ["en", "<b>de</b>"], counts=np.array([[0, 4], [4, 0]]))
    spec = json.loads(fig.to_json())
    trace = spec["data"][0]
    assert trace["z"] == [[None, 0.5], [0.25, None]]
    assert trace["x"] == ["en", "&lt;b&gt;de&lt;/b&gt;"]
    assert "trials" in trace["hovertemplate"]
    assert trace["zmin"] == 0 and trace["zmax"] == 1
    with pytest.raises(InputError):
        matrix_figure(values, ["en"])
    with pytest.raises(InputError):
        matrix_figure(values, ["en", "de"], counts=np.zeros((3, 3)))
