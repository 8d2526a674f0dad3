"""The persistent document collections of the search page, shared by every session.

One store per storage (:mod:`ui.storage`): the SQLite file beside the embedding cache
(``EMBEDCORE_CACHE_DIR``), or the team's PostgreSQL database, where every replica sees the same
collections. Loaded collections are kept in memory read-only until their version changes.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from embedcore.chunking import Chunk
from embedcore.collections import CollectionInfo, CollectionStore, PostgresCollectionStore
from ui.storage import Storage, current_storage


@st.cache_resource(show_spinner=False, max_entries=8)
def _store(storage_key: str, _storage: Storage) -> CollectionStore | PostgresCollectionStore:
    # storage_key is only the cache key: a changed EMBEDCORE_CACHE_DIR or database gets its own store.
    if _storage.database is not None:
        return PostgresCollectionStore(_storage.database)
    return CollectionStore()


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
    return _store(storage.key, _storage=storage)


# cache_resource, not cache_data: cache_data would pickle the vectors on every rerun.
@st.cache_resource(show_spinner="Loading the collection…", max_entries=4, ttl=1800)
def _load(
    where: str, name: str, stamp: tuple, _store: CollectionStore | PostgresCollectionStore
) -> tuple[list[Chunk], np.ndarray]:
    chunks, vectors = _store.load(name)
    vectors.setflags(write=False)
    return chunks, vectors


def load_collection(info: CollectionInfo) -> tuple[list[Chunk], np.ndarray]:
    """A collection's chunks and read-only vectors of shape (n_chunks, dims), float32.

    Reloaded when the collection changes, here or on another replica (its ``version`` grows).
    """
    store = collection_store()
    stamp = (info.created.timestamp(), info.n_chunks, info.n_documents, info.dims, info.model, info.version)
    return _load(str(store.path), info.name, stamp, store)


def forget_loaded() -> None:
    """Call after writing to the store: loaded collections may be stale."""
    _load.clear()
