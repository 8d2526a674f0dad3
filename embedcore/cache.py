"""A persistent store of embedding vectors, so no text is ever paid for twice.

Vectors are keyed by ``(endpoint_id, model, sha256(text))``. The text itself is not
stored — only its hash — and neither is any API key: the endpoint id is a normalised
URL without credentials.

Two stores behind the same calls (``get_many``, ``put_many``, ``count``, ``clear``, ``stats``):

* :class:`EmbeddingCache` — one SQLite file (WAL mode), the default: it ships with Python,
  needs no setting up, and several processes on one machine can share the file safely.
* :class:`PostgresEmbeddingCache` — a table in PostgreSQL (pgvector ``vector`` column), for
  a team: several app replicas on several machines share one cache. Chosen by
  ``EMBEDCORE_DATABASE_URL`` (see :func:`embedcore.storage.open_cache`).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .database import DatabaseBacked
from .errors import ConfigurationError, InputError

if TYPE_CHECKING:
    pass

__all__ = ["CACHE_FILENAME", "EmbeddingCache", "PostgresEmbeddingCache", "default_cache_path", "text_key"]

CACHE_FILENAME = "embeddings.sqlite3"

# A rowid table with a unique index, not WITHOUT ROWID: rows carry 1-4 KiB blobs, and SQLite's
# own advice (and our measurement: 10k lookups 0.35 s vs ~0.05 s) is to keep big rows out of the
# key b-tree.

#: Host parameters per ``IN (...)`` query; below SQLite's historic limit of 999.
_CHUNK = 900

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    endpoint TEXT NOT NULL,
    model    TEXT NOT NULL,
    text_sha BLOB NOT NULL,
    dims     INTEGER NOT NULL,
    vector   BLOB NOT NULL,
    created  REAL NOT NULL,
    UNIQUE (endpoint, model, text_sha)
)
"""


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


class EmbeddingCache:
    """Vectors by endpoint, model and text, in one SQLite file.

    Safe to share between threads (one connection guarded by a lock — lookups take
    milliseconds, so a pool would buy nothing) and between processes (WAL journal,
    30 s busy timeout). After ``os.fork`` the child opens its own connection.

    Parameters
    ----------
    path : str or Path, optional
        The database file. Default: :func:`default_cache_path`.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_cache_path()
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._connect()

    def __repr__(self) -> str:
        return f"EmbeddingCache(path={str(self.path)!r})"

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
                conn.execute(_SCHEMA)
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
        with self._lock:
            conn = self._connect()
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows += conn.execute(
                    "SELECT text_sha, dims, vector FROM embeddings "
                    f"WHERE endpoint = ? AND model = ? AND text_sha IN ({marks})",
                    (endpoint_id, model, *chunk),
                ).fetchall()
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
    ) -> None:
        """Store (or replace) one vector per text, in one transaction.

        Parameters
        ----------
        texts : sequence of str, length n
        vectors : ndarray of shape (n, dimensions), or n 1-D arrays
            Stored as little-endian float32; NaN or infinite values are refused (InputError).
        """
        checked = _rows_to_store(texts, vectors)
        if not checked:
            return
        now = time.time()
        rows: list[tuple[Any, ...]] = [
            (endpoint_id, model, key, int(vec.shape[0]), vec.tobytes(), now) for key, vec in checked
        ]
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT OR REPLACE INTO embeddings "
                    "(endpoint, model, text_sha, dims, vector, created) VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

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
            "path": str(self.path),
            "models": [
                {"endpoint_id": e, "model": m, "entries": int(n), "dimensions": int(d)} for e, m, n, d in rows
            ],
        }


#: Keys per ``= ANY(%s)`` lookup: one round trip each, small enough for the planner to use the key.
_PG_CHUNK = 5000


class PostgresEmbeddingCache(DatabaseBacked):
    """Vectors by endpoint, model and text, in a PostgreSQL table shared by every process using it.

    Same calls and behaviour as :class:`EmbeddingCache`. Each ``put_many`` is one transaction, so
    a connection lost mid-run loses no batch that was already stored. Rows are written in key
    order, so processes writing overlapping batches at once cannot deadlock.

    Parameters
    ----------
    database : Database or str
        A :class:`embedcore.database.Database`, or its URL (then this cache opens and owns one).
    """

    def get_many(self, endpoint_id: str, model: str, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """Cached vectors for those ``texts`` that have one (see :meth:`EmbeddingCache.get_many`)."""
        by_key: dict[bytes, str] = {}
        for text in texts:
            by_key.setdefault(text_key(text), text)
        if not by_key:
            return {}
        keys = list(by_key)
        found: dict[str, np.ndarray] = {}
        with self.database.connection() as conn, conn.cursor(binary=True) as cur:
            for start in range(0, len(keys), _PG_CHUNK):
                cur.execute(
                    "SELECT text_sha, vector FROM embedcore_embeddings "
                    "WHERE endpoint = %s AND model = %s AND text_sha = ANY(%s)",
                    (endpoint_id, model, keys[start : start + _PG_CHUNK]),
                )
                for sha, vector in cur:
                    found[by_key[bytes(sha)]] = vector.to_numpy()
        return found

    def put_many(
        self,
        endpoint_id: str,
        model: str,
        texts: Sequence[str],
        vectors: np.ndarray | Sequence[np.ndarray],
    ) -> None:
        """Store (or replace) one vector per text, in one transaction (see :meth:`EmbeddingCache.put_many`)."""
        checked = sorted(_rows_to_store(texts, vectors), key=lambda row: row[0])
        if not checked:
            return
        now = time.time()
        with self.database.transaction() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO embedcore_embeddings (endpoint, model, text_sha, dims, vector, created) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (endpoint, model, text_sha) DO UPDATE "
                "SET dims = EXCLUDED.dims, vector = EXCLUDED.vector, created = EXCLUDED.created",
                [(endpoint_id, model, key, int(vec.shape[0]), vec, now) for key, vec in checked],
            )

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
        Written by :func:`embedcore.prepare.build_sample_seed`.
    """

    def __init__(self, cache, seed: EmbeddingCache) -> None:
        self.cache = cache
        self.seed = seed

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
