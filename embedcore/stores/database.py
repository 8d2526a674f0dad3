"""The shared PostgreSQL + pgvector database: connections, the schema, and how it is named in messages.

One setting chooses it: ``EMBEDCORE_DATABASE_URL`` (the dashboard also reads ``database_url``
from its secrets). Without it everything stays in the local SQLite files; with it the
embedding cache, the document collections and the API rate limit live in that database, so
several app replicas (and batch jobs) share them; so do the saved views (migration 4).

:class:`Database` connects at once, so a wrong URL, a refused password or a server that is
down is one :class:`~embedcore.errors.DatabaseUnavailableError` at start that names the
setting — never a silent fallback to SQLite, which would split a team's data in two. It then
creates or migrates the schema (versioned in ``embedcore_schema_version``, under an advisory
lock so that replicas starting together do not race) and keeps a small connection pool.

The password never leaves this module: messages, ``repr()`` and logs show the database as
``postgresql://user:***@host:5432/db`` (see :func:`redact_url`), and any text a server or
libpq sends back is scrubbed of it before it is quoted.

psycopg 3 and psycopg-pool rather than SQLAlchemy: the SQL is short, and the pool gives what
a Streamlit server needs (connections checked before use, broken ones replaced).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from embedcore.errors import DatabaseError, DatabaseUnavailableError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "DATABASE_URL_ENV",
    "SCHEMA_VERSION",
    "Database",
    "database_url_from_env",
    "redact_url",
]

DATABASE_URL_ENV = "EMBEDCORE_DATABASE_URL"

logger = logging.getLogger(__name__)

#: Key of the advisory lock taken while the schema is created or migrated: an arbitrary
#: 63-bit number, so it does not collide with other applications sharing the database.
_MIGRATION_LOCK = 0x656D6264636F7265  # "embdcore"

#: Schema migrations, in order: (version, statements). Never edit a released one; append.
_MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            # Only a superuser may create it on most servers; when an administrator already has,
            # this is a no-op that needs no privilege.
            "CREATE EXTENSION IF NOT EXISTS vector",
            # The cache: one row per (endpoint, model, text hash). Vectors of any width share the
            # column (no typmod); the cache is looked up by key, never by similarity.
            """
            CREATE TABLE IF NOT EXISTS embedcore_embeddings (
                endpoint TEXT NOT NULL,
                model    TEXT NOT NULL,
                text_sha BYTEA NOT NULL,
                dims     INTEGER NOT NULL,
                vector   vector NOT NULL,
                created  DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (endpoint, model, text_sha)
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS embedcore_collections (
                id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                name        TEXT NOT NULL UNIQUE,
                endpoint_id TEXT NOT NULL,
                model       TEXT NOT NULL,
                chunk_size  INTEGER NOT NULL,
                overlap     INTEGER NOT NULL,
                dims        INTEGER,
                created     DOUBLE PRECISION NOT NULL,
                version     BIGINT NOT NULL DEFAULT 0
            )
            """,
            # One table for every collection's chunks; each large collection gets its own partial
            # HNSW index on (vector::vector(dims)) (see embedcore.stores.collections).
            """
            CREATE TABLE IF NOT EXISTS embedcore_chunks (
                collection_id BIGINT NOT NULL REFERENCES embedcore_collections (id) ON DELETE CASCADE,
                seq           BIGINT NOT NULL,
                source        TEXT NOT NULL,
                chunk_index   INTEGER NOT NULL,
                start         INTEGER NOT NULL,
                "end"         INTEGER NOT NULL,
                text          TEXT NOT NULL,
                vector        vector NOT NULL,
                PRIMARY KEY (collection_id, seq)
            )
            """,
            "CREATE INDEX IF NOT EXISTS embedcore_chunks_by_source ON embedcore_chunks (collection_id, source)",
            # The shared token buckets (embedcore.providers.ratelimit.SharedTokenBucket), on the server's clock.
            """
            CREATE TABLE IF NOT EXISTS embedcore_rate_limits (
                key          TEXT PRIMARY KEY,
                tokens       DOUBLE PRECISION NOT NULL,
                updated      DOUBLE PRECISION NOT NULL,
                paused_until DOUBLE PRECISION NOT NULL DEFAULT 0
            )
            """,
        ),
    ),
    (
        2,
        (
            # The budget on the operator's token (embedcore.providers.budget). One row per UTC day, endpoint
            # and visitor holding the tokens spent; visitor '' is the endpoint's total. Reserving
            # locks these rows (SELECT ... FOR UPDATE), so replicas cannot overspend together.
            """
            CREATE TABLE IF NOT EXISTS embedcore_budget_spent (
                day      TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                visitor  TEXT NOT NULL,
                tokens   BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (day, endpoint, visitor)
            )
            """,
            # Estimates held by actions in flight; a replica killed mid-action holds its
            # reservation only until it expires.
            """
            CREATE TABLE IF NOT EXISTS embedcore_budget_reservations (
                id       TEXT PRIMARY KEY,
                day      TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                visitor  TEXT NOT NULL,
                tokens   BIGINT NOT NULL,
                expires  DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS embedcore_budget_reservations_by_day "
            "ON embedcore_budget_reservations (day, endpoint, visitor)",
            # What the Usage page lists: per UTC day, endpoint, visitor and model.
            """
            CREATE TABLE IF NOT EXISTS embedcore_budget_usage (
                day        TEXT NOT NULL,
                endpoint   TEXT NOT NULL,
                visitor    TEXT NOT NULL,
                model      TEXT NOT NULL,
                texts      BIGINT NOT NULL DEFAULT 0,
                tokens     BIGINT NOT NULL DEFAULT 0,
                requests   BIGINT NOT NULL DEFAULT 0,
                cache_hits BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (day, endpoint, visitor, model)
            )
            """,
        ),
    ),
    (
        3,
        (
            # Claims on texts a replica is fetching (embedcore.providers.pipeline): an owner per call and an
            # expiry on the server's clock, renewed while the owner works, so a killed replica
            # holds others up only until it expires. A table rather than advisory locks on text
            # hashes: a call claims thousands of texts, more than the server's shared lock table
            # is sized for, and session locks would pin one pooled connection per call. UNLOGGED:
            # claims are worth nothing after a server crash, and need no WAL.
            """
            CREATE UNLOGGED TABLE IF NOT EXISTS embedcore_claims (
                endpoint TEXT NOT NULL,
                model    TEXT NOT NULL,
                text_sha BYTEA NOT NULL,
                owner    TEXT NOT NULL,
                expires  DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (endpoint, model, text_sha)
            )
            """,
            "CREATE INDEX IF NOT EXISTS embedcore_claims_by_owner ON embedcore_claims (owner)",
            # The cache's size cap evicts the least recently used: last use, on the server's
            # clock, starting from the creation time of the rows already there.
            "ALTER TABLE embedcore_embeddings ADD COLUMN IF NOT EXISTS last_used DOUBLE PRECISION NOT NULL DEFAULT 0",
            "UPDATE embedcore_embeddings SET last_used = created WHERE last_used = 0",
            "CREATE INDEX IF NOT EXISTS embedcore_embeddings_lru ON embedcore_embeddings (last_used) INCLUDE (dims)",
        ),
    ),
    (
        4,
        (
            # Saved and shared views (embedcore.stores.views, issue 22): the texts once per content
            # digest, stored row lists by digest, and the views with their map's coordinates
            # (float32 bytes). The same tables as the SQLite store's views_schema().
            """
            CREATE TABLE IF NOT EXISTS embedcore_view_data (
                digest    TEXT PRIMARY KEY,
                texts     TEXT NOT NULL,
                labels    TEXT,
                n_texts   INTEGER NOT NULL,
                created   DOUBLE PRECISION NOT NULL,
                last_used DOUBLE PRECISION NOT NULL
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS embedcore_view_selections (
                digest    TEXT PRIMARY KEY,
                rows      TEXT NOT NULL,
                n_rows    INTEGER NOT NULL,
                created   DOUBLE PRECISION NOT NULL,
                last_used DOUBLE PRECISION NOT NULL
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS embedcore_views (
                id          TEXT PRIMARY KEY,
                name        TEXT NOT NULL,
                author      TEXT,
                created     DOUBLE PRECISION NOT NULL,
                dataset     TEXT NOT NULL,
                model       TEXT NOT NULL,
                n_texts     INTEGER NOT NULL,
                state       TEXT NOT NULL,
                data_digest TEXT NOT NULL,
                coordinates BYTEA,
                coord_dims  INTEGER
            )
            """,
            "CREATE INDEX IF NOT EXISTS embedcore_views_by_data ON embedcore_views (data_digest)",
        ),
    ),
)

