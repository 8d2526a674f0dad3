"""Where vectors, collections and the rate limit live: local SQLite files, or one shared PostgreSQL.

One setting decides, for the whole process: ``EMBEDCORE_DATABASE_URL``. Unset, the embedding
cache and the collections are SQLite files in ``$EMBEDCORE_CACHE_DIR`` (nothing to set up) and
each process paces its own API requests. Set, all three live in that PostgreSQL database (with
pgvector), shared by every process that points at it: app replicas, batch jobs, notebooks.

>>> from embedcore import storage
>>> cache = storage.open_cache()               # EmbeddingCache or PostgresEmbeddingCache
>>> collections = storage.open_collections()   # CollectionStore or PostgresCollectionStore

A set but unusable URL raises :class:`~embedcore.errors.DatabaseUnavailableError` naming the
setting; nothing falls back to SQLite. The dashboard reads the URL from its secrets
(``database_url``) too and passes it in as ``database_url=``; embedcore itself reads only the
environment and its arguments.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import TYPE_CHECKING, Any

from embedcore.errors import DatabaseError
from embedcore.stores.database import DATABASE_URL_ENV, Database, database_url_from_env

if TYPE_CHECKING:
    from pathlib import Path

    from embedcore.stores.cache import EmbeddingCache, PostgresEmbeddingCache
    from embedcore.stores.collections import CollectionStore, PostgresCollectionStore

__all__ = [
    "DATABASE_URL_ENV",
    "UnavailableCache",
    "configured_url",
    "open_cache",
    "open_collections",
    "shared_database",
]

_DATABASES: dict[tuple[str, int], Database] = {}
_LOCK = threading.Lock()


def configured_url(database_url: str | None = None) -> str | None:
    """The database URL in effect: ``database_url`` when given (and not blank), else the environment."""
    if database_url is not None and database_url.strip():
        return database_url.strip()
    return database_url_from_env()


def _key(url: str) -> tuple[str, int]:
    # A digest, not the URL: nothing in this module's state holds the password in clear.
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest(), os.getpid()


def shared_database(database_url: str | None = None, *, setting: str = DATABASE_URL_ENV) -> Database:
    """The process-wide :class:`Database` for a URL (default: ``$EMBEDCORE_DATABASE_URL``).

    Opened (and the schema migrated) on first use; one connection pool per URL per process.

    Raises
    ------
    DatabaseUnavailableError
        No URL configured, or the database cannot be used. Failures are not remembered: the
        next call tries again.
    """
    url = configured_url(database_url)
    if url is None:
        from embedcore.errors import DatabaseUnavailableError

        raise DatabaseUnavailableError(f"No database is configured: set {DATABASE_URL_ENV}.")
    key = _key(url)
    with _LOCK:
        database = _DATABASES.get(key)
        if database is None:
            database = _DATABASES[key] = Database(url, setting=setting)
        return database


def open_cache(
    database_url: str | None = None, *, path: str | os.PathLike[str] | Path | None = None
) -> EmbeddingCache | PostgresEmbeddingCache:
    """The embedding cache the settings choose.

    Parameters
    ----------
    database_url : str, optional
        Default ``$EMBEDCORE_DATABASE_URL``. With a URL: a :class:`PostgresEmbeddingCache` on the
        shared :class:`Database`; without: an :class:`EmbeddingCache` at ``path`` (default
        :func:`embedcore.stores.cache.default_cache_path`).

    Raises
    ------
    DatabaseUnavailableError
        A URL is set but the database cannot be used.
    """
    url = configured_url(database_url)
    if url is not None:
        from embedcore.stores.cache import PostgresEmbeddingCache

        return PostgresEmbeddingCache(shared_database(url))
    from embedcore.stores.cache import EmbeddingCache

    return EmbeddingCache(path)


def open_collections(
    database_url: str | None = None, *, path: str | os.PathLike[str] | Path | None = None
) -> CollectionStore | PostgresCollectionStore:
    """The collection store the settings choose (see :func:`open_cache`)."""
    url = configured_url(database_url)
    if url is not None:
        from embedcore.stores.collections import PostgresCollectionStore

        return PostgresCollectionStore(shared_database(url))
    from embedcore.stores.collections import CollectionStore

    return CollectionStore(path)


class UnavailableCache:
    """Stands in for a shared cache whose database cannot be reached: every call raises its error.

    Lets a provider be built (and models be listed) while the database is down, and makes the
    first embedding call fail with the database's own message — before any text is sent, since
    the cache is asked first — instead of quietly embedding without the team's cache.
    """

    def __init__(self, error: DatabaseError) -> None:
        self.error = error

    def __repr__(self) -> str:
        return "UnavailableCache()"

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error

    get_many = put_many = clear = count = stats = _fail

    @property
    def path(self) -> str:
        return "(database unavailable)"
