"""Tests of embedcore.analysis.alignment on sets whose alignment is known."""

from __future__ import annotations

import numpy as np
import pytest

from embedcore.analysis import alignment
from embedcore.errors import InputError

LANGS = ["en", "de", "fr", "es"]


def _parallel(n_sent: int, langs=LANGS, d: int = 16, noise: float = 0.0, seed: int = 0):
    """Every sentence in every language; translations share a random base vector (fixture only)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n_sent, d))
    sids = [s for s in range(n_sent) for _ in langs]
    languages = [lang for _ in range(n_sent) for lang in langs]
    X = base[sids] + noise * rng.normal(size=(len(sids), d))
    return X.astype(np.float32), sids, languages


def test_identical_translations_score_one():
    X, sids, languages = _parallel(30)
    report = alignment.alignment_report(X, sids, languages)
    assert report.score == 1.0
    assert report.n_trials == 30 * 4 * 3  # every text, every other language
    assert report.languages == sorted(LANGS)
    off = ~np.eye(4, dtype=bool)
    assert (report.accuracy[off] == 1.0).all() and np.isnan(np.diag(report.accuracy)).all()
    assert (report.trials[off] == 30).all()
    assert report.mean_translation_similarity == pytest.approx(1.0, abs=1e-5)
    assert abs(report.mean_other_similarity) < 0.2
    assert report.chance == pytest.approx(1 / 30)
    assert all(v == pytest.approx(1.0, abs=1e-5) for v in report.sentence_similarity.values())
    assert report.untranslated == []
    assert all(w.failures == [] for w in report.worst)


def test_shuffled_rows_score_about_chance():
    X, sids, languages = _parallel(50, noise=0.1)
    perm = np.random.default_rng(3).permutation(len(sids))
    report = alignment.alignment_report(X[perm], sids, languages)
    assert report.chance == pytest.approx(1 / 50)
    assert report.score < 0.08  # chance is 0.02; 600 trials
    assert report.mean_translation_similarity < 0.2


def test_noisy_translations_score_between():
    X, sids, languages = _parallel(40, noise=1.2, seed=1)
    report = alignment.alignment_report(X, sids, languages)
    assert report.chance < report.score < 1.0


def test_accuracy_matrix_isolates_a_misaligned_language():
    X, sids, languages = _parallel(40, langs=["en", "de", "fr"])
    fr = np.array([lang == "fr" for lang in languages])
    X[fr] = np.random.default_rng(7).normal(size=(fr.sum(), X.shape[1]))  # French unrelated
    report = alignment.alignment_report(X, sids, languages)
    i = {lang: k for k, lang in enumerate(report.languages)}
    assert report.accuracy[i["en"], i["de"]] == 1.0 and report.accuracy[i["de"], i["en"]] == 1.0
    assert report.accuracy[i["en"], i["fr"]] < 0.2 and report.accuracy[i["fr"], i["de"]] < 0.2
    assert report.score == pytest.approx(
        (2 * 40 + 4 * report.accuracy[i["en"], i["fr"]] * 40) / (6 * 40), abs=0.05
    )


def test_missing_translations_are_skipped_not_failed():
    X, sids, languages = _parallel(10, langs=["en", "de", "fr"])
    # Sentence 0: no French. Sentence 1: English only (untranslated).
    drop = {k for k, (s, lang) in enumerate(zip(sids, languages, strict=True)) if (s == 0 and lang == "fr")}
    drop |= {k for k, (s, lang) in enumerate(zip(sids, languages, strict=True)) if s == 1 and lang != "en"}
    keep = [k for k in range(len(sids)) if k not in drop]
    report = alignment.alignment_report(X[keep], [sids[k] for k in keep], [languages[k] for k in keep])
    assert report.score == 1.0
    # 8 complete sentences × 6 directed pairs + sentence 0 (en↔de) × 2
    assert report.n_trials == 8 * 6 + 2
    assert report.untranslated == [[sids[k] for k in keep].index(1)]
    assert 1 not in report.sentence_accuracy and report.sentence_accuracy[0] == 1.0


def test_worst_sentences_name_what_was_retrieved_instead():
    X, sids, languages = _parallel(10, langs=["en", "de"])
    texts = [f"{lang}:{s}" for s, lang in zip(sids, languages, strict=True)]
    # German sentence 3 gets the vector of sentence 5: en:3 finds de:5 instead of de:3.
    de3, de5 = texts.index("de:3"), texts.index("de:5")
    X[de3] = X[de5]
    report = alignment.alignment_report(X, sids, languages, texts=texts, worst=3)
    first = report.worst[0]
    assert first.sentence_id == 3 and first.texts == ["en:3", "de:3"]
    assert first.accuracy < 1.0
    assert (texts.index("en:3"), "de", de5) in first.failures
    # de:3 and de:5 tie for en:5: ties count as failures, so sentence 5 is hurt too.
    assert report.sentence_accuracy[5] < 1.0
    assert report.sentence_accuracy[0] == 1.0
    accs = [w.accuracy for w in report.worst]
    assert accs == sorted(accs)


def test_identical_vectors_everywhere_score_zero():
    X = np.ones((6, 4), np.float32)
    report = alignment.alignment_report(X, [0, 0, 1, 1, 2, 2], ["en", "de"] * 3)
    assert report.score == 0.0


def test_bad_input_raises():
    X, sids, languages = _parallel(3)
    with pytest.raises(InputError):
        alignment.alignment_report(X, sids[:-1], languages)
    with pytest.raises(InputError):
        alignment.alignment_report(X, sids, ["en"] * len(sids))
    with pytest.raises(InputError, match="two languages"):
        alignment.alignment_report(X[:3], [0, 1, 2], ["en", "de", "fr"])
    with pytest.raises(InputError):
        alignment.alignment_report(X, sids, languages, texts=["x"])


def test_mixed_id_types_and_blocks(monkeypatch):
    # Sentence ids as strings, more rows than one block holds: same answer.
    X, sids, languages = _parallel(25)
    report = alignment.alignment_report(X, [f"s{s}" for s in sids], languages)
    monkeypatch.setattr(alignment, "_BLOCK_BYTES", 1)  # one source row per block
    small = alignment.alignment_report(X, [f"s{s}" for s in sids], languages)
    assert small.score == report.score == 1.0
    assert small.mean_other_similarity == pytest.approx(report.mean_other_similarity, abs=1e-6)
