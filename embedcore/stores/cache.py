"""A persistent store of embedding vectors, so no text is ever paid for twice.

Vectors are keyed by ``(endpoint_id, model, sha256(text))``. The text itself is not
stored — only its hash — and neither is any API key: the endpoint id is a normalised
URL without credentials.

Two stores behind the same calls (``get_many``, ``put_many``, ``count``, ``clear``, ``stats``,
``usage``, and ``claim`` / ``renew`` / ``release`` for :mod:`embedcore.providers.pipeline`):

* :class:`EmbeddingCache` — one SQLite file (WAL mode), the default: it ships with Python,
  needs no setting up, and several processes on one machine can share the file safely.
* :class:`PostgresEmbeddingCache` — a table in PostgreSQL (pgvector ``vector`` column), for
  a team: several app replicas on several machines share one cache. Chosen by
  ``EMBEDCORE_DATABASE_URL`` (see :func:`embedcore.stores.storage.open_cache`).

**Claims.** Several processes sharing a store and embedding the same texts at once must not
all pay for them: before it sends a batch, a caller *claims* its texts in the store (a row per
text with an owner and an expiry), and a caller that finds a text claimed by another waits for
its vector instead of sending it. A claim is renewed while its owner works and released once
the vector is stored (or the request failed); a process killed while holding claims blocks the
others only until they expire (``claim_ttl``, 30 s by default).

**The size cap.** ``max_mb`` (or ``EMBEDCORE_CACHE_MAX_MB``) caps the vectors' stored size;
past it the least recently used vectors are deleted. A hit marks its row as used at most once
per :attr:`EmbeddingCache.touch_every` seconds, in one statement per lookup, so a hot working
set costs no writes. Collections live in other tables and files and are never evicted.
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embedcore.errors import ConfigurationError, InputError
from embedcore.stores.database import DatabaseBacked

if TYPE_CHECKING:
    pass

__all__ = [
    "CACHE_FILENAME",
    "CACHE_MAX_MB_ENV",
    "ClaimResult",
    "EmbeddingCache",
    "PostgresEmbeddingCache",
    "default_cache_path",
    "parse_max_mb",
    "text_key",
]

CACHE_FILENAME = "embeddings.sqlite3"
CACHE_MAX_MB_ENV = "EMBEDCORE_CACHE_MAX_MB"

#: Seconds a claim lasts without being renewed: how long a killed process can hold up others.
CLAIM_TTL = 30.0
#: Bytes a cached row costs beyond its vector (key, names, times, index entries), for the cap.
ROW_OVERHEAD = 100
#: A hit refreshes its row's ``last_used`` only when it is older than this many seconds.
TOUCH_EVERY = 60.0

# A rowid table with a unique index, not WITHOUT ROWID: rows carry 1-4 KiB blobs, and SQLite's
# own advice (and our measurement: 10k lookups 0.35 s vs ~0.05 s) is to keep big rows out of the
# key b-tree.

#: Host parameters per ``IN (...)`` query; below SQLite's historic limit of 999.
_CHUNK = 900

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    endpoint  TEXT NOT NULL,
    model     TEXT NOT NULL,
    text_sha  BLOB NOT NULL,
    dims      INTEGER NOT NULL,
    vector    BLOB NOT NULL,
    created   REAL NOT NULL,
    last_used REAL NOT NULL DEFAULT 0,
    UNIQUE (endpoint, model, text_sha)
)
"""
# Files written before the cap have no last_used: added once, filled with the creation time.
_LAST_USED = (
    "ALTER TABLE embeddings ADD COLUMN last_used REAL NOT NULL DEFAULT 0",
    "UPDATE embeddings SET last_used = created",
)
# (last_used, dims): eviction walks it oldest first, and the size sum reads it without the blobs.
_LRU_INDEX = "CREATE INDEX IF NOT EXISTS embeddings_lru ON embeddings (last_used, dims)"
# Claims are short-lived rows; WITHOUT ROWID since the key is the whole point of the table.
_CLAIMS = """
CREATE TABLE IF NOT EXISTS claims (
    endpoint TEXT NOT NULL,
    model    TEXT NOT NULL,
    text_sha BLOB NOT NULL,
    owner    TEXT NOT NULL,
    expires  REAL NOT NULL,
    PRIMARY KEY (endpoint, model, text_sha)
) WITHOUT ROWID
"""
_CLAIMS_INDEX = "CREATE INDEX IF NOT EXISTS claims_by_owner ON claims (owner)"


