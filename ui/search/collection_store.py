"""The persistent document collections of the search page, shared by every session.

One store per storage (:mod:`ui.common.storage`): the SQLite file beside the embedding cache
(``EMBEDCORE_CACHE_DIR``), or the team's PostgreSQL database, where every replica sees the same
collections. Loaded collections are kept in memory read-only until their version changes.
"""

from __future__ import annotations

import numpy as np

from embedcore.io.chunking import Chunk
from embedcore.stores.collections import CollectionInfo, CollectionStore, PostgresCollectionStore
from ui.common import cached
from ui.common.storage import current_storage


def collection_store() -> CollectionStore | PostgresCollectionStore:
    """The shared store (thread-safe) for the current storage.

    Raises
    ------
    embedcore.errors.DatabaseUnavailableError
        A team database is configured but cannot be used (never replaced by a local file).
    """
    storage = current_storage()
    if storage.error is not None:
        raise storage.error
    return cached.collection_store(storage.key, _storage=storage)


def load_collection(info: CollectionInfo) -> tuple[list[Chunk], np.ndarray]:
    """A collection's chunks and read-only vectors of shape (n_chunks, dims), float32.

    Reloaded when the collection changes, here or on another replica (its ``version`` grows).
    """
    store = collection_store()
    stamp = (info.created.timestamp(), info.n_chunks, info.n_documents, info.dims, info.model, info.version)
    return cached.loaded_collection(str(store.path), info.name, stamp, store)


def forget_loaded() -> None:
    """Call after writing to the store: loaded collections may be stale."""
    cached.loaded_collection.clear()
