"""Cross-lingual alignment: does a model put translations of a sentence together?

The measure is translation retrieval, the standard bitext-mining test
(Tatoeba / BUCC style), done in every direction the data allows:

    For every text ``t`` (sentence ``s``, language ``L``) and every other
    language ``L'`` in which ``s`` has a translation: look at all texts in
    ``L'``; the *trial* succeeds when the most cosine-similar of them is a
    translation of ``s``.

``score`` is the fraction of successful trials, over all (text, other
language) trials. Counting per target language (rather than taking the
nearest text across all other languages at once) means every language pair
is tested on its own and a model cannot pass by matching only its best
language; it also gives the per-language-pair accuracy matrix.

Ties count as failures: the translation must be strictly more similar than
every non-translation (an all-identical model scores 0, not 1).

Missing translations are fine: a trial exists only where the translation
exists; the untranslated text still competes as a distractor; sentences with
a single language are listed in ``untranslated`` and have no trials.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from embedcore.analysis.similarity import normalize_rows
from embedcore.errors import InputError

__all__ = ["AlignmentReport", "SentenceAlignment", "alignment_report"]

# Bytes of temporaries per block of source rows (similarities + masks).
_BLOCK_BYTES = 64 * 1024 * 1024


@dataclass
class SentenceAlignment:
    """How well one sentence's translations find each other.

    Attributes
    ----------
    sentence_id : hashable
    rows : list of int
        Rows holding this sentence (one per language, or more).
    languages : list
        Language of each of ``rows``.
    accuracy : float
        Fraction of this sentence's trials that succeeded.
    mean_similarity : float
        Mean cosine similarity between its texts in different languages.
    trials : int
    failures : list of tuple (int, object, int)
        ``(source_row, target_language, retrieved_row)`` for each failed trial:
        the text that was found instead of the translation.
    texts : list of str or None
        The texts of ``rows`` when texts were given.
    """

    sentence_id: Hashable
    rows: list[int]
    languages: list
    accuracy: float
    mean_similarity: float
    trials: int
    failures: list[tuple[int, object, int]] = field(default_factory=list)
    texts: list[str] | None = None


@dataclass
class AlignmentReport:
    """Result of :func:`alignment_report`.

    Attributes
    ----------
    score : float
        Fraction of (text, other language) retrieval trials whose nearest text
        in the other language is the translation. 1.0 = perfect alignment.
    chance : float
        Expected ``score`` of a model that ranks at random (mean over trials
        of translations / candidates in the target language).
    n_trials : int
    languages : list
        Sorted languages; the order of the matrices.
    accuracy : ndarray of shape (n_languages, n_languages), float64
        ``accuracy[i, j]``: success rate of texts in ``languages[i]`` retrieving
        their translation among texts in ``languages[j]``. NaN on the diagonal
        and where no trial exists.
    trials : ndarray of shape (n_languages, n_languages), int64
        Trials behind each cell of ``accuracy``.
    sentence_accuracy : dict
        ``sentence_id -> accuracy`` for every translated sentence.
    sentence_similarity : dict
        ``sentence_id -> mean cross-language cosine of its translations``.
    mean_translation_similarity : float
        Mean cosine over all translation pairs (different languages, same sentence).
    mean_other_similarity : float
        Mean cosine over cross-language pairs of *different* sentences: the
        baseline the previous number should clearly exceed.
    worst : list of SentenceAlignment
        Worst-aligned sentences first (lowest accuracy, then lowest similarity).
    untranslated : list of int
        Rows whose sentence exists in only one language (no trial possible).
    """

    score: float
    chance: float
    n_trials: int
    languages: list
    accuracy: np.ndarray
    trials: np.ndarray
    sentence_accuracy: dict
    sentence_similarity: dict
    mean_translation_similarity: float
    mean_other_similarity: float
    worst: list[SentenceAlignment]
    untranslated: list[int]


def _codes(values: Sequence[Hashable]) -> tuple[list, np.ndarray]:
    """Distinct values in sorted order (by str when not mutually comparable) and each row's code."""
    distinct = list(dict.fromkeys(values))
    try:
        distinct.sort()
    except TypeError:
        distinct.sort(key=str)
    index = {v: i for i, v in enumerate(distinct)}
    return distinct, np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def alignment_report(
    X,
    sentence_ids: Sequence[Hashable],
    languages: Sequence[Hashable],
    *,
    texts: Sequence[str] | None = None,
    worst: int = 20,
) -> AlignmentReport:
    """Measure how well a model aligns translations across languages.

    Parameters
    ----------
    X : array-like of shape (n_texts, n_features)
        Embeddings (any scale: rows are normalised for cosine).
    sentence_ids : sequence of hashable, length n_texts
        Texts with the same id are translations of each other.
    languages : sequence of hashable, length n_texts
        Language of each text.
    texts : sequence of str, optional
        Copied into the ``worst`` entries for display.
    worst : int
        How many worst-aligned sentences to list.

    Returns
    -------
    AlignmentReport
        See the module docstring for the exact definition of ``score``.

    Raises
    ------
    InputError
        Length mismatches, NaN / inf vectors, fewer than two languages, or no
        sentence present in two languages.
    """
    Xn = normalize_rows(X)
    n = Xn.shape[0]
    sentence_ids, languages = list(sentence_ids), list(languages)
    if len(sentence_ids) != n or len(languages) != n:
        raise InputError(
            f"{n} vectors, {len(sentence_ids)} sentence ids and {len(languages)} languages: "
            "one of each per text is needed."
        )
    if texts is not None:
        texts = [str(t) for t in texts]
        if len(texts) != n:
            raise InputError(f"{len(texts)} texts for {n} vectors.")
    langs, lang = _codes(languages)
    sids, sid = _codes(sentence_ids)
    if len(langs) < 2:
        raise InputError("Alignment needs texts in at least two languages.")
    n_lang, n_sid = len(langs), len(sids)

    # present[s, l]: sentence s has a text in language l.
    present = np.zeros((n_sid, n_lang), dtype=bool)
    present[sid, lang] = True
    translated = present.sum(axis=1) >= 2
    if not translated.any():
        raise InputError("No sentence appears in two languages: there is nothing to align.")

    correct = np.zeros((n_lang, n_lang), dtype=np.int64)
    trials = np.zeros((n_lang, n_lang), dtype=np.int64)
    chance_sum = 0.0
    sent_trials = np.zeros(n_sid, dtype=np.int64)
    sent_correct = np.zeros(n_sid, dtype=np.int64)
    sent_sim_sum = np.zeros(n_sid)
    sent_sim_cnt = np.zeros(n_sid, dtype=np.int64)
    other_sum, other_cnt = 0.0, 0
    failures: dict[int, list[tuple[int, object, int]]] = {}

    for target in range(n_lang):
        cand = np.flatnonzero(lang == target)
        cand_sid = sid[cand]
        cand_T = np.ascontiguousarray(Xn[cand].T)
        # Every text in another language is scored against the candidates: all of
        # them feed the "different sentence" baseline, and those whose sentence
        # exists in the target language are the trials' sources.
        others = np.flatnonzero(lang != target)
        block = max(1, _BLOCK_BYTES // (max(cand.size, 1) * 10))
        for start in range(0, others.size, block):
            rows = others[start : start + block]
            S = Xn[rows] @ cand_T  # (b, |cand|), float32
            np.clip(S, -1.0, 1.0, out=S)
            own = sid[rows][:, None] == cand_sid[None, :]
            other_sum += float(S[~own].sum(dtype=np.float64))
            other_cnt += int((~own).sum())
            # Translation pairs seen from this side; each unordered pair is seen
            # from both sides with the same value, so the mean is unaffected.
            np.add.at(sent_sim_sum, sid[rows], np.where(own, S, 0).sum(axis=1, dtype=np.float64))
            np.add.at(sent_sim_cnt, sid[rows], own.sum(axis=1))

            is_src = present[sid[rows], target]
            if not is_src.any():
                continue
            S, own, rows = S[is_src], own[is_src], rows[is_src]
            best_own = np.where(own, S, -np.inf).max(axis=1)
            best_other = np.where(own, -np.inf, S).max(axis=1)
            ok = best_own > best_other  # ties fail: see module docstring
            src_lang = lang[rows]
            np.add.at(trials, (src_lang, target), 1)
            np.add.at(correct, (src_lang, target), ok)
            np.add.at(sent_trials, sid[rows], 1)
            np.add.at(sent_correct, sid[rows], ok)
            chance_sum += float((own.sum(axis=1) / cand.size).sum())
            for r in np.flatnonzero(~ok):
                wrong = np.where(own[r], -np.inf, S[r])
                failures.setdefault(int(sid[rows[r]]), []).append(
                    (int(rows[r]), langs[target], int(cand[int(np.argmax(wrong))]))
                )

    n_trials = int(trials.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(trials > 0, correct / np.maximum(trials, 1), np.nan)
        sent_acc = sent_correct / np.maximum(sent_trials, 1)
        sent_sim = sent_sim_sum / np.maximum(sent_sim_cnt, 1)

    has_trials = np.flatnonzero(sent_trials > 0)
    order = has_trials[np.lexsort((has_trials, sent_sim[has_trials], sent_acc[has_trials]))]
    rows_of: dict[int, list[int]] = {}
    for row, s in enumerate(sid.tolist()):
        rows_of.setdefault(s, []).append(row)
    worst_list = []
    for s in order[: max(int(worst), 0)].tolist():
        rws = rows_of[s]
        worst_list.append(
            SentenceAlignment(
                sentence_id=sids[s],
                rows=rws,
                languages=[languages[r] for r in rws],
                accuracy=float(sent_acc[s]),
                mean_similarity=float(sent_sim[s]),
                trials=int(sent_trials[s]),
                failures=failures.get(s, []),
                texts=[texts[r] for r in rws] if texts is not None else None,
            )
        )

    return AlignmentReport(
        score=float(correct.sum() / n_trials),
        chance=chance_sum / n_trials,
        n_trials=n_trials,
        languages=langs,
        accuracy=accuracy,
        trials=trials,
        sentence_accuracy={sids[s]: float(sent_acc[s]) for s in has_trials.tolist()},
        sentence_similarity={sids[s]: float(sent_sim[s]) for s in has_trials.tolist()},
        mean_translation_similarity=float(sent_sim_sum.sum() / max(sent_sim_cnt.sum(), 1)),
        mean_other_similarity=other_sum / max(other_cnt, 1),
        worst=worst_list,
        untranslated=[r for r in range(n) if not translated[sid[r]]],
    )
