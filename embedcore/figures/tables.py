"""Display tables: what embedcore computed, arranged into DataFrames with readable columns.

The dashboard draws these (``ui.common.tables`` decides widths and wrapping); a notebook can show them
as they are. No Streamlit here. Tables that belong to one computation sit beside it
(:func:`embedcore.analysis.explore.pairs_frame`, :func:`embedcore.analysis.multilingual.sentence_table`,
:meth:`embedcore.analysis.search.SearchResult.to_frame`); the ones here serve several pages.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from embedcore.providers import catalog

if TYPE_CHECKING:
    from embedcore.analysis.compare import ComparisonReport, Disagreement
    from embedcore.stores.collections import CollectionInfo
    from embedcore.types import EmbeddingResult, ModelInfo

__all__ = [
    "collections_frame",
    "disagreements_frame",
    "documents_frame",
    "first_values",
    "model_pairs_frame",
    "model_runs_frame",
    "models_frame",
    "neighbour_lists",
    "pair_difference",
    "result_frame",
    "vector_norms",
    "vector_summary",
    "word_changes",
]

# --- models and embedding runs ----------------------------------------------------------------

MODEL_COLUMNS = ["id", "dimensions", "max_input_tokens", "languages", "normalized", "served", "description"]


def models_frame(models: Iterable[ModelInfo], *, include_catalogue: bool = False) -> pd.DataFrame:
    """One row per model: what the endpoint lists, optionally followed by catalogue models it did not list.

    Parameters
    ----------
    models : iterable of ModelInfo
        From ``provider.list_models()`` (catalogue facts already merged in).
    include_catalogue : bool
        Also list the API models our catalogue knows (``served=False`` when not listed);
        the bundled local models are never added this way.
    """
    rows = list(models)
    if include_catalogue:
        listed = {m.id for m in rows}
        rows += [m for m in catalog.api_models(served=False) if m.id not in listed]
    frame = pd.DataFrame(
        [{column: getattr(m, column) for column in MODEL_COLUMNS} for m in rows],
        columns=MODEL_COLUMNS,
    )
    # Nullable integers: "unknown" stays empty instead of turning the column into floats.
    for column in ("dimensions", "max_input_tokens"):
        frame[column] = frame[column].astype("Int64")
    return frame


def vector_norms(vectors: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row: ndarray of shape (n,), float32 (1.0 for normalised models)."""
    return np.linalg.norm(np.asarray(vectors, dtype=np.float32), axis=1).astype(np.float32)


def result_frame(
    texts: Sequence[str], result: EmbeddingResult, labels: Sequence[str] | None = None, *, preview: int = 4
) -> pd.DataFrame:
    """Per-text table of an embedding run: text, label, tokens (when known), norm, first values.

    Parameters
    ----------
    texts : sequence of str, length n
    result : EmbeddingResult with ``vectors`` of shape (n, d)
    labels : sequence of str, length n, optional
    preview : int
        How many leading dimensions to show as ``dim_0 …``.
    """
    frame = pd.DataFrame({"text": list(texts)})
    if labels is not None:
        frame["label"] = list(labels)
    if result.token_counts is not None:
        frame["tokens"] = np.asarray(result.token_counts, dtype=np.int64)
    frame["norm"] = vector_norms(result.vectors)
    for i in range(min(preview, result.dimensions)):
        frame[f"dim_{i}"] = result.vectors[:, i]
    return frame


def vector_summary(vector: np.ndarray) -> dict[str, float]:
    """Norm, min, max and mean of one vector of shape (d,)."""
    v = np.asarray(vector, dtype=np.float32).ravel()
    return {
        "norm": float(np.linalg.norm(v)),
        "min": float(v.min()),
        "max": float(v.max()),
        "mean": float(v.mean()),
    }


def first_values(vector: np.ndarray, n: int = 8) -> str:
    """The first ``n`` values of a vector of shape (d,) as text: ``[+0.0123, -0.0456, …]``."""
    v = np.asarray(vector, dtype=np.float32).ravel()
    head = np.array2string(v[:n], precision=4, sign="+", separator=", ", floatmode="fixed")
    return head[:-1] + ", …]" if v.size > n else head


# --- comparing models and collections -------------------------------------------------------


def model_runs_frame(runs: Sequence[tuple[str, str, EmbeddingResult]]) -> pd.DataFrame:
    """One row per model run: ``(name, served_by, result)`` → dimensions, tokens, time, cache use.

    ``tokens`` counts what was billed in the call that made the vectors (0 when every text
    came from the cache); ``seconds`` is that call's wall-clock time.
    """
    return pd.DataFrame(
        {
            "model": [name for name, _, _ in runs],
            "served by": [where for _, where, _ in runs],
            "dimensions": [r.dimensions for _, _, r in runs],
            "tokens": [r.total_tokens for _, _, r in runs],
            "seconds": [r.elapsed for _, _, r in runs],
            "from cache": [r.cached for _, _, r in runs],
            "embedded": [r.fetched for _, _, r in runs],
        }
    )


