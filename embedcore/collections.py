"""Named, persistent document collections for semantic search.

A collection is a set of chunks (see :mod:`embedcore.chunking`) with one vector
each, made by one model at one endpoint. It lives in ``collections.sqlite3`` beside
the embedding cache (``$EMBEDCORE_CACHE_DIR`` or the user cache dir), so a search
page can be closed and reopened without embedding anything again.

The collection records which endpoint and model made its vectors: a query must be
embedded by the same model, and :meth:`CollectionStore.add_chunks` refuses vectors
of another width. API keys are never stored (endpoint ids with credentials are refused).

Connection handling follows :class:`embedcore.cache.EmbeddingCache`: one connection
behind a lock, WAL journal, explicit ``BEGIN IMMEDIATE`` transactions, reopened after fork.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from .chunking import Chunk
from .errors import ConfigurationError, InputError

__all__ = [
    "COLLECTIONS_FILENAME",
    "MAX_NAME_LENGTH",
    "CollectionInfo",
    "CollectionStore",
    "default_collections_path",
]

COLLECTIONS_FILENAME = "collections.sqlite3"
MAX_NAME_LENGTH = 100

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS collections (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        endpoint_id TEXT NOT NULL,
        model       TEXT NOT NULL,
        chunk_size  INTEGER NOT NULL,
        overlap     INTEGER NOT NULL,
        dims        INTEGER,
        created     REAL NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS chunks (
        collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
        seq           INTEGER NOT NULL,
        source        TEXT NOT NULL,
        chunk_index   INTEGER NOT NULL,
        start         INTEGER NOT NULL,
        "end"         INTEGER NOT NULL,
        text          TEXT NOT NULL,
        vector        BLOB NOT NULL,
        PRIMARY KEY (collection_id, seq)
    )
    """,
    "CREATE INDEX IF NOT EXISTS chunks_by_source ON chunks (collection_id, source)",
)


def default_collections_path() -> Path:
    """``collections.sqlite3`` in the embedding cache's directory."""
    from .cache import default_cache_path

    return default_cache_path().parent / COLLECTIONS_FILENAME


@dataclass(frozen=True)
class CollectionInfo:
    """What the collection list shows.

    Attributes
    ----------
    name, endpoint_id, model : str
        ``endpoint_id`` and ``model`` made the vectors; embed queries with the same.
    chunk_size, overlap : int
        The chunking settings the collection was created with (in words).
    n_documents : int
        Distinct chunk sources (file names).
    n_chunks : int
    dims : int or None
        Vector width; None until the first chunks are added.
    created : datetime
        When the collection was created, UTC.
    """

    name: str
    endpoint_id: str
    model: str
    chunk_size: int
    overlap: int
    n_documents: int
    n_chunks: int
    dims: int | None
    created: datetime


def _check_name(name: object) -> str:
    """The collection name as stored: NFC-normalised, surrounding spaces removed."""
    if not isinstance(name, str):
        raise InputError(f"A collection name must be text, not {type(name).__name__}.")
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise InputError("A collection name cannot be empty.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InputError(
            f"A collection name can have at most {MAX_NAME_LENGTH} characters, not {len(cleaned)}."
        )
    if any(unicodedata.category(c) == "Cc" for c in cleaned):
        raise InputError("A collection name cannot contain control characters (tabs, line breaks).")
    return cleaned


def _check_endpoint(endpoint_id: object) -> str:
    if not isinstance(endpoint_id, str) or not endpoint_id.strip():
        raise InputError("A collection needs the endpoint id that made its vectors.")
    try:
        parts = urlsplit(endpoint_id)
        has_credentials = bool(parts.username or parts.password)
    except ValueError:
        has_credentials = False
    if has_credentials:
        # Collections are files people copy around; a key must never end up in one.
        raise InputError(
            "The endpoint id contains credentials; pass the provider's endpoint_id, not a URL with a key."
        )
    return endpoint_id