def parse_max_mb(value: Any, setting: str = CACHE_MAX_MB_ENV) -> float | None:
    """The cache cap in megabytes from a setting's value; None for no cap (unset, blank or 0).

    Raises
    ------
    ConfigurationError
        Not a number, negative, or not finite; the message names ``setting``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ConfigurationError(f"{setting} must be a number of megabytes (e.g. 500), not {value}.")
    try:
        mb = float(value)
    except (TypeError, ValueError):
        shown = str(value)[:40]
        raise ConfigurationError(
            f"{setting} must be a number of megabytes (e.g. 500), got {shown!r}."
        ) from None
    if not math.isfinite(mb) or mb < 0:
        raise ConfigurationError(
            f"{setting} must be 0 (no cap) or a positive number of megabytes, got {value}."
        )
    return mb or None


def _max_bytes(max_mb: float | None) -> int | None:
    """``max_mb`` given, else ``$EMBEDCORE_CACHE_MAX_MB``; 0 or unset means no cap."""
    mb = parse_max_mb(os.environ.get(CACHE_MAX_MB_ENV)) if max_mb is None else parse_max_mb(max_mb, "max_mb")
    return None if mb is None else int(mb * 1_000_000)


@dataclass
class ClaimResult:
    """What :meth:`EmbeddingCache.claim` found for each text asked about, in the order asked.

    Attributes
    ----------
    claimed : list of str
        Now claimed by the caller: it sends them, stores their vectors, then releases them.
    stored : list of str
        Already in the cache.
    busy : list of str
        Claimed by another caller whose claim has not expired: wait for their vectors.
    free : list of str
        None of those, and not claimed because ``limit`` was reached.
    """

    claimed: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)
    free: list[str] = field(default_factory=list)


def _classify(
    by_key: dict[bytes, str], stored: set[bytes], held: dict[bytes, str], owner: str, limit: int
) -> tuple[ClaimResult, list[bytes]]:
    """Sort texts into stored / busy / claimed (up to ``limit``) / free; also the keys to claim."""
    result, keys = ClaimResult(), []
    for key, text in by_key.items():
        if key in stored:
            result.stored.append(text)
        elif held.get(key, owner) != owner:
            result.busy.append(text)
        elif len(keys) < limit:
            keys.append(key)
            result.claimed.append(text)
        else:
            result.free.append(text)
    return result, keys


def _distinct_keys(texts: Iterable[str]) -> dict[bytes, str]:
    by_key: dict[bytes, str] = {}
    for text in texts:
        by_key.setdefault(text_key(text), text)
    return by_key


class _Capped:
    """Bookkeeping both stores share for the size cap: when to look at the size again."""

    max_bytes: int | None
    #: A hit refreshes ``last_used`` only when it is older than this (seconds); 0: every hit.
    touch_every: float = TOUCH_EVERY

    def _init_cap(self, max_mb: float | None, claim_ttl: float) -> None:
        self.max_bytes = _max_bytes(max_mb)
        if not claim_ttl > 0:
            raise ConfigurationError(f"claim_ttl must be positive, got {claim_ttl}")
        self.claim_ttl = float(claim_ttl)
        self._cap_lock = threading.Lock()
        # Summing the sizes reads an index of every row: done after 1 % of the cap was written
        # here, so several processes together overshoot by about 1 % each. The first write checks.
        self._written = self.max_bytes or 0

    def _after_write(self, nbytes: int) -> None:
        if not self.max_bytes:
            return
        with self._cap_lock:
            self._written += nbytes
            due = self._written >= max(1, self.max_bytes // 100)
            if due:
                self._written = 0
        if due:
            self.evict()

    def evict(self) -> int:  # pragma: no cover - both stores define it
        raise NotImplementedError

    def usage(self) -> dict[str, int | None]:
        """``{"bytes": stored size of the vectors (what the cap counts), "max_bytes": cap or None}``."""
        return {"bytes": self.used_bytes(), "max_bytes": self.max_bytes}

    def used_bytes(self) -> int:  # pragma: no cover - both stores define it
        raise NotImplementedError


def default_cache_path() -> Path:
    """Where the cache lives: ``$EMBEDCORE_CACHE_DIR`` or the user cache dir, plus ``embeddings.sqlite3``."""
    directory = os.environ.get("EMBEDCORE_CACHE_DIR")
    if not directory:
        import platformdirs  # only needed for the default location

        directory = platformdirs.user_cache_dir("embedcore", appauthor=False)
    return Path(directory).expanduser() / CACHE_FILENAME


def text_key(text: str) -> bytes:
    """SHA-256 digest (32 bytes) of a text, the cache key; lone surrogates are kept, not refused."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _create_schema(conn: sqlite3.Connection) -> None:
    """Tables and indexes, and ``last_used`` added to a file from before it, in one write
    transaction: processes opening an old file at once take turns, and the second finds it done.
    A file that has it all is only read (a read-only seed file stays openable)."""
    names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    if {"embeddings", "embeddings_lru", "claims", "claims_by_owner"} <= names:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_SCHEMA)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(embeddings)")}
        if "last_used" not in columns:
            for statement in _LAST_USED:
                conn.execute(statement)
        for statement in (_LRU_INDEX, _CLAIMS, _CLAIMS_INDEX):
            conn.execute(statement)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _rows_to_store(
    texts: Sequence[str], vectors: np.ndarray | Sequence[np.ndarray]
) -> list[tuple[bytes, np.ndarray]]:
    """``(text_key, float32 vector)`` per text, checked; the last vector wins for a repeated text."""
    if len(texts) != len(vectors):
        raise InputError(f"put_many got {len(texts)} texts but {len(vectors)} vectors.")
    by_key: dict[bytes, np.ndarray] = {}
    for text, vector in zip(texts, vectors, strict=True):
        vec = np.ascontiguousarray(vector, dtype="<f4").reshape(-1)
        if not vec.shape[0]:
            raise InputError("put_many got a vector with no dimensions.")
        if not np.isfinite(vec).all():
            # A NaN vector would answer every later lookup of this text with garbage.
            raise InputError("put_many got a vector with NaN or infinite values; it was not stored.")
        by_key[text_key(text)] = vec
    return list(by_key.items())


