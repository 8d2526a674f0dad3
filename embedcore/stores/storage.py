"""The one store chooser: local SQLite files, or one shared PostgreSQL database.

Every caller — the command line, notebooks, :func:`embedcore.providers.registry.default_cache`,
the dashboard — gets its embedding cache, collections and budget ledger from
:func:`open_stores`, and the saved views too. One setting decides: the database URL
(``EMBEDCORE_DATABASE_URL``, or the dashboard's ``database_url`` secret). Unset, they are SQLite
files in ``$EMBEDCORE_CACHE_DIR`` (nothing to set up); set, all of them (and the API rate limit) live in that
PostgreSQL database with pgvector, shared by every process that points at it.

A set but unusable URL raises :class:`~embedcore.errors.DatabaseUnavailableError` naming the
setting; nothing falls back to SQLite, which would split a team's data in two.

Examples
--------
>>> import tempfile
>>> stores = open_stores(StoreSettings(cache_dir=tempfile.mkdtemp()))
>>> type(stores.cache).__name__, type(stores.collections).__name__, type(stores.ledger).__name__
('EmbeddingCache', 'CollectionStore', 'SQLiteLedger')
>>> type(stores.views).__name__, stores.views.path.name
('ViewStore', 'views.sqlite3')
>>> stores.cache is stores.cache  # each is opened once, on first use
True
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedcore.errors import DatabaseError, DatabaseUnavailableError
from embedcore.memo import Memo, digest
from embedcore.stores.database import DATABASE_URL_ENV, Database, database_url_from_env

if TYPE_CHECKING:
    from embedcore.stores.ledger import Ledger
    from embedcore.stores.protocols import Collections, VectorCache, Views

__all__ = [
    "DATABASE_URL_ENV",
    "StoreSettings",
    "Stores",
    "UnavailableCache",
    "configured_url",
    "open_cache",
    "open_collections",
    "open_ledger",
    "open_stores",
    "shared_database",
    "shared_stores",
]

#: One :class:`Database` (a connection pool) per URL and process.
_DATABASES: Memo[Database] = Memo(maxsize=8)
#: One :class:`Stores` per settings and process, for :func:`shared_stores`.
_SHARED: Memo[Stores] = Memo(maxsize=16)


def configured_url(database_url: str | None = None) -> str | None:
    """The database URL in effect: ``database_url`` when given (and not blank), else the environment.

    Examples
    --------
    >>> configured_url(" postgresql://db/x ")
    'postgresql://db/x'
    """
    if database_url is not None and database_url.strip():
        return database_url.strip()
    return database_url_from_env()


@dataclass(frozen=True)
class StoreSettings:
    """What chooses and shapes the stores.

    Attributes
    ----------
    database_url : str or None
        The team database; None: local SQLite files. Never shown (``repr`` leaves it out).
    database_setting : str
        Where the URL was set, for messages (``EMBEDCORE_DATABASE_URL`` or the secret's name).
    cache_dir : str or None
        The SQLite files' folder; None: ``$EMBEDCORE_CACHE_DIR`` or the user cache dir.
    cache_max_mb : float or None
        The embedding cache's cap; None: ``$EMBEDCORE_CACHE_MAX_MB``; 0: no cap.
    """

    database_url: str | None = field(default=None, repr=False)
    database_setting: str = DATABASE_URL_ENV
    cache_dir: str | None = None
    cache_max_mb: float | None = None

    @classmethod
    def from_env(cls, database_url: str | None = None, **kwargs: Any) -> StoreSettings:
        """``database_url`` when given, else ``$EMBEDCORE_DATABASE_URL``; the rest as given.

        Examples
        --------
        >>> StoreSettings.from_env("postgresql://db/x").database_url
        'postgresql://db/x'
        """
        return cls(database_url=configured_url(database_url), **kwargs)

    def key(self) -> str:
        """A digest of every setting (the URL only through it) and the default folder in effect.

        Examples
        --------
        >>> StoreSettings(cache_dir="/a").key() == StoreSettings(cache_dir="/b").key()
        False
        """
        from embedcore.stores.cache_rules import default_cache_path

        folder = self.cache_dir if self.cache_dir is not None else str(default_cache_path().parent)
        return digest(self.database_url, self.database_setting, folder, self.cache_max_mb, os.getpid())


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
        raise DatabaseUnavailableError(f"No database is configured: set {DATABASE_URL_ENV}.")
    # A digest, not the URL: nothing in this module's state holds the password in clear.
    return _DATABASES.get_or_compute(digest(url, os.getpid()), lambda: Database(url, setting=setting))


class Stores:
    """The embedding cache, the collections, the budget's ledger and the saved views of one storage.

    Each is opened on first use and then kept. Built by :func:`open_stores`.

    Attributes
    ----------
    settings : StoreSettings
    database : Database or None
        The shared database, when the settings name one and it could be opened.
    error : DatabaseError or None
        Why the configured database cannot be used: then :attr:`cache` is an
        :class:`UnavailableCache` (models can still be listed) and :attr:`collections` and
        :attr:`ledger` (and :attr:`views`) raise it.
    """

    def __init__(
        self, settings: StoreSettings, database: Database | None = None, error: DatabaseError | None = None
    ) -> None:
        self.settings = settings
        self.database = database
        self.error = error
        self._opened: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = "unavailable" if self.error else repr(self.database) if self.database else "sqlite"
        return f"Stores({where})"

    def _file(self, name: str) -> Path | None:
        return None if self.settings.cache_dir is None else Path(self.settings.cache_dir) / name

    def _open(self, what: str, opener: Any) -> Any:
        with self._lock:
            if what not in self._opened:
                self._opened[what] = opener()
            return self._opened[what]

    @property
    def cache(self) -> VectorCache:
        """The embedding cache (:class:`~embedcore.stores.protocols.VectorCache`)."""
        if self.error is not None:
            return UnavailableCache(self.error)
        max_mb = self.settings.cache_max_mb
        if self.database is not None:
            from embedcore.stores.pg_cache import PostgresEmbeddingCache

            return self._open("cache", lambda: PostgresEmbeddingCache(self.database, max_mb=max_mb))
        from embedcore.stores.cache import CACHE_FILENAME, EmbeddingCache

        return self._open("cache", lambda: EmbeddingCache(self._file(CACHE_FILENAME), max_mb=max_mb))

    @property
    def collections(self) -> Collections:
        """The document collections (:class:`~embedcore.stores.protocols.Collections`)."""
        if self.error is not None:
            raise self.error
        if self.database is not None:
            from embedcore.stores.pg_collections import PostgresCollectionStore

            return self._open("collections", lambda: PostgresCollectionStore(self.database))
        from embedcore.stores.collections import COLLECTIONS_FILENAME, CollectionStore

        return self._open("collections", lambda: CollectionStore(self._file(COLLECTIONS_FILENAME)))

    @property
    def ledger(self) -> Ledger:
        """The budget's ledger (never a local file when a database is configured)."""
        if self.error is not None:
            raise self.error
        from embedcore.stores.ledger import BUDGET_FILENAME, PostgresLedger, SQLiteLedger

        if self.database is not None:
            return self._open("ledger", lambda: PostgresLedger(self.database))
        return self._open("ledger", lambda: SQLiteLedger(self._file(BUDGET_FILENAME)))

    @property
    def views(self) -> Views:
        """The saved and shared views (:class:`~embedcore.stores.protocols.Views`)."""
        if self.error is not None:
            raise self.error
        if self.database is not None:
            from embedcore.stores.pg_views import PostgresViewStore

            return self._open("views", lambda: PostgresViewStore(self.database))
        from embedcore.stores.views import VIEWS_FILENAME, ViewStore

        return self._open("views", lambda: ViewStore(self._file(VIEWS_FILENAME)))


def open_stores(
    settings: StoreSettings | None = None,
    *,
    database: Database | None = None,
    error: DatabaseError | None = None,
) -> Stores:
    """The stores the settings choose (default :meth:`StoreSettings.from_env`).

    Parameters
    ----------
    settings : StoreSettings, optional
    database : Database, optional
        An already open database for ``settings.database_url`` (the dashboard keeps its own,
        with its retry rules); else :func:`shared_database` opens it.
    error : DatabaseError, optional
        The configured database is known to be down: the stores stand in (see :class:`Stores`).

    Raises
    ------
    DatabaseUnavailableError
        A URL is set but the database cannot be used (and neither ``database`` nor ``error`` given).

    Examples
    --------
    >>> import tempfile
    >>> stores = open_stores(StoreSettings(cache_dir=tempfile.mkdtemp(), cache_max_mb=50))
    >>> stores.cache.max_mb, stores.database is None
    (50.0, True)
    >>> from embedcore.errors import DatabaseUnavailableError
    >>> down = open_stores(error=DatabaseUnavailableError("The team database is down."))
    >>> down.cache
    UnavailableCache()
    >>> down.collections
    Traceback (most recent call last):
    embedcore.errors.DatabaseUnavailableError: The team database is down.
    """
    settings = StoreSettings.from_env() if settings is None else settings
    if error is None and database is None and settings.database_url is not None:
        database = shared_database(settings.database_url, setting=settings.database_setting)
    return Stores(settings, database, error)


def shared_stores(settings: StoreSettings | None = None) -> Stores:
    """:func:`open_stores`, once per settings and process: what every caller of one process shares.

    Examples
    --------
    >>> import tempfile
    >>> settings = StoreSettings(cache_dir=tempfile.mkdtemp())
    >>> shared_stores(settings) is shared_stores(settings)
    True
    """
    settings = StoreSettings.from_env() if settings is None else settings
    key = settings.key()
    found = _SHARED.get(key)
    if found is None:
        # Opened outside the memo's lock; a failure (database down) is not remembered.
        found = _SHARED.put(key, open_stores(settings))
    return found


def _open_one(what: str, database_url: str | None, path: str | os.PathLike[str] | None) -> Any:
    """One of the stores :func:`open_stores` chooses, new; ``path`` names its SQLite file."""
    stores = open_stores(StoreSettings.from_env(database_url))
    if path is not None and stores.database is None:
        from embedcore.stores.cache import EmbeddingCache
        from embedcore.stores.collections import CollectionStore
        from embedcore.stores.ledger import SQLiteLedger

        return {"cache": EmbeddingCache, "collections": CollectionStore, "ledger": SQLiteLedger}[what](path)
    return getattr(stores, what)


def open_cache(database_url: str | None = None, *, path: str | os.PathLike[str] | None = None) -> VectorCache:
    """A new embedding cache as :func:`open_stores` chooses it; ``path``: the SQLite file."""
    return _open_one("cache", database_url, path)


def open_collections(
    database_url: str | None = None, *, path: str | os.PathLike[str] | None = None
) -> Collections:
    """A new collection store as :func:`open_stores` chooses it; ``path``: the SQLite file."""
    return _open_one("collections", database_url, path)


def open_ledger(database_url: str | None = None, *, path: str | os.PathLike[str] | None = None) -> Ledger:
    """The budget's ledger as :func:`open_stores` chooses it; ``path``: the SQLite file."""
    return _open_one("ledger", database_url, path)


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
