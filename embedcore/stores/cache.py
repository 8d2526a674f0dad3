"""A persistent store of embedding vectors, so no text is ever paid for twice.

Vectors are keyed by ``(endpoint_id, model, sha256(text))``. The text itself is not
stored — only its hash — and neither is any API key: the endpoint id is a normalised
URL without credentials.

Two stores behind the same calls (``get_many``, ``put_many``, ``count``, ``clear``, ``stats``,
``usage``, and ``claim`` / ``renew`` / ``release`` for :mod:`embedcore.providers.pipeline`):

* :class:`EmbeddingCache` — one SQLite file (WAL mode), the default: it ships with Python,
  needs no setting up, and several processes on one machine can share the file safely.
* :class:`~embedcore.stores.pg_cache.PostgresEmbeddingCache` — a table in PostgreSQL (pgvector
  ``vector`` column), for a team: several app replicas on several machines share one cache.
  Chosen by ``EMBEDCORE_DATABASE_URL`` (see :func:`embedcore.stores.storage.open_stores`).

What both share is :mod:`embedcore.stores.cache_rules`; the calls they answer are the
:class:`~embedcore.stores.protocols.VectorCache` protocol.

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

import math
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedcore.stores.cache_rules import (
    CACHE_FILENAME,
    CACHE_MAX_MB_ENV,
    CLAIM_TTL,
    ROW_OVERHEAD,
    CappedCache,
    ClaimResult,
    classify_claims,
    default_cache_path,
    distinct_keys,
    filter_clause,
    parse_max_mb,
    rows_to_store,
    stats_of,
    text_key,
)
from embedcore.stores.pg_cache import PostgresEmbeddingCache
from embedcore.stores.sqlite import SQLiteBacked, SQLiteFile, immediate

__all__ = [
    "CACHE_FILENAME",
    "CACHE_MAX_MB_ENV",
    "ROW_OVERHEAD",
    "ClaimResult",
    "EmbeddingCache",
    "PostgresEmbeddingCache",
    "SeededCache",
    "default_cache_path",
    "parse_max_mb",
    "text_key",
]

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


def _create_schema(conn: sqlite3.Connection) -> None:
    """Tables and indexes, and ``last_used`` added to a file from before it, in one write
    transaction: processes opening an old file at once take turns, and the second finds it done.
    A file that has it all is only read (a read-only seed file stays openable)."""
    names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    if {"embeddings", "embeddings_lru", "claims", "claims_by_owner"} <= names:
        return
    with immediate(conn):
        conn.execute(_SCHEMA)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(embeddings)")}
        if "last_used" not in columns:
            for statement in _LAST_USED:
                conn.execute(statement)
        for statement in (_LRU_INDEX, _CLAIMS, _CLAIMS_INDEX):
            conn.execute(statement)


def _marks(keys: Sequence[Any]) -> str:
    return ",".join("?" * len(keys))


def _chunks(keys: list[bytes]) -> Iterable[list[bytes]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start : start + _CHUNK]


_SIZE = f"SELECT COALESCE(SUM(4 * dims + {ROW_OVERHEAD}), 0) FROM embeddings INDEXED BY embeddings_lru"


class EmbeddingCache(CappedCache, SQLiteBacked):
    """Vectors by endpoint, model and text, in one SQLite file.

    Safe to share between threads and processes (:class:`embedcore.stores.sqlite.SQLiteFile`:
    one connection behind a lock, WAL journal, 30 s busy timeout, reopened after ``os.fork``).

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

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> cache = EmbeddingCache(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite3")
    >>> cache.put_many("local:", "toy", ["a", "b"], np.eye(2, dtype=np.float32))
    >>> sorted(cache.get_many("local:", "toy", ["a", "b", "c"])), cache.count("local:", "toy")
    (['a', 'b'], 2)
    >>> cache.close()
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
        self.db = SQLiteFile(self.path, what="the embedding cache", setup=_create_schema)
        self.db.connect()

    def __repr__(self) -> str:
        return f"EmbeddingCache(path={str(self.path)!r})"

    # --- the three calls -----------------------------------------------------

    def get_many(self, endpoint_id: str, model: str, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """Cached vectors for those ``texts`` that have one.

        Returns
        -------
        dict of str to ndarray of shape (dimensions,), float32
            Only hits; a text without a vector is simply absent.
        """
        by_key = distinct_keys(texts)
        if not by_key:
            return {}
        rows: list[tuple[bytes, int, bytes]] = []
        now = time.time()
        stale: list[bytes] = []
        with self.db.lock:
            conn = self.db.connect()
            for chunk in _chunks(list(by_key)):
                for sha, dims, blob, last_used in conn.execute(
                    "SELECT text_sha, dims, vector, last_used FROM embeddings "
                    f"WHERE endpoint = ? AND model = ? AND text_sha IN ({_marks(chunk)})",
                    (endpoint_id, model, *chunk),
                ):
                    rows.append((sha, dims, blob))
                    if last_used < now - self.touch_every:
                        stale.append(sha)
            if stale:
                # Mark them as used now: one UPDATE per chunk of keys.
                with immediate(conn):
                    for chunk in _chunks(stale):
                        conn.execute(
                            "UPDATE embeddings SET last_used = ? WHERE endpoint = ? AND model = ? "
                            f"AND text_sha IN ({_marks(chunk)})",
                            (now, endpoint_id, model, *chunk),
                        )
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
        checked = rows_to_store(texts, vectors)
        if not checked:
            return
        now = time.time()
        rows = [(endpoint_id, model, key, int(vec.shape[0]), vec.tobytes(), now, now) for key, vec in checked]

        def work(conn: sqlite3.Connection) -> None:
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

        self.db.write(work)
        self._after_write(sum(4 * int(vec.shape[0]) + ROW_OVERHEAD for _, vec in checked))

    def _write(self, sql: str, params: tuple[Any, ...] | list[Any]) -> int:
        """One statement in its own write transaction; returns rows changed."""
        return int(self.db.write(lambda conn: conn.execute(sql, params).rowcount))

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
        by_key = distinct_keys(texts)
        now = time.time()

        def work(conn: sqlite3.Connection) -> ClaimResult:
            stored: set[bytes] = set()
            held: dict[bytes, str] = {}
            for chunk in _chunks(list(by_key)):
                where = f"endpoint = ? AND model = ? AND text_sha IN ({_marks(chunk)})"
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
            result, claim_keys = classify_claims(by_key, stored, held, owner, limit)
            conn.executemany(
                "INSERT OR REPLACE INTO claims (endpoint, model, text_sha, owner, expires) VALUES (?, ?, ?, ?, ?)",
                [(endpoint_id, model, key, owner, now + self.claim_ttl) for key in claim_keys],
            )
            return result

        return self.db.write(work)

    def renew(self, owner: str) -> int:
        """Push the expiry of every claim of ``owner`` ``claim_ttl`` seconds ahead; returns how many."""
        return self._write(
            "UPDATE claims SET expires = ? WHERE owner = ?", (time.time() + self.claim_ttl, owner)
        )

    def release(self, endpoint_id: str, model: str, owner: str, texts: Iterable[str] | None = None) -> int:
        """Drop ``owner``'s claims on ``texts`` (all of its claims when None); returns how many."""
        if texts is None:
            return self._write("DELETE FROM claims WHERE owner = ?", (owner,))
        return sum(
            self._write(
                f"DELETE FROM claims WHERE owner = ? AND endpoint = ? AND model = ? AND text_sha IN ({_marks(chunk)})",
                (owner, endpoint_id, model, *chunk),
            )
            for chunk in _chunks(list(distinct_keys(texts)))
        )

    # --- the cap --------------------------------------------------------------

    def used_bytes(self) -> int:
        """The vectors' stored size as the cap counts it: 4 bytes a dimension plus ROW_OVERHEAD a row."""
        return int(self.db.read(lambda conn: conn.execute(_SIZE).fetchone()[0]))

    def evict(self) -> int:
        """Delete the least recently used vectors until the cache fits its cap; returns how many.

        One write transaction, so processes evicting at once take turns and the second finds the
        work done. Freed pages are reused by later writes (the file does not shrink; VACUUM does
        that). A no-op without a cap.
        """
        if not self.max_bytes:
            return 0
        cap = self.max_bytes

        def work(conn: sqlite3.Connection) -> int:
            (size,) = conn.execute(_SIZE).fetchone()
            excess, doomed = int(size) - cap, []
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
                for chunk in _chunks(doomed):
                    conn.execute(f"DELETE FROM embeddings WHERE rowid IN ({_marks(chunk)})", chunk)
            return len(doomed)

        return self.db.write(work)

    def clear(self, endpoint_id: str | None = None, model: str | None = None) -> int:
        """Delete cached vectors: all of them, or those of one endpoint and/or one model.

        Returns
        -------
        int
            Number of vectors deleted.
        """
        where, params = filter_clause(endpoint_id, model, "?")
        return self._write("DELETE FROM embeddings" + where, params)

    def count(self, endpoint_id: str, model: str) -> int:
        """Number of vectors cached for one endpoint and model (an index lookup, cheap per rerun)."""
        sql = "SELECT COUNT(*) FROM embeddings WHERE endpoint = ? AND model = ?"
        return int(self.db.read(lambda conn: conn.execute(sql, (endpoint_id, model)).fetchone()[0]))

    def stats(self) -> dict[str, Any]:
        """What the cache holds.

        Returns
        -------
        dict
            ``entries`` (int), ``bytes`` (size on disk, WAL included), ``max_bytes``, ``path``
            (str), ``models`` (list of dicts: ``endpoint_id``, ``model``, ``entries``, ``dimensions``).
        """
        rows = self.db.read(
            lambda conn: conn.execute(
                "SELECT endpoint, model, COUNT(*), MAX(dims) FROM embeddings "
                "GROUP BY endpoint, model ORDER BY endpoint, model"
            ).fetchall()
        )
        size = sum(os.path.getsize(p) for p in (self.path, Path(f"{self.path}-wal")) if os.path.exists(p))
        return stats_of(rows, size=size, max_bytes=self.max_bytes, path=str(self.path))


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
        Written by :func:`embedcore.providers.sample_seed.build_sample_seed`.
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