class EmbeddingCache(_Capped):
    """Vectors by endpoint, model and text, in one SQLite file.

    Safe to share between threads (one connection guarded by a lock — lookups take
    milliseconds, so a pool would buy nothing) and between processes (WAL journal,
    30 s busy timeout). After ``os.fork`` the child opens its own connection.

    Parameters
    ----------
    path : str or Path, optional
        The database file. Default: :func:`default_cache_path`.
    max_mb : float, optional
        Cap on the vectors' stored size in megabytes (10^6 bytes; each row counts its vector
        plus :data:`ROW_OVERHEAD`); past it the least recently used are deleted. Default
        ``$EMBEDCORE_CACHE_MAX_MB``; unset or 0: no cap.
    claim_ttl : float
        Seconds a claim of this caller's lasts unless renewed (see :meth:`claim`).

    Raises
    ------
    ConfigurationError
        The file cannot be opened, or ``max_mb`` / ``$EMBEDCORE_CACHE_MAX_MB`` is not a
        number of megabytes ≥ 0.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_mb: float | None = None,
        claim_ttl: float = CLAIM_TTL,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_cache_path()
        self._init_cap(max_mb, claim_ttl)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._connect()

    def __repr__(self) -> str:
        return f"EmbeddingCache(path={str(self.path)!r})"

    @property
    def max_mb(self) -> float | None:
        return None if self.max_bytes is None else self.max_bytes / 1_000_000

    # --- connection ----------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                return self._conn
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # isolation_level=None: we open transactions ourselves, so a write is one
                # explicit BEGIN IMMEDIATE ... COMMIT and readers never hold a stale snapshot.
                conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA busy_timeout = 30000")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                _create_schema(conn)
            except (OSError, sqlite3.Error) as exc:
                raise ConfigurationError(
                    f"Cannot open the embedding cache at {self.path}: {exc}. "
                    "Set EMBEDCORE_CACHE_DIR to a writable folder."
                ) from exc
            self._conn, self._pid = conn, os.getpid()
            return conn

    def close(self) -> None:
        """Close the connection (a later call reopens it)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the three calls -----------------------------------------------------

    def get_many(self, endpoint_id: str, model: str, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """Cached vectors for those ``texts`` that have one.

        Returns
        -------
        dict of str to ndarray of shape (dimensions,), float32
            Only hits; a text without a vector is simply absent.
        """
        by_key: dict[bytes, str] = {}
        for text in texts:
            by_key.setdefault(text_key(text), text)
        if not by_key:
            return {}
        keys = list(by_key)
        rows: list[tuple[bytes, int, bytes]] = []
        now = time.time()
        stale: list[bytes] = []
        with self._lock:
            conn = self._connect()
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for sha, dims, blob, last_used in conn.execute(
                    "SELECT text_sha, dims, vector, last_used FROM embeddings "
                    f"WHERE endpoint = ? AND model = ? AND text_sha IN ({marks})",
                    (endpoint_id, model, *chunk),
                ):
                    rows.append((sha, dims, blob))
                    if last_used < now - self.touch_every:
                        stale.append(sha)
            if stale:
                self._touch(conn, endpoint_id, model, stale, now)
        # Decode all blobs of one length in a single frombuffer: per-row numpy calls were half
        # the time of a 10k lookup. The rows returned are views of one writable array.
        by_dims: dict[int, list[tuple[bytes, bytes]]] = {}
        for sha, dims, blob in rows:
            if len(blob) == 4 * dims and dims > 0:  # a damaged row is a miss, not a crash
                by_dims.setdefault(dims, []).append((sha, blob))
        found: dict[str, np.ndarray] = {}
        for dims, group in by_dims.items():
            matrix = np.frombuffer(b"".join(b for _, b in group), dtype="<f4").astype(np.float32)
            matrix = matrix.reshape(len(group), dims)
            for (sha, _), row in zip(group, matrix, strict=True):
                found[by_key[sha]] = row
        return found

    def put_many(
        self,
        endpoint_id: str,
        model: str,
        texts: Sequence[str],
        vectors: np.ndarray | Sequence[np.ndarray],
        *,
        release: str | None = None,
    ) -> None:
        """Store (or replace) one vector per text, in one transaction.

        Parameters
        ----------
        texts : sequence of str, length n
        vectors : ndarray of shape (n, dimensions), or n 1-D arrays
            Stored as little-endian float32; NaN or infinite values are refused (InputError).
        release : str, optional
            An owner whose claims on these texts end in the same transaction (see :meth:`claim`):
            whoever waits for them finds the vectors, never a gap.
        """
        checked = _rows_to_store(texts, vectors)
        if not checked:
            return
        now = time.time()
        rows: list[tuple[Any, ...]] = [
            (endpoint_id, model, key, int(vec.shape[0]), vec.tobytes(), now, now) for key, vec in checked
        ]
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT OR REPLACE INTO embeddings "
                    "(endpoint, model, text_sha, dims, vector, created, last_used) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                if release is not None:
                    conn.executemany(
                        "DELETE FROM claims WHERE owner = ? AND endpoint = ? AND model = ? AND text_sha = ?",
                        [(release, endpoint_id, model, key) for key, _ in checked],
                    )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        self._after_write(sum(4 * int(vec.shape[0]) + ROW_OVERHEAD for _, vec in checked))

    def _write(
        self, sql: str, rows: Sequence[tuple[Any, ...]] | tuple[Any, ...], *, many: bool = False
    ) -> int:
        """One statement (or ``executemany``) in its own write transaction; returns rows changed."""
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.executemany(sql, rows) if many else conn.execute(sql, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return int(cur.rowcount)

    def _touch(
        self, conn: sqlite3.Connection, endpoint_id: str, model: str, keys: list[bytes], now: float
    ) -> None:
        """Mark ``keys`` as used now: one UPDATE per chunk of keys (called with the lock held)."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                conn.execute(
                    f"UPDATE embeddings SET last_used = ? WHERE endpoint = ? AND model = ? "
                    f"AND text_sha IN ({','.join('?' * len(chunk))})",
                    (now, endpoint_id, model, *chunk),
                )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # --- claims (see the module's docstring) ----------------------------------

    def claim(
        self, endpoint_id: str, model: str, texts: Iterable[str], *, owner: str, limit: int
    ) -> ClaimResult:
        """Claim for ``owner`` up to ``limit`` of ``texts`` that are neither cached nor claimed.

        One write transaction: the cache and the claims are read together, so a text another
        caller stored and released is seen as stored, never as free. A claim of ``owner``'s own
        or one past its expiry counts as free. ``limit=0`` only looks.

        Returns
        -------
        ClaimResult
        """
        by_key = _distinct_keys(texts)
        now = time.time()
        stored: set[bytes] = set()
        held: dict[bytes, str] = {}
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                keys = list(by_key)
                for start in range(0, len(keys), _CHUNK):
                    chunk = keys[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    where = f"endpoint = ? AND model = ? AND text_sha IN ({marks})"
                    stored.update(
                        sha
                        for (sha,) in conn.execute(
                            f"SELECT text_sha FROM embeddings WHERE {where}", (endpoint_id, model, *chunk)
                        )
                    )
                    held.update(
                        conn.execute(
                            f"SELECT text_sha, owner FROM claims WHERE {where} AND expires > ?",
                            (endpoint_id, model, *chunk, now),
                        ).fetchall()
                    )
                result, claim_keys = _classify(by_key, stored, held, owner, limit)
                conn.executemany(
                    "INSERT OR REPLACE INTO claims (endpoint, model, text_sha, owner, expires) VALUES (?, ?, ?, ?, ?)",
                    [(endpoint_id, model, key, owner, now + self.claim_ttl) for key in claim_keys],
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return result

    def renew(self, owner: str) -> int:
        """Push the expiry of every claim of ``owner`` ``claim_ttl`` seconds ahead; returns how many."""
        return self._write(
            "UPDATE claims SET expires = ? WHERE owner = ?", (time.time() + self.claim_ttl, owner)
        )

    def release(self, endpoint_id: str, model: str, owner: str, texts: Iterable[str] | None = None) -> int:
        """Drop ``owner``'s claims on ``texts`` (all of its claims when None); returns how many."""
        if texts is None:
            return self._write("DELETE FROM claims WHERE owner = ?", (owner,))
        keys = list(_distinct_keys(texts))
        return sum(
            self._write(
                f"DELETE FROM claims WHERE owner = ? AND endpoint = ? AND model = ? "
                f"AND text_sha IN ({','.join('?' * len(keys[i : i + _CHUNK]))})",
                (owner, endpoint_id, model, *keys[i : i + _CHUNK]),
            )
            for i in range(0, len(keys), _CHUNK)
        )

    # --- the cap --------------------------------------------------------------

    def used_bytes(self) -> int:
        """The vectors' stored size as the cap counts it: 4 bytes a dimension plus ROW_OVERHEAD a row."""
        with self._lock:
            (size,) = (
                self._connect()
                .execute(
                    f"SELECT COALESCE(SUM(4 * dims + {ROW_OVERHEAD}), 0) FROM embeddings INDEXED BY embeddings_lru"
                )
                .fetchone()
            )
        return int(size)

    def evict(self) -> int:
        """Delete the least recently used vectors until the cache fits its cap; returns how many.

        One write transaction, so processes evicting at once take turns and the second finds the
        work done. Freed pages are reused by later writes (the file does not shrink; VACUUM does
        that). A no-op without a cap.
        """
        if not self.max_bytes:
            return 0
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                (size,) = conn.execute(
                    f"SELECT COALESCE(SUM(4 * dims + {ROW_OVERHEAD}), 0) FROM embeddings INDEXED BY embeddings_lru"
                ).fetchone()
                excess, doomed = int(size) - self.max_bytes, []
                if excess > 0:
                    rows = conn.execute(
                        f"SELECT rowid, 4 * dims + {ROW_OVERHEAD} FROM embeddings INDEXED BY embeddings_lru "
                        "ORDER BY last_used, rowid"
                    )
                    for rowid, nbytes in rows:
                        if excess <= 0:
                            break
                        doomed.append(rowid)
                        excess -= nbytes
                    rows.close()
                    for start in range(0, len(doomed), _CHUNK):
                        chunk = doomed[start : start + _CHUNK]
                        conn.execute(
                            f"DELETE FROM embeddings WHERE rowid IN ({','.join('?' * len(chunk))})", chunk
                        )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return len(doomed)

    def clear(self, endpoint_id: str | None = None, model: str | None = None) -> int:
        """Delete cached vectors: all of them, or those of one endpoint and/or one model.

        Returns
        -------
        int
            Number of vectors deleted.
        """
        where, params = [], []
        if endpoint_id is not None:
            where.append("endpoint = ?")
            params.append(endpoint_id)
        if model is not None:
            where.append("model = ?")
            params.append(model)
        sql = "DELETE FROM embeddings" + (" WHERE " + " AND ".join(where) if where else "")
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                deleted = conn.execute(sql, params).rowcount
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return int(deleted)

    def count(self, endpoint_id: str, model: str) -> int:
        """Number of vectors cached for one endpoint and model (an index lookup, cheap per rerun)."""
        with self._lock:
            conn = self._connect()
            (n,) = conn.execute(
                "SELECT COUNT(*) FROM embeddings WHERE endpoint = ? AND model = ?", (endpoint_id, model)
            ).fetchone()
        return int(n)

    def stats(self) -> dict[str, Any]:
        """What the cache holds.

        Returns
        -------
        dict
            ``entries`` (int), ``bytes`` (size on disk, WAL included), ``path`` (str),
            ``models`` (list of dicts: ``endpoint_id``, ``model``, ``entries``, ``dimensions``).
        """
        with self._lock:
            conn = self._connect()
            rows = conn.execute(
                "SELECT endpoint, model, COUNT(*), MAX(dims) FROM embeddings "
                "GROUP BY endpoint, model ORDER BY endpoint, model"
            ).fetchall()
        size = sum(os.path.getsize(p) for p in (self.path, Path(f"{self.path}-wal")) if os.path.exists(p))
        return {
            "entries": sum(r[2] for r in rows),
            "bytes": size,
            "max_bytes": self.max_bytes,
            "path": str(self.path),
            "models": [
                {"endpoint_id": e, "model": m, "entries": int(n), "dimensions": int(d)} for e, m, n, d in rows
            ],
        }


#: Keys per ``= ANY(%s)`` lookup: one round trip each, small enough for the planner to use the key.
_PG_CHUNK = 5000


#: Server time in seconds, for claims and ``last_used``: replicas' clocks may disagree, the server's is one.
_PG_NOW = "EXTRACT(EPOCH FROM clock_timestamp())"
#: Each key's state (stored / busy / claimed / free), claiming the first ``limit`` free ones in
#: the order given. One statement, one snapshot: a text stored and released is seen as stored.
_PG_CLAIM = f"""
WITH k AS (
    SELECT u.sha, u.ord FROM unnest(%(keys)s::bytea[]) WITH ORDINALITY AS u(sha, ord)
), s AS (
    SELECT k.sha, k.ord,
           CASE WHEN e.text_sha IS NOT NULL THEN 'stored'
                WHEN c.owner IS NOT NULL AND c.owner <> %(owner)s THEN 'busy'
                ELSE 'free' END AS state
    FROM k
    LEFT JOIN embedcore_embeddings e
           ON e.endpoint = %(endpoint)s AND e.model = %(model)s AND e.text_sha = k.sha
    LEFT JOIN embedcore_claims c
           ON c.endpoint = %(endpoint)s AND c.model = %(model)s AND c.text_sha = k.sha
          AND c.expires > {_PG_NOW}
), r AS (
    SELECT sha, CASE WHEN state = 'free' AND row_number() OVER (PARTITION BY state ORDER BY ord) <= %(limit)s
                     THEN 'claimed' ELSE state END AS state
    FROM s
), taken AS (
    INSERT INTO embedcore_claims (endpoint, model, text_sha, owner, expires)
    SELECT %(endpoint)s, %(model)s, sha, %(owner)s, {_PG_NOW} + %(ttl)s FROM r WHERE state = 'claimed' ORDER BY sha
    ON CONFLICT (endpoint, model, text_sha) DO UPDATE SET owner = EXCLUDED.owner, expires = EXCLUDED.expires
)
SELECT sha, state FROM r
"""
#: Advisory lock keys (63-bit, arbitrary) serialising claims per (endpoint, model), and eviction.
_PG_CLAIM_LOCK = "hashtextextended(%s, 6582856396733)"
_PG_EVICT_LOCK = 0x656D6264657669  # "embdevi"


class PostgresEmbeddingCache(_Capped, DatabaseBacked):
    """Vectors by endpoint, model and text, in a PostgreSQL table shared by every process using it.

    Same calls and behaviour as :class:`EmbeddingCache`. Each ``put_many`` is one transaction, so
    a connection lost mid-run loses no batch that was already stored. Rows are written in key
    order, and marking hits as used or evicting skips rows another transaction holds
    (``SKIP LOCKED``), so processes writing overlapping batches at once cannot deadlock.

    Parameters
    ----------
    database : Database or str
        A :class:`embedcore.stores.database.Database`, or its URL (then this cache opens and owns one).
    max_mb, claim_ttl
        As for :class:`EmbeddingCache`. Every process sharing the database should be given the
        same cap: each evicts down to its own.
    """

    def __init__(self, database, *, max_mb: float | None = None, claim_ttl: float = CLAIM_TTL) -> None:
        self._init_cap(max_mb, claim_ttl)
        super().__init__(database)

    @property
    def max_mb(self) -> float | None:
        return None if self.max_bytes is None else self.max_bytes / 1_000_000

    def get_many(self, endpoint_id: str, model: str, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """Cached vectors for those ``texts`` that have one (see :meth:`EmbeddingCache.get_many`)."""
        by_key: dict[bytes, str] = {}
        for text in texts:
            by_key.setdefault(text_key(text), text)
        if not by_key:
            return {}
        keys = list(by_key)
        found: dict[str, np.ndarray] = {}
        stale: list[bytes] = []
        with self.database.connection() as conn, conn.cursor(binary=True) as cur:
            for start in range(0, len(keys), _PG_CHUNK):
                cur.execute(
                    f"SELECT text_sha, vector, last_used < {_PG_NOW} - %s FROM embedcore_embeddings "
                    "WHERE endpoint = %s AND model = %s AND text_sha = ANY(%s)",
                    (self.touch_every, endpoint_id, model, keys[start : start + _PG_CHUNK]),
                )
                for sha, vector, is_stale in cur:
                    found[by_key[bytes(sha)]] = vector.to_numpy()
                    if is_stale:
                        stale.append(bytes(sha))
            if stale:
                # Rows another transaction holds (written, touched or evicted right now) are
                # skipped rather than waited for: a lookup never blocks on, or deadlocks with, them.
                cur.execute(
                    f"UPDATE embedcore_embeddings e SET last_used = {_PG_NOW} FROM ("
                    "SELECT endpoint, model, text_sha FROM embedcore_embeddings "
                    "WHERE endpoint = %s AND model = %s AND text_sha = ANY(%s) "
                    "ORDER BY text_sha FOR UPDATE SKIP LOCKED) s "
                    "WHERE e.endpoint = s.endpoint AND e.model = s.model AND e.text_sha = s.text_sha",
                    (endpoint_id, model, sorted(stale)),
                )
        return found

    def put_many(
        self,
        endpoint_id: str,
        model: str,
        texts: Sequence[str],
        vectors: np.ndarray | Sequence[np.ndarray],
        *,
        release: str | None = None,
    ) -> None:
        """Store (or replace) one vector per text, in one transaction (see :meth:`EmbeddingCache.put_many`)."""
        checked = sorted(_rows_to_store(texts, vectors), key=lambda row: row[0])
        if not checked:
            return
        now = time.time()
        with self.database.connection() as conn, conn.pipeline(), conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO embedcore_embeddings (endpoint, model, text_sha, dims, vector, created, last_used) "
                f"VALUES (%s, %s, %s, %s, %s, %s, {_PG_NOW}) ON CONFLICT (endpoint, model, text_sha) DO UPDATE "
                "SET dims = EXCLUDED.dims, vector = EXCLUDED.vector, created = EXCLUDED.created, "
                "last_used = EXCLUDED.last_used",
                [(endpoint_id, model, key, int(vec.shape[0]), vec, now) for key, vec in checked],
            )
            if release is not None:
                cur.execute(
                    "DELETE FROM embedcore_claims WHERE owner = %s AND endpoint = %s AND model = %s "
                    "AND text_sha = ANY(%s)",
                    (release, endpoint_id, model, [key for key, _ in checked]),
                )
        self._after_write(sum(4 * int(vec.shape[0]) + ROW_OVERHEAD for _, vec in checked))

    # --- claims (see the module's docstring and EmbeddingCache.claim) ---------

    def claim(
        self, endpoint_id: str, model: str, texts: Iterable[str], *, owner: str, limit: int
    ) -> ClaimResult:
        """Claim for ``owner`` up to ``limit`` of ``texts`` neither cached nor claimed (see
        :meth:`EmbeddingCache.claim`).

        One transaction under an advisory lock per endpoint and model, so callers take turns and
        each gets whole batches rather than the scraps of a race; the cache and the claims are
        read in one statement (one snapshot). Times are the server's.
        """
        by_key = _distinct_keys(texts)
        params = {
            "keys": list(by_key),
            "endpoint": endpoint_id,
            "model": model,
            "owner": owner,
            "limit": int(limit),
            "ttl": self.claim_ttl,
        }
        # Lock, look, decide and claim in one round trip (pipeline mode), the decision made in
        # SQL: a claim sits between every batch of every replica, and round trips add up.
        with self.database.connection() as conn:
            with conn.pipeline(), conn.transaction():
                conn.execute(f"SELECT pg_advisory_xact_lock({_PG_CLAIM_LOCK})", (f"{endpoint_id}\n{model}",))
                cur = conn.execute(_PG_CLAIM, params)
            states = {bytes(sha): state for sha, state in cur.fetchall()}
        result = ClaimResult()
        for key, text in by_key.items():
            getattr(result, states[key]).append(text)
        return result

    def renew(self, owner: str) -> int:
        """Push the expiry of every claim of ``owner`` ``claim_ttl`` seconds ahead; returns how many."""
        with self.database.connection() as conn:
            return int(
                conn.execute(
                    f"UPDATE embedcore_claims SET expires = {_PG_NOW} + %s WHERE owner = %s",
                    (self.claim_ttl, owner),
                ).rowcount
            )

    def release(self, endpoint_id: str, model: str, owner: str, texts: Iterable[str] | None = None) -> int:
        """Drop ``owner``'s claims on ``texts`` (all of its claims when None); returns how many."""
        with self.database.connection() as conn:
            if texts is None:
                return int(conn.execute("DELETE FROM embedcore_claims WHERE owner = %s", (owner,)).rowcount)
            return int(
                conn.execute(
                    "DELETE FROM embedcore_claims WHERE owner = %s AND endpoint = %s AND model = %s "
                    "AND text_sha = ANY(%s)",
                    (owner, endpoint_id, model, list(_distinct_keys(texts))),
                ).rowcount
            )

    # --- the cap --------------------------------------------------------------

    def used_bytes(self) -> int:
        """The vectors' stored size as the cap counts it (see :meth:`EmbeddingCache.used_bytes`)."""
        with self.database.connection() as conn:
            (size,) = conn.execute(
                f"SELECT COALESCE(SUM(4 * dims::bigint + {ROW_OVERHEAD}), 0) FROM embedcore_embeddings"
            ).fetchone()
        return int(size)

    def evict(self) -> int:
        """Delete the least recently used vectors until the cache fits its cap; returns how many.

        Under an advisory lock, so replicas evicting at once take turns (the second finds the work
        done); rows other transactions hold are skipped, not waited for. Deleted rows' space is
        reused by later writes once autovacuum has been by.
        """
        if not self.max_bytes:
            return 0
        removed = 0
        with self.database.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_EVICT_LOCK,))
            (size,) = conn.execute(
                f"SELECT COALESCE(SUM(4 * dims::bigint + {ROW_OVERHEAD}), 0) FROM embedcore_embeddings"
            ).fetchone()
            excess = int(size) - self.max_bytes
            while excess > 0:
                rows = conn.execute(
                    f"SELECT endpoint, model, text_sha, 4 * dims + {ROW_OVERHEAD} FROM embedcore_embeddings "
                    "ORDER BY last_used, text_sha LIMIT 1000 FOR UPDATE SKIP LOCKED"
                ).fetchall()
                doomed = []
                for endpoint, model, sha, nbytes in rows:
                    if excess <= 0:
                        break
                    doomed.append((endpoint, model, sha))
                    excess -= nbytes
                if not doomed:
                    break
                with conn.cursor() as cur:
                    cur.executemany(
                        "DELETE FROM embedcore_embeddings WHERE endpoint = %s AND model = %s AND text_sha = %s",
                        doomed,
                    )
                removed += len(doomed)
        return removed

    def clear(self, endpoint_id: str | None = None, model: str | None = None) -> int:
        """Delete cached vectors: all, or those of one endpoint and/or model; returns how many."""
        where, params = [], []
        if endpoint_id is not None:
            where.append("endpoint = %s")
            params.append(endpoint_id)
        if model is not None:
            where.append("model = %s")
            params.append(model)
        sql = "DELETE FROM embedcore_embeddings" + (" WHERE " + " AND ".join(where) if where else "")
        with self.database.transaction() as conn:
            return int(conn.execute(sql, params).rowcount)

    def count(self, endpoint_id: str, model: str) -> int:
        """Number of vectors cached for one endpoint and model."""
        with self.database.connection() as conn:
            (n,) = conn.execute(
                "SELECT COUNT(*) FROM embedcore_embeddings WHERE endpoint = %s AND model = %s",
                (endpoint_id, model),
            ).fetchone()
        return int(n)

    def stats(self) -> dict[str, Any]:
        """What the cache holds, as :meth:`EmbeddingCache.stats`; ``path`` is the redacted URL and
        ``bytes`` the table's size with its indexes."""
        with self.database.connection() as conn:
            rows = conn.execute(
                "SELECT endpoint, model, COUNT(*), MAX(dims) FROM embedcore_embeddings "
                'GROUP BY endpoint, model ORDER BY endpoint COLLATE "C", model COLLATE "C"'
            ).fetchall()
            (size,) = conn.execute("SELECT pg_total_relation_size('embedcore_embeddings')").fetchone()
        return {
            "entries": sum(int(r[2]) for r in rows),
            "bytes": int(size),
            "max_bytes": self.max_bytes,
            "path": self.path,
            "models": [
                {"endpoint_id": e, "model": m, "entries": int(n), "dimensions": int(d)} for e, m, n, d in rows
            ],
        }


