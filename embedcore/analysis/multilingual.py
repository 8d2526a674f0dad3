"""Tables for the "Across languages" page: a translation set in, readable frames out.

:func:`embedcore.analysis.alignment.alignment_report` does the measuring; this module prepares its
input from an uploaded table (text, sentence id and language columns) and arranges its
output, with the vectors, into one row per sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from embedcore.analysis.alignment import AlignmentReport, SentenceAlignment
from embedcore.analysis.similarity import normalize_rows
from embedcore.errors import InputError, ParseError
from embedcore.io import TextTable, _is_missing, table_from_frame, text_columns

__all__ = ["aligned_table", "guess_columns", "sentence_detail", "sentence_table", "worst_table"]

_ID_NAMES = ("sentence_id", "sentence", "id", "pair_id", "pair", "group", "group_id", "item", "key")
_LANG_NAMES = ("language", "lang", "locale", "language_code", "lang_code", "iso")


def _pick(columns: Sequence[str], names: Sequence[str], exclude: Sequence[str]) -> str | None:
    lowered = {c.lower().strip(): c for c in columns if c not in exclude}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def guess_columns(df: pd.DataFrame) -> dict[str, str | None]:
    """Best guesses for the ``text``, ``sentence_id`` and ``language`` columns of an upload.

    Returns
    -------
    dict with keys "text", "sentence_id", "language"
        Column names, or None where nothing fits.
    """
    columns = [str(c) for c in df.columns]
    texts = text_columns(df)
    lang = _pick(columns, _LANG_NAMES, [])
    text = next((c for c in texts if c != lang), None)
    sid = _pick(columns, _ID_NAMES, [c for c in (text, lang) if c])
    return {"text": text, "sentence_id": sid, "language": lang}


def _clean(value) -> object:
    """Ids as given, but ``3``, ``3.0`` and ``"3"`` are the same sentence (CSV cells are strings)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        stripped = value.strip()
        if not stripped:
            return None
        return int(stripped) if stripped.lstrip("-").isdigit() else stripped
    return value


def aligned_table(df: pd.DataFrame, text: str, sentence_id: str, language: str) -> TextTable:
    """The rows of ``df`` as a :class:`TextTable` ready for alignment.

    ``extra["sentence_id"]`` and ``extra["language"]`` hold each text's ids and languages;
    ``labels`` are the languages (for colouring). Rows missing an id or a language are
    dropped and counted in ``warnings``.

    Raises
    ------
    ParseError
        A column does not exist, or two of the roles name the same column.
    InputError
        Fewer than two languages, or no sentence in two languages.
    """
    roles = {"text": text, "sentence id": sentence_id, "language": language}
    if len(set(roles.values())) < 3:
        raise ParseError("Choose three different columns for the text, the sentence id and the language.")
    table = table_from_frame(df, text)  # checks the text column, drops blank texts
    for role, column in roles.items():
        if column not in table.extra and role != "text":
            listed = ", ".join(repr(str(c)) for c in df.columns)
            raise ParseError(f"There is no {role} column {column!r}; the columns are: {listed}.")
    ids = [_clean(v) for v in table.extra[sentence_id]]
    langs = [None if _is_missing(v) else str(v).strip() for v in table.extra[language]]
    keep = [i for i, (s, lang) in enumerate(zip(ids, langs, strict=True)) if not _is_missing(s) and lang]
    warnings = list(table.warnings)
    if len(keep) < len(ids):
        warnings.append(f"{len(ids) - len(keep)} row(s) without a sentence id or language were left out.")
    texts = [table.texts[i] for i in keep]
    out = TextTable(
        texts=texts,
        labels=[langs[i] for i in keep],
        extra={"sentence_id": [ids[i] for i in keep], "language": [langs[i] for i in keep]},
        source=table.source,
        dropped_blank=table.dropped_blank,
        duplicates=len(texts) - len(set(texts)),
        warnings=warnings,
    )
    languages = set(out.extra["language"])
    if len(languages) < 2:
        raise InputError(
            f"The language column {language!r} has {len(languages)} language(s); alignment needs at least two."
        )
    languages_of: dict = {}
    for sid, lang in zip(out.extra["sentence_id"], out.extra["language"], strict=True):
        languages_of.setdefault(sid, set()).add(lang)
    if not any(len(found) >= 2 for found in languages_of.values()):
        raise InputError(
            f"No sentence id in {sentence_id!r} appears in two languages: there are no translations to align."
        )
    return out


