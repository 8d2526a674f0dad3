"""Named, persistent document collections for semantic search.

A collection is a set of chunks (see :mod:`embedcore.io.chunking`) with one vector
each, made by one model at one endpoint. It lives in ``collections.sqlite3`` beside
the embedding cache (``$EMBEDCORE_CACHE_DIR`` or the user cache dir), so a search
page can be closed and reopened without embedding anything again — or, for a team,
in PostgreSQL (:class:`~embedcore.stores.pg_collections.PostgresCollectionStore`, chosen by
``EMBEDCORE_DATABASE_URL``), where every app replica sees the same collections and search
runs in the database through pgvector.

The collection records which endpoint and model made its vectors: a query must be
embedded by the same model, and :meth:`CollectionStore.add_chunks` refuses vectors
of another width. API keys are never stored (endpoint ids with credentials are refused).

Both stores answer the :class:`~embedcore.stores.protocols.Collections` protocol with the
same checks (:mod:`embedcore.stores.collection_rules`); the SQLite one keeps its file like the
embedding cache (:class:`embedcore.stores.sqlite.SQLiteFile`).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embedcore.errors import ConfigurationError, InputError
from embedcore.io.chunking import Chunk
from embedcore.stores.collection_rules import (
    COLLECTIONS_FILENAME,
    MAX_NAME_LENGTH,
    CollectionInfo,
    by_name,
    check_chunks,
    check_endpoint,
    check_name,
    check_origin,
    check_query,
    check_settings,
    check_width,
    default_collections_path,
    exists_already,
    info_from_row,
    no_collection,
    query_width_error,
)
from embedcore.stores.pg_collections import HNSW_EF_SEARCH, HNSW_MIN_CHUNKS, PostgresCollectionStore
from embedcore.stores.sqlite import SQLiteBacked, SQLiteFile, immediate

__all__ = [
    "COLLECTIONS_FILENAME",
    "HNSW_EF_SEARCH",
    "HNSW_MIN_CHUNKS",
    "MAX_NAME_LENGTH",
    "CollectionInfo",
    "CollectionStore",
    "PostgresCollectionStore",
    "default_collections_path",
]

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
        created     REAL NOT NULL,
        version     INTEGER NOT NULL DEFAULT 0
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


def _set_up(conn: sqlite3.Connection) -> None:
    """Foreign keys on, the schema, and ``version`` added to files made before it existed (once,
    even with two processes)."""
    conn.execute("PRAGMA foreign_keys = ON")
    for statement in _SCHEMA:
        conn.execute(statement)
    if any(col[1] == "version" for col in conn.execute("PRAGMA table_info(collections)")):
        return
    with immediate(conn):
        if not any(col[1] == "version" for col in conn.execute("PRAGMA table_info(collections)")):
            conn.execute("ALTER TABLE collections ADD COLUMN version INTEGER NOT NULL DEFAULT 0")


class CollectionStore(SQLiteBacked):
    """Named collections of chunks and their vectors, in one SQLite file.

    Safe to share between threads and processes, like the embedding cache.

    Parameters
    ----------
    path : str or Path, optional
        The database file. Default: :func:`default_collections_path`.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from embedcore.io.chunking import Chunk
    >>> store = CollectionStore(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite3")
    >>> store.create("notes", endpoint_id="local:", model="toy", chunk_size=50, overlap=5).n_chunks
    0
    >>> store.add_chunks("notes", [Chunk("tea", "a.txt", 0, 0, 3), Chunk("rain", "a.txt", 1, 4, 8)],
    ...                  np.array([[1.0, 0.0], [0.0, 1.0]]))
    2
    >>> rows, scores, hits = store.search("notes", np.array([0.1, 1.0]), k=1)
    >>> hits[0].text
    'rain'
    >>> store.close()
    """

    #: Search ranks the loaded vectors in this process (numpy), not inside the store.
    searches_in_database = False

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_collections_path()
        self.db = SQLiteFile(self.path, what="the collection store", setup=_set_up)
        self.db.connect()

    def __repr__(self) -> str:
        return f"CollectionStore(path={str(self.path)!r})"

    def _write(self, work):
        """Run ``work(conn)`` inside one write transaction and return its result."""
        return self.db.write(work)

    @staticmethod
    def _row(conn: sqlite3.Connection, name: str) -> tuple:
        row = conn.execute(
            "SELECT id, endpoint_id, model, dims FROM collections WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            raise no_collection(name)
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
        name = check_name(name)
        endpoint_id = check_endpoint(endpoint_id)
        check_settings(model, chunk_size, overlap)

        def work(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM collections WHERE name = ?", (name,)).fetchone():
                raise exists_already(name)
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
            name = check_name(name)
        except InputError:
            return False
        with self.db.lock:
            row = self.db.connect().execute("SELECT 1 FROM collections WHERE name = ?", (name,)).fetchone()
        return row is not None

    def list(self) -> list[CollectionInfo]:
        """All collections, by name (case-insensitive)."""
        with self.db.lock:
            rows = (
                self.db.connect()
                .execute(
                    "SELECT c.name, c.endpoint_id, c.model, c.chunk_size, c.overlap, "
                    "COUNT(DISTINCT k.source), COUNT(k.seq), c.dims, c.created, c.version "
                    "FROM collections c LEFT JOIN chunks k ON k.collection_id = c.id "
                    "GROUP BY c.id"
                )
                .fetchall()
            )
        return by_name([info_from_row(r) for r in rows])

    def info(self, name: str) -> CollectionInfo:
        """One collection's :class:`CollectionInfo`; InputError when it does not exist."""
        name = check_name(name)
        for info in self.list():
            if info.name == name:
                return info
        raise no_collection(name)

    def delete(self, name: str) -> bool:
        """Delete a collection and its chunks; False when there was none of that name."""
        name = check_name(name)
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
        name = check_name(name)
        matrix = check_chunks(chunks, vectors)
        blobs = [row.astype("<f4").tobytes() for row in matrix]

        def work(conn: sqlite3.Connection) -> int:
            cid, stored_endpoint, stored_model, dims = self._row(conn, name)
            check_origin(name, stored_endpoint, stored_model, endpoint_id, model)
            if chunks:
                check_width(name, dims, matrix.shape[1])
                if dims is None:
                    conn.execute("UPDATE collections SET dims = ? WHERE id = ?", (matrix.shape[1], cid))
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
                conn.execute("UPDATE collections SET version = version + 1 WHERE id = ?", (cid,))
            (count,) = conn.execute("SELECT COUNT(*) FROM chunks WHERE collection_id = ?", (cid,)).fetchone()
            return int(count)

        return self._write(work)

    def documents(self, name: str) -> list[tuple[str, int]]:
        """The documents of a collection: ``(source, n_chunks)`` in the order they were added."""
        name = check_name(name)
        with self.db.lock:
            conn = self.db.connect()
            cid = self._row(conn, name)[0]
            rows = conn.execute(
                "SELECT source, COUNT(*) FROM chunks WHERE collection_id = ? GROUP BY source ORDER BY MIN(seq)",
                (cid,),
            ).fetchall()
        return [(source, int(n)) for source, n in rows]

    def remove_document(self, name: str, source: str) -> int:
        """Remove one document's chunks; returns how many were removed (0 if it was not there)."""
        name = check_name(name)

        def work(conn: sqlite3.Connection) -> int:
            cid = self._row(conn, name)[0]
            removed = conn.execute(
                "DELETE FROM chunks WHERE collection_id = ? AND source = ?", (cid, source)
            ).rowcount
            if removed:
                conn.execute("UPDATE collections SET version = version + 1 WHERE id = ?", (cid,))
            return removed

        return int(self._write(work))

    def load(self, name: str) -> tuple[list[Chunk], np.ndarray]:
        """All chunks of a collection, in the order they were added, and their vectors.

        Returns
        -------
        chunks : list of Chunk, length n
        vectors : ndarray of shape (n, dims), float32
            ``(0, dims)`` for an empty collection (``dims`` 0 before anything was added).
        """
        name = check_name(name)
        with self.db.lock:
            conn = self.db.connect()
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

    def search(
        self, name: str, query_vector: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray, list[Chunk]]:
        """The ``k`` chunks most cosine-similar to ``query_vector``: exact, over the whole collection.

        Parameters
        ----------
        name : str
        query_vector : ndarray of shape (dims,)
        k : int
            At least 1; fewer hits when the collection is smaller.

        Returns
        -------
        rows : ndarray of shape (k,), int64
            Positions of the hits in :meth:`load`'s order, best first (equal scores by row).
        scores : ndarray of shape (k,), float32
            Cosine similarities.
        chunks : list of Chunk, length k
        """
        from embedcore.analysis.similarity import top_k

        query = check_query(query_vector, k)
        chunks, vectors = self.load(name)
        if not chunks:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), []
        if query.shape[0] != vectors.shape[1]:
            raise query_width_error(query, vectors.shape[1])
        idx, scores = top_k(query[None, :], vectors, int(k))
        rows = idx[0].astype(np.int64)
        return rows, scores[0].astype(np.float32), [chunks[i] for i in rows.tolist()]