#: The schema version this code expects.
SCHEMA_VERSION = _MIGRATIONS[-1][0]


def database_url_from_env() -> str | None:
    """``$EMBEDCORE_DATABASE_URL`` stripped, or None when unset or blank."""
    value = os.environ.get(DATABASE_URL_ENV, "").strip()
    return value or None


def parse_url(url: str) -> dict[str, str]:
    """libpq's reading of a URL or ``key=value`` string; ValueError without quoting the input."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parsed = conninfo_to_dict(url)
    except Exception:
        # libpq's message quotes the offending part of the string, password and all.
        raise ValueError("not a PostgreSQL connection URL") from None
    return {k: str(v) for k, v in parsed.items() if v is not None}


def redact_url(url: str) -> str:
    """The database as a person may see it: ``postgresql://user:***@host:port/dbname``.

    Works for URLs and ``key=value`` strings; a string that cannot be parsed is shown as
    ``<unreadable database URL>``, since any part of it could be the password.
    """
    try:
        parts = parse_url(url)
    except ValueError:
        return "<unreadable database URL>"
    user = quote(parts.get("user", ""), safe="")
    secret = ":***" if parts.get("password") else ""
    credentials = f"{user}{secret}@" if user or secret else ""
    host = parts.get("host", "")
    dbname = quote(parts.get("dbname", ""), safe="")
    if host.startswith("/") or not host:
        where = f"/{dbname}" + (f"?host={host}" if host else "")
        return f"postgresql://{credentials}{where}"
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{credentials}{host}{port}/{dbname}"


def _secrets_in(url: str) -> list[str]:
    """Every spelling of the URL's password(s) that could turn up in a message."""
    from urllib.parse import unquote

    found: set[str] = set()
    try:
        parts = parse_url(url)
    except ValueError:
        parts = {}
    for key in ("password", "sslpassword"):
        value = parts.get(key)
        if value:
            found.update({value, quote(value, safe=""), quote(value)})
    # A password in the URL's userinfo, also when libpq could not parse the rest.
    if "://" in url and "@" in url:
        userinfo = url.split("://", 1)[1].rsplit("@", 1)[0]
        if ":" in userinfo:
            raw = userinfo.split(":", 1)[1]
            if raw:
                found.update({raw, unquote(raw)})
    return sorted((s for s in found if s), key=len, reverse=True)


