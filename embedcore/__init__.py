"""embedcore — the engine behind the embedding explorer, usable without Streamlit.

>>> from embedcore import EmbeddingClient, LocalModel, cosine_matrix

Heavy modules (torch, umap-learn, scikit-learn) load on first use, not on import,
so ``import embedcore`` stays fast for the dashboard and for notebooks.
"""

from __future__ import annotations

import importlib

from .errors import *  # noqa: F403  (the exception tree is part of the public surface)
from .errors import __all__ as _error_names  # type: ignore[attr-defined]
from .types import EmbeddingResult, ModelInfo, Provider

#: The one version number: pyproject.toml reads it from here (setuptools `attr`).
__version__ = "0.1.0"

#: public name -> module that defines it; imported lazily by __getattr__.
_LAZY = {
    "EmbeddingClient": "client",
    "EmbeddingCache": "cache",
    "PostgresEmbeddingCache": "cache",
    "Database": "database",
    "LocalModel": "local",
    "cosine_matrix": "similarity",
    "normalize_rows": "similarity",
    "top_k": "similarity",
    "top_pairs": "similarity",
    "kmeans_labels": "similarity",
    "hdbscan_labels": "similarity",
    "cluster_order": "similarity",
    "nearest_neighbours": "similarity",
    "project": "projection",
    "describe": "catalog",
    "KNOWN_MODELS": "catalog",
    "TextTable": "io",
    "parse_pasted": "io",
    "read_upload": "io",
    "table_from_frame": "io",
    "load_sample": "io",
    "SAMPLES": "io",
    "Chunk": "chunking",
    "chunk_text": "chunking",
    "CollectionStore": "collections",
    "PostgresCollectionStore": "collections",
    "compare_models": "compare",
    "alignment_report": "alignment",
    "make_provider": "providers",
    "evaluate": "evaluation.run",
    "evaluate_vectors": "evaluation.run",
    "estimate_cost": "evaluation.run",
    "load_builtin": "evaluation.builtin",
}

__all__ = ["EmbeddingResult", "ModelInfo", "Provider", *_LAZY, *_error_names]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'embedcore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
