"""What a store must answer: the calls the rest of embedcore makes on a cache and on collections.

:class:`VectorCache` is what :func:`embedcore.providers.pipeline.embed_with_cache` and the
providers use; :class:`ClaimingCache` adds the claims that let several processes share one
cache without paying twice for a text (the pipeline uses them when a cache has them).
:class:`Collections` is what the search page and ``python -m embedcore migrate`` use.
:class:`Views` is what saved and shared views (issue 22) are kept in.
Both are ``runtime_checkable``: ``isinstance(store, VectorCache)`` checks the methods are there
(not their signatures; the conformance tests in ``tests/test_store_protocols.py`` run them).

Examples
--------
>>> import tempfile, pathlib
>>> from embedcore.stores.cache import EmbeddingCache
>>> cache = EmbeddingCache(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite3")
>>> isinstance(cache, VectorCache), isinstance(cache, ClaimingCache), isinstance(cache, Collections)
(True, True, False)
>>> from embedcore.stores.views import ViewStore
>>> isinstance(ViewStore(pathlib.Path(tempfile.mkdtemp()) / "v.sqlite3"), Views), isinstance(cache, Views)
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from embedcore.io.chunking import Chunk
    from embedcore.stores.cache_rules import ClaimResult
    from embedcore.stores.collection_rules import CollectionInfo
    from embedcore.stores.view_rules import SavedView, ViewInfo

__all__ = ["ClaimingCache", "Collections", "VectorCache", "Views"]


@runtime_checkable
class VectorCache(Protocol):
    """Vectors by endpoint, model and text: what every embedding cache answers."""

    def get_many(self, endpoint_id: str, model: str, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those ``texts`` that have one (misses are absent)."""
        ...

    def put_many(self, endpoint_id: str, model: str, texts: Sequence[str], vectors: Any) -> None:
        """Store one vector per text (the last wins for a repeated text)."""
        ...

    def count(self, endpoint_id: str, model: str) -> int:
        """Vectors cached for one endpoint and model."""
        ...

    def clear(self, endpoint_id: str | None = None, model: str | None = None) -> int:
        """Delete vectors (all, or one endpoint's and/or model's); how many."""
        ...

    def stats(self) -> dict[str, Any]:
        """``entries``, ``bytes``, ``max_bytes``, ``path`` and ``models`` (see EmbeddingCache.stats)."""
        ...


@runtime_checkable
class ClaimingCache(VectorCache, Protocol):
    """A cache shared by several processes: texts are claimed before they are sent.

    ``put_many(..., release=owner)`` must end ``owner``'s claims on the texts it stores in the
    same transaction.
    """

    def claim(
        self, endpoint_id: str, model: str, texts: Iterable[str], *, owner: str, limit: int
    ) -> ClaimResult:
        """Claim up to ``limit`` texts neither cached nor claimed by another owner."""
        ...

    def renew(self, owner: str) -> int:
        """Push the expiry of ``owner``'s claims ahead; how many."""
        ...

    def release(self, endpoint_id: str, model: str, owner: str, texts: Iterable[str] | None = None) -> int:
        """Drop ``owner``'s claims (on ``texts``, or all); how many."""
        ...


@runtime_checkable
class Collections(Protocol):
    """Named collections of chunks and their vectors, searched by cosine similarity."""

    #: True when :meth:`search` runs inside the store (no need to load the vectors first).
    searches_in_database: bool

    def create(
        self, name: str, *, endpoint_id: str, model: str, chunk_size: int, overlap: int
    ) -> CollectionInfo:
        """An empty collection (InputError when the name is taken)."""
        ...

    def exists(self, name: str) -> bool: ...

    def list(self) -> list[CollectionInfo]: ...

    def info(self, name: str) -> CollectionInfo: ...

    def delete(self, name: str) -> bool: ...

    def add_chunks(
        self,
        name: str,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        *,
        endpoint_id: str | None = None,
        model: str | None = None,
    ) -> int:
        """Add (or replace, by source) chunks; the collection's chunk count afterwards."""
        ...

    def documents(self, name: str) -> list[tuple[str, int]]: ...

    def remove_document(self, name: str, source: str) -> int: ...

    def load(self, name: str) -> tuple[list[Chunk], np.ndarray]: ...

    def search(
        self, name: str, query_vector: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray, list[Chunk]]:
        """``(rows in load()'s order, cosine scores, chunks)`` of the ``k`` best, best first."""
        ...


@runtime_checkable
class Views(Protocol):
    """Saved and shared views: a state, its texts (stored once per digest) and the map's coordinates.

    Ids are unguessable; a missing view raises :class:`~embedcore.errors.ViewNotFoundError`, missing
    data :class:`~embedcore.errors.ViewDataMissingError` saying what is gone.
    """

    def save(
        self,
        state: dict,
        texts: Sequence[str],
        labels: Sequence | None = None,
        coordinates: Any = None,
        *,
        name: str = "",
        author: str | None = None,
    ) -> str:
        """Save a view; its new id."""
        ...

    def open(self, view_id: str) -> SavedView: ...

    def info(self, view_id: str) -> ViewInfo: ...

    def list(self, *, author: str | None = None) -> list[ViewInfo]:
        """Newest first."""
        ...

    def rename(self, view_id: str, name: str) -> ViewInfo: ...

    def delete(self, view_id: str) -> bool: ...

    def put_texts(self, texts: Sequence[str], labels: Sequence | None = None) -> str:
        """Store texts under their digest (once); the digest."""
        ...

    def texts(self, digest: str) -> tuple[list[str], list | None]: ...

    def put_selection(self, rows: Sequence[int]) -> str: ...

    def selection(self, digest: str) -> list[int]: ...

    def shorten(self, state: dict, *, inline: int = ...) -> dict:
        """The state with long row lists stored and named by digest (a short URL)."""
        ...

    def prune(self, *, unused_days: float = ...) -> int: ...

    def export(self, view_id: str) -> str:
        """The view as a JSON file's text."""
        ...

    def import_view(self, payload: str | bytes | dict, *, author: str | None = None) -> str: ...
