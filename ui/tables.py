"""Display tables built from embedcore values (no Streamlit here; kept beside the pages that show them).

These only arrange what embedcore computed into DataFrames with readable columns, so
the pages stay free of loops and formulas.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from embedcore import catalog
from embedcore.types import EmbeddingResult, ModelInfo

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


#: Width in pixels of a character in the dataframe grid's font, with a margin (model ids
#: measured 6.3 px a character in chromium), and the cell's padding.
_GRID_CHAR_PX = 6.8
_GRID_PADDING_PX = 24


def text_width(values: Iterable[object], *, most: int = 520) -> int:
    """A grid column width in pixels that shows the longest of ``values`` uncut (up to ``most``)."""
    longest = max((len(str(v)) for v in values), default=0)
    return int(min(most, _GRID_PADDING_PX + _GRID_CHAR_PX * longest))


def short_model_names(model_ids: Iterable[str]) -> dict[str, str]:
    """``{id: name}`` with the organisation dropped (``BAAI/bge-m3`` → ``bge-m3``) where that stays unique.

    For places too narrow for a full id (the sidebar): two ids with the same tail keep their
    full form, so no two entries ever look the same.
    """
    ids = list(dict.fromkeys(model_ids))
    tails = [i.rsplit("/", 1)[-1] or i for i in ids]
    return {i: tail if tails.count(tail) == 1 else i for i, tail in zip(ids, tails, strict=True)}


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


def file_stem(model: str) -> str:
    """A file-name-safe stem for downloads, from the model id (``BAAI/bge-m3`` → ``embeddings-bge-m3``)."""
    tail = model.rsplit("/", 1)[-1]
    safe = "".join(c if c.isalnum() or c in "-._" else "-" for c in tail).strip("-.") or "model"
    return f"embeddings-{safe}"


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
