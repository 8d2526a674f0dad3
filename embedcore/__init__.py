"""embedcore — the engine behind the embedding explorer, usable without Streamlit.

>>> from embedcore import EmbeddingClient, LocalModel, cosine_matrix

Heavy modules (torch, umap-learn, scikit-learn) load on first use, not on import,
so ``import embedcore`` stays fast for the dashboard and for notebooks.
"""

from __future__ import annotations

import importlib

from embedcore.errors import *  # noqa: F403  (the exception tree is part of the public surface)
from embedcore.errors import __all__ as _error_names  # type: ignore[attr-defined]
from embedcore.types import EmbeddingResult, ModelInfo, Provider

#: The one version number: pyproject.toml reads it from here (setuptools `attr`).
__version__ = "0.1.0"

#: public name -> module that defines it; imported lazily by __getattr__.
_LAZY = {
    "EmbeddingClient": "providers.client",
    "EmbeddingCache": "stores.cache",
    "PostgresEmbeddingCache": "stores.cache",
    "Database": "stores.database",
    "LocalModel": "providers.local",
    "cosine_matrix": "analysis.similarity",
    "normalize_rows": "analysis.similarity",
    "top_k": "analysis.similarity",
    "top_pairs": "analysis.similarity",
    "kmeans_labels": "analysis.similarity",
    "hdbscan_labels": "analysis.similarity",
    "cluster_order": "analysis.similarity",
    "nearest_neighbours": "analysis.similarity",
    "project": "analysis.projection",
    "describe": "providers.catalog",
    "KNOWN_MODELS": "providers.catalog",
    "TextTable": "io",
    "parse_pasted": "io",
    "read_upload": "io",
    "table_from_frame": "io",
    "load_sample": "io",
    "SAMPLES": "io",
    "Chunk": "io.chunking",
    "chunk_text": "io.chunking",
    "CollectionStore": "stores.collections",
    "PostgresCollectionStore": "stores.collections",
    "compare_models": "analysis.compare",
    "alignment_report": "analysis.alignment",
    "make_provider": "providers.registry",
}

__all__ = ["EmbeddingResult", "ModelInfo", "Provider", *_LAZY, *_error_names]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'embedcore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