class CollectionStore:
    """Named collections of chunks and their vectors, in one SQLite file.

    Safe to share between threads and processes, like the embedding cache.

    Parameters
    ----------
    path : str or Path, optional
        The database file. Default: :func:`default_collections_path`.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_collections_path()
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._connect()

    def __repr__(self) -> str:
        return f"CollectionStore(path={str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                return self._conn
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA busy_timeout = 30000")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
                for statement in _SCHEMA:
                    conn.execute(statement)
            except (OSError, sqlite3.Error) as exc:
                raise ConfigurationError(
                    f"Cannot open the collection store at {self.path}: {exc}. "
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

    def __enter__(self) -> CollectionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, work):
        """Run ``work(conn)`` inside one write transaction and return its result."""
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    @staticmethod
    def _row(conn: sqlite3.Connection, name: str) -> tuple:
        row = conn.execute(
            "SELECT id, endpoint_id, model, dims FROM collections WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            raise InputError(f"There is no collection called {name!r}.")
        return row

    # --- collections ---------------------------------------------------------------------

    def create(
        self, name: str, *, endpoint_id: str, model: str, chunk_size: int, overlap: int
    ) -> CollectionInfo:
        """Create an empty collection.

        Raises
        ------
        InputError
            Invalid name or settings, or a collection of that name exists already.
        """
        name = _check_name(name)
        endpoint_id = _check_endpoint(endpoint_id)
        if not isinstance(model, str) or not model.strip():
            raise InputError("A collection needs the model that makes its vectors.")
        for label, value, least in (("chunk size", chunk_size, 1), ("overlap", overlap, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InputError(f"The {label} must be a whole number of at least {least}, not {value!r}.")
        if overlap >= chunk_size:
            raise InputError(f"Overlap ({overlap}) must be smaller than the chunk size ({chunk_size}).")

        def work(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM collections WHERE name = ?", (name,)).fetchone():
                raise InputError(
                    f"A collection called {name!r} exists already; pick another name or delete it."
                )
            conn.execute(
                "INSERT INTO collections (name, endpoint_id, model, chunk_size, overlap, dims, created) "
                "VALUES (?, ?, ?, ?, ?, NULL, ?)",
                (name, endpoint_id, model, chunk_size, overlap, time.time()),
            )

        self._write(work)
        return self.info(name)

    def exists(self, name: str) -> bool:
        """Whether a collection of this name exists (invalid names simply do not)."""
        try:
            name = _check_name(name)
        except InputError:
            return False
        with self._lock:
            row = self._connect().execute("SELECT 1 FROM collections WHERE name = ?", (name,)).fetchone()
        return row is not None

    def list(self) -> list[CollectionInfo]:
        """All collections, by name (case-insensitive)."""
        with self._lock:
            rows = (
                self._connect()
                .execute(
                    "SELECT c.name, c.endpoint_id, c.model, c.chunk_size, c.overlap, "
                    "COUNT(DISTINCT k.source), COUNT(k.seq), c.dims, c.created "
                    "FROM collections c LEFT JOIN chunks k ON k.collection_id = c.id "
                    "GROUP BY c.id"
                )
                .fetchall()
            )
        infos = [
            CollectionInfo(
                name=r[0],
                endpoint_id=r[1],
                model=r[2],
                chunk_size=int(r[3]),
                overlap=int(r[4]),
                n_documents=int(r[5]),
                n_chunks=int(r[6]),
                dims=None if r[7] is None else int(r[7]),
                created=datetime.fromtimestamp(r[8], tz=timezone.utc),
            )
            for r in rows
        ]
        return sorted(infos, key=lambda info: (info.name.casefold(), info.name))

    def info(self, name: str) -> CollectionInfo:
        """One collection's :class:`CollectionInfo`; InputError when it does not exist."""
        name = _check_name(name)
        for info in self.list():
            if info.name == name:
                return info
        raise InputError(f"There is no collection called {name!r}.")

    def delete(self, name: str) -> bool:
        """Delete a collection and its chunks; False when there was none of that name."""
        name = _check_name(name)
        return bool(
            self._write(lambda conn: conn.execute("DELETE FROM collections WHERE name = ?", (name,)).rowcount)
        )

    # --- chunks ----------------------------------------------------------------------------

    def add_chunks(
        self,
        name: str,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        *,
        endpoint_id: str | None = None,
        model: str | None = None,
    ) -> int:
        """Add chunks with their vectors; a document already in the collection is replaced.

        Chunks whose ``source`` is already present replace all of that source's old chunks
        (re-uploading a file does not duplicate it), in the same transaction.

        Parameters
        ----------
        name : str
        chunks : sequence of Chunk, length n
        vectors : ndarray of shape (n, dims)
            Stored as float32; must be finite and as wide as the collection's earlier vectors.
        endpoint_id, model : str, optional
            When given, must match the collection's: vectors from another model are refused.

        Returns
        -------
        int
            Chunks in the collection afterwards.
        """
        name = _check_name(name)
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2:
            raise InputError(f"Vectors must be a 2-D array (n_chunks, dims); got shape {matrix.shape}.")
        if matrix.shape[0] != len(chunks):
            raise InputError(f"{len(chunks)} chunks but {matrix.shape[0]} vectors.")
        if matrix.shape[0] and matrix.shape[1] == 0:
            raise InputError("Vectors have no dimensions.")
        if not np.isfinite(matrix).all():
            raise InputError("Vectors contain NaN or infinite values; they cannot be searched.")
        for chunk in chunks:
            if not isinstance(chunk, Chunk):
                raise InputError(f"Expected Chunk objects, got {type(chunk).__name__}.")
        blobs = [row.astype("<f4").tobytes() for row in matrix]

        def work(conn: sqlite3.Connection) -> int:
            cid, stored_endpoint, stored_model, dims = self._row(conn, name)
            if endpoint_id is not None and endpoint_id != stored_endpoint:
                raise InputError(
                    f"Collection {name!r} was made at {stored_endpoint!r}, not {endpoint_id!r}; "
                    "its vectors cannot be mixed with another endpoint's."
                )
            if model is not None and model != stored_model:
                raise InputError(
                    f"Collection {name!r} was made with {stored_model!r}, not {model!r}; "
                    "create a new collection for another model."
                )
            if chunks:
                if dims is None:
                    conn.execute("UPDATE collections SET dims = ? WHERE id = ?", (matrix.shape[1], cid))
                elif dims != matrix.shape[1]:
                    raise InputError(
                        f"Collection {name!r} holds {dims}-dimensional vectors; these have {matrix.shape[1]}."
                    )
                sources = sorted({c.source for c in chunks})
                conn.executemany(
                    "DELETE FROM chunks WHERE collection_id = ? AND source = ?", [(cid, s) for s in sources]
                )
                (last,) = conn.execute(
                    "SELECT COALESCE(MAX(seq), -1) FROM chunks WHERE collection_id = ?", (cid,)
                ).fetchone()
                conn.executemany(
                    'INSERT INTO chunks (collection_id, seq, source, chunk_index, start, "end", text, vector) '
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (cid, last + 1 + i, c.source, c.index, c.start, c.end, c.text, blob)
                        for i, (c, blob) in enumerate(zip(chunks, blobs, strict=True))
                    ],
                )
            (count,) = conn.execute("SELECT COUNT(*) FROM chunks WHERE collection_id = ?", (cid,)).fetchone()
            return int(count)

        return self._write(work)

    def documents(self, name: str) -> list[tuple[str, int]]:
        """The documents of a collection: ``(source, n_chunks)`` in the order they were added."""
        name = _check_name(name)
        with self._lock:
            conn = self._connect()
            cid = self._row(conn, name)[0]
            rows = conn.execute(
                "SELECT source, COUNT(*) FROM chunks WHERE collection_id = ? GROUP BY source ORDER BY MIN(seq)",
                (cid,),
            ).fetchall()
        return [(source, int(n)) for source, n in rows]

    def remove_document(self, name: str, source: str) -> int:
        """Remove one document's chunks; returns how many were removed (0 if it was not there)."""
        name = _check_name(name)

        def work(conn: sqlite3.Connection) -> int:
            cid = self._row(conn, name)[0]
            return conn.execute(
                "DELETE FROM chunks WHERE collection_id = ? AND source = ?", (cid, source)
            ).rowcount

        return int(self._write(work))

    def load(self, name: str) -> tuple[list[Chunk], np.ndarray]:
        """All chunks of a collection, in the order they were added, and their vectors.

        Returns
        -------
        chunks : list of Chunk, length n
        vectors : ndarray of shape (n, dims), float32
            ``(0, dims)`` for an empty collection (``dims`` 0 before anything was added).
        """
        name = _check_name(name)
        with self._lock:
            conn = self._connect()
            cid, _, _, dims = self._row(conn, name)
            rows = conn.execute(
                'SELECT source, chunk_index, start, "end", text, vector FROM chunks '
                "WHERE collection_id = ? ORDER BY seq",
                (cid,),
            ).fetchall()
        width = int(dims or 0)
        chunks = [
            Chunk(text=r[4], source=r[0], index=int(r[1]), start=int(r[2]), end=int(r[3])) for r in rows
        ]
        if not rows:
            return chunks, np.zeros((0, width), dtype=np.float32)
        # One frombuffer over all blobs, copied so the caller gets a writable array.
        data = b"".join(r[5] for r in rows)
        if len(data) != 4 * width * len(rows):
            raise ConfigurationError(f"Collection {name!r} in {self.path} is damaged (vector sizes differ).")
        vectors = np.frombuffer(data, dtype="<f4").astype(np.float32).reshape(len(rows), width)
        return chunks, vectors