def model_pairs_frame(report: ComparisonReport) -> pd.DataFrame:
    """One row per pair of models: Spearman of pair similarities and mean Jaccard@k of neighbours."""
    return pd.DataFrame(
        {
            "model A": [p.model_a for p in report.pairs],
            "model B": [p.model_b for p in report.pairs],
            "spearman": [p.spearman for p in report.pairs],
            f"jaccard@{report.k}": [p.mean_jaccard for p in report.pairs],
            "pairs compared": [p.n_pairs for p in report.pairs],
        }
    )


def disagreements_frame(items: Sequence[Disagreement], k: int) -> pd.DataFrame:
    """Texts the models disagree on most: the text, its Jaccard@k and how many neighbours are shared."""
    models = list(items[0].neighbours) if items else []
    shared = [len(set.intersection(*(set(d.neighbours[m]) for m in models))) if models else 0 for d in items]
    return pd.DataFrame(
        {
            "text": [d.text for d in items],
            "jaccard": [d.jaccard for d in items],
            "shared": [f"{s} of {k}" for s in shared],
        }
    )


def neighbour_lists(item: Disagreement) -> dict[str, pd.DataFrame]:
    """Each model's neighbours of one text, best first, marking those every model shares."""
    models = list(item.neighbours)
    common = set.intersection(*(set(rows) for rows in item.neighbours.values())) if models else set()
    return {
        model: pd.DataFrame(
            {
                "#": list(range(1, len(rows) + 1)),
                "shared": [row in common for row in rows],
                "neighbour": item.neighbour_texts[model],
            }
        )
        for model, rows in item.neighbours.items()
    }


def documents_frame(documents: Iterable[tuple[str, int]]) -> pd.DataFrame:
    """One row per document of a collection: its name and how many chunks it gave."""
    return pd.DataFrame(list(documents), columns=["document", "chunks"])


def collections_frame(infos: Sequence[CollectionInfo]) -> pd.DataFrame:
    """One row per stored collection: name, model, where, documents, chunks, chunking, created."""
    return pd.DataFrame(
        {
            "name": [i.name for i in infos],
            "model": [i.model for i in infos],
            "endpoint": ["bundled (local)" if i.endpoint_id == "local:" else i.endpoint_id for i in infos],
            "documents": [i.n_documents for i in infos],
            "chunks": [i.n_chunks for i in infos],
            "chunking": [f"{i.chunk_size} words, overlap {i.overlap}" for i in infos],
            "created": [i.created.strftime("%Y-%m-%d %H:%M UTC") for i in infos],
        }
    )


# --- texts side by side ------------------------------------------------------------------------

_WORD = re.compile(r"\s*\S+")
#: Below this share of words in common, two texts are simply different: no word list.
_NEAR_DUPLICATE_RATIO = 0.5


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _matcher(a_words: list[str], b_words: list[str]) -> difflib.SequenceMatcher:
    return difflib.SequenceMatcher(
        None, [w.strip() for w in a_words], [w.strip() for w in b_words], autojunk=False
    )


def word_changes(a: str, b: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """Both texts as runs of words marked changed (True) or shared (False), for highlighting.

    Joining a side's runs gives its text back (whitespace inside the text kept, ends stripped).

    Examples
    --------
    >>> word_changes("the end of the world", "the end of the word")[1]
    [('the end of the', False), (' word', True)]
    """
    a_words, b_words = _words(a.strip()), _words(b.strip())
    a_runs: list[tuple[str, bool]] = []
    b_runs: list[tuple[str, bool]] = []

    def add(runs: list[tuple[str, bool]], words: list[str], changed: bool) -> None:
        if not words:
            return
        text = "".join(words)
        if runs and runs[-1][1] == changed:
            runs[-1] = (runs[-1][0] + text, changed)
        else:
            runs.append((text, changed))

    for tag, i1, i2, j1, j2 in _matcher(a_words, b_words).get_opcodes():
        add(a_runs, a_words[i1:i2], tag != "equal")
        add(b_runs, b_words[j1:j2], tag != "equal")
    return a_runs, b_runs


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def pair_difference(a: str, b: str, *, max_chars: int = 70) -> str:
    """What tells two near-identical texts apart, in a few words; ``""`` for texts unlike each other.

    ``"identical"`` for equal texts; ``“world” → “word”`` for a changed word, ``+ “again”`` for
    words only the second has, ``− “very”`` for words only the first has, joined by `` · ``.
    Texts sharing fewer than half their words get ``""``: listing every change says nothing.
    """
    if a == b:
        return "identical"
    a_words, b_words = _words(a.strip()), _words(b.strip())
    matcher = _matcher(a_words, b_words)
    if matcher.ratio() < _NEAR_DUPLICATE_RATIO:
        return ""
    changes = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        old, new = _clip("".join(a_words[i1:i2]), 30), _clip("".join(b_words[j1:j2]), 30)
        if tag == "replace":
            changes.append(f"“{old}” → “{new}”")
        elif tag == "delete":
            changes.append(f"− “{old}”")
        elif tag == "insert":
            changes.append(f"+ “{new}”")
    if not changes:
        return "differ only in spacing"
    return _clip(" · ".join(changes), max_chars)
