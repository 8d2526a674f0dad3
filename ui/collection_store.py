"""The persistent document collections of the search page, shared by every session.

One :class:`embedcore.collections.CollectionStore` per cache directory (the same directory
as the embedding cache, ``EMBEDCORE_CACHE_DIR``), and loaded collections kept in memory
read-only until something writes to the store.
"""

from __future__ import annotations

import os

import numpy as np
import streamlit as st

from embedcore.chunking import Chunk
from embedcore.collections import CollectionInfo, CollectionStore


@st.cache_resource(show_spinner=False)
def _store(cache_dir: str) -> CollectionStore:
    # cache_dir is only the cache key: a changed EMBEDCORE_CACHE_DIR gets its own store.
    return CollectionStore()


def collection_store() -> CollectionStore:
    """The shared store (thread-safe) for the current cache directory."""
    return _store(os.environ.get("EMBEDCORE_CACHE_DIR", ""))


# cache_resource, not cache_data: cache_data would pickle the vectors on every rerun.
@st.cache_resource(show_spinner="Loading the collection…", max_entries=4, ttl=1800)
def _load(path: str, name: str, stamp: tuple, _store: CollectionStore) -> tuple[list[Chunk], np.ndarray]:
    chunks, vectors = _store.load(name)
    vectors.setflags(write=False)
    return chunks, vectors


def load_collection(info: CollectionInfo) -> tuple[list[Chunk], np.ndarray]:
    """A collection's chunks and read-only vectors of shape (n_chunks, dims), float32."""
    store = collection_store()
    stamp = (info.created.timestamp(), info.n_chunks, info.n_documents, info.dims, info.model)
    return _load(str(store.path), info.name, stamp, store)


def forget_loaded() -> None:
    """Call after writing to the store: loaded collections may be stale."""
    _load.clear()