class SeededCache:
    """A cache that, on a miss, also looks in a *seed*: vectors the same model made at install time.

    ``python -m embedcore prepare --samples`` embeds the built-in sample sets with the bundled
    model into a small SQLite file beside the prepared models; a new user's empty cache then
    answers the default page without loading torch (the first map no longer waits ~5 s for
    the model). The seed is only read; hits are copied into ``cache`` so that counts and
    clearing behave as for any other cached text. Everything else is ``cache``'s.

    Parameters
    ----------
    cache : EmbeddingCache or PostgresEmbeddingCache
    seed : EmbeddingCache
        Written by :func:`embedcore.providers.prepare.build_sample_seed`.
    """

    def __init__(self, cache, seed: EmbeddingCache) -> None:
        self.cache = cache
        self.seed = seed
        # The seed is only read: its hits are never marked as used (it has no cap, and may sit
        # on a read-only disk); the copies made in ``cache`` are.
        seed.touch_every = math.inf

    def __repr__(self) -> str:
        return f"SeededCache({self.cache!r}, seed={self.seed!r})"

    def __getattr__(self, name: str):
        return getattr(self.cache, name)

    def get_many(self, endpoint_id: str, model: str, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """:meth:`EmbeddingCache.get_many` of ``cache``, then of the seed for what it lacks."""
        texts = list(texts)
        found = self.cache.get_many(endpoint_id, model, texts)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            seeded = self.seed.get_many(endpoint_id, model, missing)
            if seeded:
                keys = list(seeded)
                self.cache.put_many(endpoint_id, model, keys, np.stack([seeded[k] for k in keys]))
                found.update(seeded)
        return found