def _display_text(rows: Sequence[int], languages: Sequence[str], texts: Sequence[str]) -> str:
    # The English version when there is one (the page is read in English), else the first.
    for r in rows:
        if str(languages[r]).lower() in ("en", "eng", "english"):
            return texts[r]
    return texts[rows[0]]


def sentence_table(
    X, sentence_ids: Sequence, languages: Sequence, texts: Sequence[str], report: AlignmentReport
) -> pd.DataFrame:
    """One row per translated sentence: how close its translations are, per language.

    Parameters
    ----------
    X : array-like of shape (n_texts, d)
    sentence_ids, languages, texts : sequences of length n_texts
    report : AlignmentReport
        From :func:`embedcore.analysis.alignment.alignment_report` on the same inputs.

    Returns
    -------
    DataFrame
        Columns ``sentence_id``, ``text`` (the English version when present), ``accuracy``
        (share of its retrieval trials that found the translation), ``similarity`` (mean
        cosine between its translations), then one column per language: the mean cosine of
        that language's version to the sentence's other versions (NaN when missing). Sorted
        worst first (accuracy, then similarity).
    """
    Xn = normalize_rows(X)
    n = Xn.shape[0]
    if not (len(sentence_ids) == len(languages) == len(texts) == n):
        raise InputError(f"{n} vectors for {len(texts)} texts: one of each per row is needed.")
    groups: dict = {}
    for row, sid in enumerate(sentence_ids):
        groups.setdefault(sid, []).append(row)
    lang_names = [str(lang) for lang in report.languages]
    records = []
    for sid, rows in groups.items():
        if sid not in report.sentence_accuracy:
            continue  # a sentence in one language only: nothing to compare
        S = Xn[rows] @ Xn[rows].T
        langs = [str(languages[r]) for r in rows]
        per_lang: dict[str, list[float]] = {}
        for a, la in enumerate(langs):
            others = [S[a, b] for b, lb in enumerate(langs) if lb != la]
            if others:
                per_lang.setdefault(la, []).append(float(np.mean(others)))
        record = {
            "sentence_id": sid,
            "text": _display_text(rows, languages, texts),
            "accuracy": report.sentence_accuracy[sid],
            "similarity": report.sentence_similarity[sid],
        }
        for lang in lang_names:
            values = per_lang.get(lang)
            record[lang] = float(np.mean(values)) if values else np.nan
        records.append(record)
    frame = pd.DataFrame.from_records(
        records, columns=["sentence_id", "text", "accuracy", "similarity", *lang_names]
    )
    return frame.sort_values(["accuracy", "similarity"], kind="stable").reset_index(drop=True)


def worst_table(report: AlignmentReport, texts: Sequence[str], languages: Sequence) -> pd.DataFrame:
    """The worst-aligned sentences, worst first (see ``report.worst``).

    Returns
    -------
    DataFrame
        Columns ``sentence_id``, ``text`` (the English version when present), ``accuracy``,
        ``similarity`` and ``mistakes`` (failed retrieval trials).
    """
    return pd.DataFrame(
        {
            "sentence_id": [s.sentence_id for s in report.worst],
            "text": [_display_text(s.rows, languages, texts) for s in report.worst],
            "accuracy": [s.accuracy for s in report.worst],
            "similarity": [s.mean_similarity for s in report.worst],
            "mistakes": [len(s.failures) for s in report.worst],
        },
        columns=["sentence_id", "text", "accuracy", "similarity", "mistakes"],
    )


def sentence_detail(sentence: SentenceAlignment, texts: Sequence[str], languages: Sequence) -> pd.DataFrame:
    """One sentence's failed trials: which version looked in which language, and what it found.

    Returns
    -------
    DataFrame
        Columns ``from`` (language of the version), ``text`` (that version), ``looked in``
        (the target language) and ``found instead`` (the text retrieved in place of the
        translation). Empty when every trial succeeded.
    """
    return pd.DataFrame(
        {
            "from": [str(languages[src]) for src, _, _ in sentence.failures],
            "text": [texts[src] for src, _, _ in sentence.failures],
            "looked in": [str(target) for _, target, _ in sentence.failures],
            "found instead": [texts[found] for _, _, found in sentence.failures],
        },
        columns=["from", "text", "looked in", "found instead"],
    )