class _Secret:
    """Holds the URL (or its passwords) so that no ``repr``, ``vars()`` dump or debugger view shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def get(self) -> Any:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


class Database:
    """A PostgreSQL database with pgvector, schema ready, behind a small connection pool.

    Parameters
    ----------
    url : str
        ``postgresql://user:password@host:5432/dbname`` (or libpq's ``key=value`` form). The
        password may also come from ``PGPASSWORD`` or ``~/.pgpass``, as libpq reads them.
    max_connections : int
        Pool size per process. Each Streamlit session or embedding thread holds one only
        for the length of a statement or transaction.
    connect_timeout : float
        Seconds to wait for the server when connecting.
    setting : str
        Where the URL came from, for messages (``EMBEDCORE_DATABASE_URL`` or a secrets key).

    Raises
    ------
    DatabaseUnavailableError
        The URL is malformed, the server cannot be reached or refuses the login, pgvector is
        missing, or the schema is newer than this code.

    Notes
    -----
    Thread-safe. After ``os.fork`` the child opens its own pool.
    """

    def __init__(
        self,
        url: str,
        *,
        max_connections: int = 8,
        connect_timeout: float = 10.0,
        setting: str = DATABASE_URL_ENV,
    ) -> None:
        if not isinstance(url, str) or not url.strip():
            raise DatabaseUnavailableError(
                f"{setting} is empty; set it to postgresql://user:password@host/db."
            )
        url = url.strip()
        self.setting = setting
        self._url = _Secret(url)
        self._secrets = _Secret(tuple(_secrets_in(url)))
        self.display = redact_url(url)
        try:
            parse_url(url)
        except ValueError:
            raise DatabaseUnavailableError(
                f"{setting} is not a PostgreSQL connection URL; expected "
                "postgresql://user:password@host:5432/dbname."
            ) from None
        self.max_connections = max(1, int(max_connections))
        self.connect_timeout = float(connect_timeout)
        self._lock = threading.Lock()
        self._pool: Any = None
        self._pid = 0
        self._migrate()
        self._open_pool()

    def __repr__(self) -> str:
        return f"Database({self.display!r})"

    __str__ = __repr__

    # --- messages -------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """``text`` with every spelling of the password replaced by ``***``."""
        for secret in self._secrets.get():
            text = text.replace(secret, "***")
        return text

    def _reason(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        text = self.scrub(text)
        return text if len(text) <= 300 else text[:299] + "…"

    def _unavailable(self, exc: BaseException) -> DatabaseUnavailableError:
        reason = self._reason(exc).rstrip(". ")
        lowered = reason.lower()
        hint = ""
        if "permission denied" in lowered and "extension" in lowered:
            hint = " A superuser must run CREATE EXTENSION vector in this database once."
        elif "permission denied" in lowered:
            hint = " The user may not create tables here; ask the database owner."
        elif "password" in lowered or "authentication" in lowered:
            hint = " Check the user name and password."
        elif 'extension "vector"' in lowered or "vector.control" in lowered:
            hint = " The server has no pgvector: install it (https://github.com/pgvector/pgvector)."
        return DatabaseUnavailableError(
            f"Cannot use the database set in {self.setting} ({self.display}): {reason}.{hint} "
            "Nothing falls back to the local SQLite files; fix the setting or unset it."
        )

    def error(self, exc: BaseException) -> DatabaseError:
        """A :class:`DatabaseError` for a psycopg exception met mid-operation (password scrubbed)."""
        import psycopg

        reason = self._reason(exc)
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            return DatabaseError(
                f"Lost the connection to the database {self.display} ({reason}). Work finished before "
                "this is kept; try again."
            )
        return DatabaseError(f"The database {self.display} refused the operation: {reason}")

    # --- connections ------------------------------------------------------------------------

    def _connect_kwargs(self) -> dict[str, Any]:
        return {
            "autocommit": True,
            "connect_timeout": max(1, round(self.connect_timeout)),
            "application_name": "embedcore",
        }

    def _migrate(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self._url.get(), **self._connect_kwargs()) as conn, conn.transaction():
                # Replicas starting at once queue here; the second finds the work done.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS embedcore_schema_version ("
                    "version INTEGER PRIMARY KEY, applied TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                applied = {v for (v,) in conn.execute("SELECT version FROM embedcore_schema_version")}
                current = max(applied, default=0)
                if current > SCHEMA_VERSION:
                    raise DatabaseUnavailableError(
                        f"The database set in {self.setting} ({self.display}) has schema version "
                        f"{current}, newer than this embedcore's {SCHEMA_VERSION}: upgrade the app."
                    )
                # Every migration not yet recorded, not only those above the highest: branches
                # merged in another order than their numbers leave gaps, filled here (each
                # migration is written to run on any later schema: IF NOT EXISTS throughout).
                for version, statements in _MIGRATIONS:
                    if version in applied:
                        continue
                    for statement in statements:
                        conn.execute(statement)
                    conn.execute("INSERT INTO embedcore_schema_version (version) VALUES (%s)", (version,))
                    logger.info("database %s: schema migrated to version %d", self.display, version)
        except psycopg.Error as exc:
            raise self._unavailable(exc) from None

    def _open_pool(self) -> None:
        from psycopg_pool import ConnectionPool, PoolTimeout

        def configure(conn: psycopg.Connection) -> None:
            from pgvector.psycopg import register_vector

            register_vector(conn)

        pool = ConnectionPool(
            self._url.get(),
            kwargs=self._connect_kwargs(),
            min_size=1,
            max_size=self.max_connections,
            open=False,
            configure=configure,
            # A connection the server dropped while idle is replaced before anyone gets it.
            check=ConnectionPool.check_connection,
            # How long a caller waits for a connection when the server is gone: the same
            # patience as for connecting, then a DatabaseError rather than a hang.
            timeout=self.connect_timeout,
            name="embedcore",
        )
        try:
            pool.open(wait=True, timeout=self.connect_timeout + 5)
        except PoolTimeout as exc:
            pool.close()
            raise self._unavailable(exc) from None
        self._pool, self._pid = pool, os.getpid()

    def _current_pool(self) -> Any:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                # A forked child must not share its parent's sockets; closed stays closed
                # until used again, like the SQLite stores.
                self._pool = None
                try:
                    self._open_pool()
                except DatabaseUnavailableError as exc:
                    raise DatabaseError(str(exc)) from None
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection (autocommit; vectors as numpy) for the length of the block.

        psycopg errors become :class:`DatabaseError`; errors of the caller's own pass through.
        """
        import psycopg

        pool = self._current_pool()
        try:
            with pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise self.error(exc) from None

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A pooled connection inside one transaction: committed at the end, rolled back on error."""
        with self.connection() as conn, conn.transaction():
            yield conn

    def close(self) -> None:
        """Close the pool (a later call opens a new one)."""
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.close()
            self._pool = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self.connection() as conn:
            (version,) = conn.execute("SELECT MAX(version) FROM embedcore_schema_version").fetchone()
        return int(version)


class DatabaseBacked:
    """What the PostgreSQL stores share: the database they use, closing it when they opened it.

    Parameters
    ----------
    database : Database or str
        A :class:`Database`, or its URL (then the store opens one and owns it).
    """

    def __init__(self, database: Database | str) -> None:
        self._owns_database = not isinstance(database, Database)
        self.database = Database(database) if isinstance(database, str) else database

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.database.display!r})"

    @property
    def path(self) -> str:
        """Where the data is, for display: the database URL without its password."""
        return self.database.display

    def close(self) -> None:
        """Close the connections, when this store opened the database itself."""
        if self._owns_database:
            self.database.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
