"""Where the app keeps vectors, collections and its API rate limit: local files, or the team's database.

The operator sets ``database_url`` in the app's secrets (or ``EMBEDCORE_DATABASE_URL`` in the
environment). Without it every server process keeps its own SQLite files in
``EMBEDCORE_CACHE_DIR``; with it all replicas share one PostgreSQL + pgvector database
(:mod:`embedcore.stores.storage`). Both are read and checked by :mod:`embedcore.settings`
(``database_url``, ``cache_max_mb``); the stores themselves come from
:func:`embedcore.stores.storage.open_stores`, through :meth:`Storage.stores`.

A database that cannot be reached is not hidden and not replaced by local files: the error
is kept (and the connection not retried for :data:`RETRY_AFTER` seconds, so a dead server does
not slow every click down) and shown where storage is needed — embedding, the search page —
while pages that need none, such as Models, keep working.

The URL is passed to cached functions only as an underscore argument (left out of Streamlit's
hash) and keyed by a fingerprint, like the API token.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from embedcore.errors import DatabaseError
from embedcore.stores.database import Database
from embedcore.stores.protocols import Views
from embedcore.stores.storage import Stores, StoreSettings, open_stores
from ui.common import cached
from ui.common.settings import setting

#: Seconds a failed connection is reported again before the next attempt (a server that drops
#: packets costs the connect timeout, 10 s, per attempt).
RETRY_AFTER = 30.0


@dataclass(frozen=True)
class Storage:
    """The storage in effect for this run.

    Attributes
    ----------
    key : str
        Part of the cache keys of everything built on the storage: ``sqlite:<cache dir>``,
        ``postgres:<fingerprint>``, or ``postgres:<fingerprint>:down`` while unreachable.
    database : Database or None
        The shared database, when one is configured and reachable.
    error : DatabaseError or None
        Why the configured database cannot be used.
    """

    key: str
    database: Database | None = field(default=None, repr=False)
    error: DatabaseError | None = None

    @property
    def shared(self) -> bool:
        """True when a database is configured (reachable or not)."""
        return self.database is not None or self.error is not None

    def stores(self, cache_max_mb: float | None = None) -> Stores:
        """The stores on this storage (:func:`embedcore.stores.storage.open_stores`); a cap of
        None or 0 is no cap (the environment's was read by :func:`cache_max_mb` already)."""
        return open_stores(
            StoreSettings(cache_max_mb=cache_max_mb or 0), database=self.database, error=self.error
        )


def database_setting() -> tuple[str | None, str]:
    """``(url, where it was set)``: secrets' ``database_url`` first, then the environment."""
    return setting("database_url")


def cache_max_mb() -> float | None:
    """The embedding cache's size cap in megabytes (secrets' ``cache_max_mb``, then
    ``EMBEDCORE_CACHE_MAX_MB``); None for no cap.

    Raises
    ------
    embedcore.errors.ConfigurationError
        Not a number, or negative; the message names the setting.
    """
    return setting("cache_max_mb")


def current_storage() -> Storage:
    """The storage for this run (cheap: the database is opened once per server process)."""
    url, where = database_setting()
    if url is None:
        return Storage(key=f"sqlite:{os.environ.get('EMBEDCORE_CACHE_DIR', '')}")
    from ui.common.operator import fingerprint

    fp = fingerprint(url)
    lock, failures = cached.database_failures()
    with lock:
        failed = failures.get(fp)
    if failed is not None and time.monotonic() - failed[0] < RETRY_AFTER:
        return Storage(key=f"postgres:{fp}:down", error=failed[1])
    try:
        database = cached.database(fp, where, _url=url)
    except DatabaseError as exc:
        with lock:
            failures[fp] = (time.monotonic(), exc)
        return Storage(key=f"postgres:{fp}:down", error=exc)
    with lock:
        failures.pop(fp, None)
    return Storage(key=f"postgres:{fp}", database=database)


def view_store() -> Views:
    """The view store of the current storage (shared by every session and, on PostgreSQL, replica).

    Raises
    ------
    embedcore.errors.DatabaseUnavailableError
        A team database is configured but cannot be used.
    """
    storage = current_storage()
    if storage.error is not None:
        raise storage.error  # before the cache: an error is never remembered as the store
    return cached.view_store(storage.key, _storage=storage)
