"""Display tables built from embedcore values (no Streamlit here; kept beside the pages that show them).

These only arrange what embedcore computed into DataFrames with readable columns, so
the pages stay free of loops and formulas.
"""

from __future__ import annotations

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
