"""Named, persistent document collections for semantic search.

A collection is a set of chunks (see :mod:`embedcore.io.chunking`) with one vector
each, made by one model at one endpoint. It lives in ``collections.sqlite3`` beside
the embedding cache (``$EMBEDCORE_CACHE_DIR`` or the user cache dir), so a search
page can be closed and reopened without embedding anything again — or, for a team,
in PostgreSQL (:class:`PostgresCollectionStore`, chosen by ``EMBEDCORE_DATABASE_URL``),
where every app replica sees the same collections and search runs in the database
through pgvector.

The collection records which endpoint and model made its vectors: a query must be
embedded by the same model, and :meth:`CollectionStore.add_chunks` refuses vectors
of another width. API keys are never stored (endpoint ids with credentials are refused).

Both stores have the same calls and the same checks (the helpers below); the SQLite one
follows :class:`embedcore.stores.cache.EmbeddingCache`: one connection behind a lock, WAL journal,
explicit ``BEGIN IMMEDIATE`` transactions, reopened after fork.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np

from embedcore.errors import ConfigurationError, DatabaseError, InputError
from embedcore.io.chunking import Chunk
from embedcore.stores.database import DatabaseBacked

if TYPE_CHECKING:
    from embedcore.stores.database import Database

__all__ = [
    "COLLECTIONS_FILENAME",
    "HNSW_MIN_CHUNKS",
    "MAX_NAME_LENGTH",
    "CollectionInfo",
    "CollectionStore",
    "PostgresCollectionStore",
    "default_collections_path",
]

COLLECTIONS_FILENAME = "collections.sqlite3"
MAX_NAME_LENGTH = 100

logger = logging.getLogger(__name__)

#: Chunks from which a PostgreSQL collection gets an HNSW index. Measured on 2 busy cores with
#: 384-dim vectors (``python -m bench team`` and by hand): exact pgvector search takes 9-11 ms at
#: 10k chunks, 36-50 ms at 20k and 115-130 ms at 100k; through the index 3-10 ms. Building the
#: index costs about a millisecond per chunk, paid once by the write that crosses the line.
HNSW_MIN_CHUNKS = 20_000

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


def default_collections_path() -> Path:
    """``collections.sqlite3`` in the embedding cache's directory."""
    from embedcore.stores.cache import default_cache_path

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
    version : int
        Grows with every change to the chunks, so a copy loaded earlier (by this process or
        another replica's write) can tell that it is stale.
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
    version: int = 0


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
    if any(unicodedata.category(c) == "Cs" for c in cleaned):
        raise InputError("A collection name cannot contain unpaired surrogate characters; retype it.")
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


def _check_settings(model: object, chunk_size: object, overlap: object) -> None:
    if not isinstance(model, str) or not model.strip():
        raise InputError("A collection needs the model that makes its vectors.")
    for label, value, least in (("chunk size", chunk_size, 1), ("overlap", overlap, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InputError(f"The {label} must be a whole number of at least {least}, not {value!r}.")
    if overlap >= chunk_size:  # type: ignore[operator]
        raise InputError(f"Overlap ({overlap}) must be smaller than the chunk size ({chunk_size}).")


def _exists_already(name: str) -> InputError:
    return InputError(f"A collection called {name!r} exists already; pick another name or delete it.")


def _no_collection(name: str) -> InputError:
    return InputError(f"There is no collection called {name!r}.")


def _check_chunks(chunks: Sequence[Chunk], vectors: np.ndarray) -> np.ndarray:
    """The vectors as a float32 (n, dims) matrix, after checking them against the chunks."""
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
        if "\x00" in chunk.text or "\x00" in chunk.source:
            # PostgreSQL text cannot hold NUL; refused by both stores so they behave alike.
            raise InputError(
                f"A chunk of {chunk.source!r} contains a NUL character; remove it from the document."
            )
    return matrix


def _check_origin(
    name: str,
    stored_endpoint: str,
    stored_model: str,
    endpoint_id: str | None,
    model: str | None,
) -> None:
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


def _check_width(name: str, dims: int | None, width: int) -> None:
    if dims is not None and dims != width:
        raise InputError(f"Collection {name!r} holds {dims}-dimensional vectors; these have {width}.")


def _check_query(query_vector: object, k: object) -> np.ndarray:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be at least 1, not {k!r}.")
    query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    if not query.size or not np.isfinite(query).all():
        raise InputError("The query vector is empty or contains NaN or infinite values.")
    return query


def _query_width_error(query: np.ndarray, dims: int) -> InputError:
    return InputError(
        f"The query vector has {query.shape[0]} dimensions and the collection's vectors {dims}: "
        "they were not made by the same model."
    )


def _info_from_row(r: Sequence) -> CollectionInfo:
    """(name, endpoint_id, model, chunk_size, overlap, n_documents, n_chunks, dims, created, version)."""
    return CollectionInfo(
        name=r[0],
        endpoint_id=r[1],
        model=r[2],
        chunk_size=int(r[3]),
        overlap=int(r[4]),
        n_documents=int(r[5]),
        n_chunks=int(r[6]),
        dims=None if r[7] is None else int(r[7]),
        created=datetime.fromtimestamp(r[8], tz=timezone.utc),
        version=int(r[9]),
    )


def _by_name(infos: list[CollectionInfo]) -> list[CollectionInfo]:
    return sorted(infos, key=lambda info: (info.name.casefold(), info.name))


class CollectionStore:
    """Named collections of chunks and their vectors, in one SQLite file.

    Safe to share between threads and processes, like the embedding cache.

    Parameters
    ----------
    path : str or Path, optional
        The database file. Default: :func:`default_collections_path`.
    """

    #: Search ranks the loaded vectors in this process (numpy), not inside the store.
    searches_in_database = False

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
                self._add_version_column(conn)
            except (OSError, sqlite3.Error) as exc:
                raise ConfigurationError(
                    f"Cannot open the collection store at {self.path}: {exc}. "
                    "Set EMBEDCORE_CACHE_DIR to a writable folder."
                ) from exc
            self._conn, self._pid = conn, os.getpid()
            return conn

    @staticmethod
    def _add_version_column(conn: sqlite3.Connection) -> None:
        """Files made before ``version`` existed get the column (once, even with two processes)."""
        if any(col[1] == "version" for col in conn.execute("PRAGMA table_info(collections)")):
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not any(col[1] == "version" for col in conn.execute("PRAGMA table_info(collections)")):
                conn.execute("ALTER TABLE collections ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

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
            raise _no_collection(name)
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
        _check_settings(model, chunk_size, overlap)

        def work(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM collections WHERE name = ?", (name,)).fetchone():
                raise _exists_already(name)
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
                    "COUNT(DISTINCT k.source), COUNT(k.seq), c.dims, c.created, c.version "
                    "FROM collections c LEFT JOIN chunks k ON k.collection_id = c.id "
                    "GROUP BY c.id"
                )
                .fetchall()
            )
        return _by_name([_info_from_row(r) for r in rows])

    def info(self, name: str) -> CollectionInfo:
        """One collection's :class:`CollectionInfo`; InputError when it does not exist."""
        name = _check_name(name)
        for info in self.list():
            if info.name == name:
                return info
        raise _no_collection(name)

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
        matrix = _check_chunks(chunks, vectors)
        blobs = [row.astype("<f4").tobytes() for row in matrix]

        def work(conn: sqlite3.Connection) -> int:
            cid, stored_endpoint, stored_model, dims = self._row(conn, name)
            _check_origin(name, stored_endpoint, stored_model, endpoint_id, model)
            if chunks:
                _check_width(name, dims, matrix.shape[1])
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

        query = _check_query(query_vector, k)
        chunks, vectors = self.load(name)
        if not chunks:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), []
        if query.shape[0] != vectors.shape[1]:
            raise _query_width_error(query, vectors.shape[1])
        idx, scores = top_k(query[None, :], vectors, int(k))
        rows = idx[0].astype(np.int64)
        return rows, scores[0].astype(np.float32), [chunks[i] for i in rows.tolist()]


#: Widest vectors pgvector can index with HNSW: ``vector`` up to 2,000 dimensions, ``halfvec``
#: (16-bit floats) up to 4,000. Wider collections are searched exactly.
_VECTOR_INDEX_MAX_DIMS = 2000
_HALFVEC_INDEX_MAX_DIMS = 4000
#: First key of the advisory locks that keep two processes from building one index at once.
_INDEX_LOCK_CLASS = 0x65636978  # "ecix"
#: maintenance_work_mem for an index build: the HNSW graph of 100k 384-dim vectors is ~200 MB,
#: and a build that spills out of memory is several times slower.
_INDEX_BUILD_MEMORY = "512MB"
#: Candidates an HNSW search keeps (pgvector's default is 40). Measured with ``python -m bench
#: team``: recall@10 on real MiniLM vectors 0.99 at 100, for a millisecond or two more.
HNSW_EF_SEARCH = 100
#: Collections whose load order a store remembers (8 bytes per chunk each).
_REMEMBERED_ORDERS = 16


def _vector_type(dims: int) -> str | None:
    """The fixed-width type a collection's vectors are cast to for search and for its index."""
    if dims <= _VECTOR_INDEX_MAX_DIMS:
        return f"vector({int(dims)})"
    if dims <= _HALFVEC_INDEX_MAX_DIMS:
        return f"halfvec({int(dims)})"
    return None


class PostgresCollectionStore(DatabaseBacked):
    """Named collections of chunks and their vectors, in PostgreSQL with pgvector.

    The same calls, checks and messages as :class:`CollectionStore`; every replica of the app
    using the database sees the same collections. :meth:`search` runs in the database: exact
    (``ORDER BY vector <=> query``) for small collections, through a per-collection HNSW index
    once a collection holds ``index_threshold`` chunks (cosine distance; ``vector`` casts up to
    2,000 dimensions, ``halfvec`` up to 4,000).

    Writes to one collection are serialised by a row lock on it; different collections are
    written in parallel.

    Parameters
    ----------
    database : Database or str
        A :class:`embedcore.stores.database.Database`, or its URL (then the store opens and owns one).
    index_threshold : int
        Chunks from which a collection gets its HNSW index (default :data:`HNSW_MIN_CHUNKS`).
    """

    searches_in_database = True

    def __init__(self, database: Database | str, *, index_threshold: int = HNSW_MIN_CHUNKS) -> None:
        super().__init__(database)
        self.index_threshold = max(1, int(index_threshold))
        self._orders: OrderedDict[int, tuple[int, np.ndarray]] = OrderedDict()
        self._orders_lock = threading.Lock()

    @staticmethod
    def _row(conn, name: str, *, lock: bool = False) -> tuple:
        row = conn.execute(
            "SELECT id, endpoint_id, model, dims FROM embedcore_collections WHERE name = %s"
            + (" FOR UPDATE" if lock else ""),
            (name,),
        ).fetchone()
        if row is None:
            raise _no_collection(name)
        return row

    # --- collections ---------------------------------------------------------------------

    def create(
        self, name: str, *, endpoint_id: str, model: str, chunk_size: int, overlap: int
    ) -> CollectionInfo:
        """Create an empty collection (see :meth:`CollectionStore.create`)."""
        name = _check_name(name)
        endpoint_id = _check_endpoint(endpoint_id)
        _check_settings(model, chunk_size, overlap)
        with self.database.transaction() as conn:
            made = conn.execute(
                "INSERT INTO embedcore_collections (name, endpoint_id, model, chunk_size, overlap, created) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING id",
                (name, endpoint_id, model, chunk_size, overlap, time.time()),
            ).fetchone()
        if made is None:
            raise _exists_already(name)
        return self.info(name)

    def exists(self, name: str) -> bool:
        """Whether a collection of this name exists (invalid names simply do not)."""
        try:
            name = _check_name(name)
        except InputError:
            return False
        with self.database.connection() as conn:
            row = conn.execute("SELECT 1 FROM embedcore_collections WHERE name = %s", (name,)).fetchone()
        return row is not None

    _INFO_SQL = (
        # COUNT(k.source), not COUNT(k.seq): both columns are in embedcore_chunks_by_source, so
        # the counts come from an index-only scan instead of reading every vector.
        "SELECT c.name, c.endpoint_id, c.model, c.chunk_size, c.overlap, "
        "COUNT(DISTINCT k.source), COUNT(k.source), c.dims, c.created, c.version "
        "FROM embedcore_collections c LEFT JOIN embedcore_chunks k ON k.collection_id = c.id "
    )

    def list(self) -> list[CollectionInfo]:
        """All collections, by name (case-insensitive)."""
        with self.database.connection() as conn:
            rows = conn.execute(self._INFO_SQL + "GROUP BY c.id").fetchall()
        return _by_name([_info_from_row(r) for r in rows])

    def info(self, name: str) -> CollectionInfo:
        """One collection's :class:`CollectionInfo`; InputError when it does not exist."""
        name = _check_name(name)
        with self.database.connection() as conn:
            row = conn.execute(self._INFO_SQL + "WHERE c.name = %s GROUP BY c.id", (name,)).fetchone()
        if row is None:
            raise _no_collection(name)
        return _info_from_row(row)

    def delete(self, name: str) -> bool:
        """Delete a collection, its chunks and its index; False when there was none of that name."""
        name = _check_name(name)
        with self.database.transaction() as conn:
            row = conn.execute(
                "DELETE FROM embedcore_collections WHERE name = %s RETURNING id", (name,)
            ).fetchone()
        if row is None:
            return False
        try:
            with self.database.connection() as conn:
                conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {self._index_name(row[0])}")
        except DatabaseError as exc:  # the collection is gone; an orphaned index only costs disk
            logger.warning("could not drop the search index of a deleted collection: %s", exc)
        return True

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

        See :meth:`CollectionStore.add_chunks`. One transaction; the rows go in by ``COPY``. When
        the collection reaches ``index_threshold`` chunks, its HNSW index is built afterwards
        (concurrently: searches and other writers carry on meanwhile).
        """
        name = _check_name(name)
        matrix = _check_chunks(chunks, vectors)
        with self.database.transaction() as conn:
            cid, stored_endpoint, stored_model, dims = self._row(conn, name, lock=True)
            _check_origin(name, stored_endpoint, stored_model, endpoint_id, model)
            if chunks:
                _check_width(name, dims, matrix.shape[1])
                if dims is None:
                    dims = int(matrix.shape[1])
                    conn.execute("UPDATE embedcore_collections SET dims = %s WHERE id = %s", (dims, cid))
                sources = sorted({c.source for c in chunks})
                conn.execute(
                    "DELETE FROM embedcore_chunks WHERE collection_id = %s AND source = ANY(%s)",
                    (cid, sources),
                )
                (last,) = conn.execute(
                    "SELECT COALESCE(MAX(seq), -1) FROM embedcore_chunks WHERE collection_id = %s", (cid,)
                ).fetchone()
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        'COPY embedcore_chunks (collection_id, seq, source, chunk_index, start, "end", text, vector) '
                        "FROM STDIN WITH (FORMAT BINARY)"
                    ) as copy,
                ):
                    copy.set_types(["int8", "int8", "text", "int4", "int4", "int4", "text", "vector"])
                    for i, (c, row) in enumerate(zip(chunks, matrix, strict=True)):
                        copy.write_row((cid, last + 1 + i, c.source, c.index, c.start, c.end, c.text, row))
                conn.execute("UPDATE embedcore_collections SET version = version + 1 WHERE id = %s", (cid,))
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM embedcore_chunks WHERE collection_id = %s", (cid,)
            ).fetchone()
        if chunks and count >= self.index_threshold:
            self._ensure_index(cid, int(dims))
        return int(count)

    def import_collection(self, info: CollectionInfo, chunks: Sequence[Chunk], vectors: np.ndarray) -> bool:
        """Create a collection with all its chunks in one transaction, keeping its creation time.

        For copying a collection from another store (``python -m embedcore migrate``): it appears
        whole or not at all. Returns False, changing nothing, when the name is taken.
        """
        name = _check_name(info.name)
        endpoint_id = _check_endpoint(info.endpoint_id)
        _check_settings(info.model, info.chunk_size, info.overlap)
        matrix = _check_chunks(chunks, vectors)
        dims = int(matrix.shape[1]) if len(chunks) else info.dims
        with self.database.transaction() as conn:
            made = conn.execute(
                "INSERT INTO embedcore_collections "
                "(name, endpoint_id, model, chunk_size, overlap, dims, created, version) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING id",
                (
                    name,
                    endpoint_id,
                    info.model,
                    info.chunk_size,
                    info.overlap,
                    dims,
                    info.created.timestamp(),
                    info.version,
                ),
            ).fetchone()
            if made is None:
                return False
            cid = made[0]
            with (
                conn.cursor() as cur,
                cur.copy(
                    'COPY embedcore_chunks (collection_id, seq, source, chunk_index, start, "end", text, vector) '
                    "FROM STDIN WITH (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(["int8", "int8", "text", "int4", "int4", "int4", "text", "vector"])
                for i, (c, row) in enumerate(zip(chunks, matrix, strict=True)):
                    copy.write_row((cid, i, c.source, c.index, c.start, c.end, c.text, row))
        if dims and len(chunks) >= self.index_threshold:
            self._ensure_index(cid, int(dims))
        return True

    def documents(self, name: str) -> list[tuple[str, int]]:
        """The documents of a collection: ``(source, n_chunks)`` in the order they were added."""
        name = _check_name(name)
        with self.database.connection() as conn:
            cid = self._row(conn, name)[0]
            rows = conn.execute(
                "SELECT source, COUNT(*) FROM embedcore_chunks WHERE collection_id = %s "
                "GROUP BY source ORDER BY MIN(seq)",
                (cid,),
            ).fetchall()
        return [(source, int(n)) for source, n in rows]

    def remove_document(self, name: str, source: str) -> int:
        """Remove one document's chunks; returns how many were removed (0 if it was not there)."""
        name = _check_name(name)
        with self.database.transaction() as conn:
            cid = self._row(conn, name, lock=True)[0]
            removed = conn.execute(
                "DELETE FROM embedcore_chunks WHERE collection_id = %s AND source = %s", (cid, source)
            ).rowcount
            if removed:
                conn.execute("UPDATE embedcore_collections SET version = version + 1 WHERE id = %s", (cid,))
        return int(removed)

    def load(self, name: str) -> tuple[list[Chunk], np.ndarray]:
        """All chunks of a collection, in the order they were added, and their vectors.

        Returns
        -------
        chunks : list of Chunk, length n
        vectors : ndarray of shape (n, dims), float32
            ``(0, dims)`` for an empty collection (``dims`` 0 before anything was added).
        """
        name = _check_name(name)
        with self.database.transaction() as conn:
            # One snapshot for the version and the rows, so the remembered order matches them.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cid, _, _, dims, version = self._row_with_version(conn, name)
            with conn.cursor(binary=True) as cur:
                cur.execute(
                    'SELECT source, chunk_index, start, "end", text, vector, seq FROM embedcore_chunks '
                    "WHERE collection_id = %s ORDER BY seq",
                    (cid,),
                )
                rows = cur.fetchall()
        self._remember_order(cid, version, np.fromiter((r[6] for r in rows), dtype=np.int64, count=len(rows)))
        width = int(dims or 0)
        chunks = [
            Chunk(text=r[4], source=r[0], index=int(r[1]), start=int(r[2]), end=int(r[3])) for r in rows
        ]
        if not rows:
            return chunks, np.zeros((0, width), dtype=np.float32)
        vectors = np.empty((len(rows), width), dtype=np.float32)
        for i, r in enumerate(rows):
            vectors[i] = r[5].to_numpy()
        return chunks, vectors

    # --- search ----------------------------------------------------------------------------

    @staticmethod
    def _row_with_version(conn, name: str) -> tuple:
        row = conn.execute(
            "SELECT id, endpoint_id, model, dims, version FROM embedcore_collections WHERE name = %s", (name,)
        ).fetchone()
        if row is None:
            raise _no_collection(name)
        return row

    def _remember_order(self, cid: int, version: int, seqs: np.ndarray) -> None:
        # A hit's row is its position in load()'s order. Counting that in SQL reads every row
        # of the collection (~25 ms at 100k chunks, more than the HNSW search itself), so the
        # order of the last load of each collection is kept here and looked up by bisection.
        with self._orders_lock:
            self._orders[cid] = (int(version), seqs)
            self._orders.move_to_end(cid)
            while len(self._orders) > _REMEMBERED_ORDERS:
                self._orders.popitem(last=False)

    def _positions(self, conn, cid: int, version: int, seqs: list[int]) -> np.ndarray:
        with self._orders_lock:
            known = self._orders.get(cid)
        if known is not None and known[0] == version:
            order = known[1]
            found = np.searchsorted(order, seqs)
            if np.all(found < len(order)) and np.array_equal(order[np.minimum(found, len(order) - 1)], seqs):
                return found.astype(np.int64)
        # Not loaded in this process (or changed since): one pass over the collection's keys.
        rows = conn.execute(
            "SELECT p.seq, p.position FROM (SELECT seq, ROW_NUMBER() OVER (ORDER BY seq) - 1 AS position "
            "FROM embedcore_chunks WHERE collection_id = %s) AS p WHERE p.seq = ANY(%s)",
            (cid, list(seqs)),
        ).fetchall()
        where = dict(rows)
        return np.array([where[s] for s in seqs], dtype=np.int64)

    def search(
        self, name: str, query_vector: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray, list[Chunk]]:
        """The ``k`` chunks most cosine-similar to ``query_vector``, found by pgvector.

        Exact below ``index_threshold`` chunks; approximate (HNSW, ``ef_search`` =
        :data:`HNSW_EF_SEARCH`; recall measured in ``python -m bench team``) once the collection's
        index exists. Same return values as :meth:`CollectionStore.search`; rows are positions in
        :meth:`load`'s order (cheap to find when this store has loaded the collection).
        """
        name = _check_name(name)
        query = _check_query(query_vector, k)
        with self.database.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cid, _, _, dims, version = self._row_with_version(conn, name)
            if dims is None:
                return np.zeros(0, np.int64), np.zeros(0, np.float32), []
            if query.shape[0] != dims:
                raise _query_width_error(query, int(dims))
            kind = _vector_type(int(dims))
            column = f"vector::{kind}" if kind else "vector"
            operand = f"%(query)s::{kind}" if kind else "%(query)s"
            # ef_search bounds how many candidates HNSW returns: at least k of them.
            conn.execute(f"SET LOCAL hnsw.ef_search = {max(HNSW_EF_SEARCH, 2 * int(k))}")
            rows = conn.execute(
                f"""
                SELECT h.distance, h.source, h.chunk_index, h.start, h."end", h.text, h.seq
                FROM (SELECT seq, source, chunk_index, start, "end", text,
                             {column} <=> {operand} AS distance
                      FROM embedcore_chunks WHERE collection_id = %(cid)s
                      ORDER BY {column} <=> {operand} LIMIT %(k)s) AS h
                ORDER BY h.distance, h.seq
                """,
                {"cid": cid, "query": query, "k": int(k)},
            ).fetchall()
            positions = self._positions(conn, cid, version, [int(r[6]) for r in rows])
        scores = np.array([1.0 - (r[0] if r[0] == r[0] else 1.0) for r in rows], dtype=np.float32)
        hits = [Chunk(text=r[5], source=r[1], index=int(r[2]), start=int(r[3]), end=int(r[4])) for r in rows]
        return positions, scores, hits

    # --- the index ---------------------------------------------------------------------------

    @staticmethod
    def _index_name(cid: int) -> str:
        return f"embedcore_chunks_hnsw_{int(cid)}"

    def has_index(self, name: str) -> bool:
        """Whether the collection's HNSW index exists and is ready (else search is exact)."""
        name = _check_name(name)
        with self.database.connection() as conn:
            cid = self._row(conn, name)[0]
            row = conn.execute(
                "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", (self._index_name(cid),)
            ).fetchone()
        return bool(row and row[0])

    def ensure_index(self, name: str) -> bool:
        """Build the collection's HNSW index now, whatever its size; True when it exists afterwards."""
        info = self.info(name)
        if not info.dims:
            return False
        with self.database.connection() as conn:
            cid = self._row(conn, info.name)[0]
        self._ensure_index(cid, info.dims)
        return self.has_index(info.name)

    def _ensure_index(self, cid: int, dims: int) -> None:
        kind = _vector_type(dims)
        if kind is None:
            return  # wider than pgvector can index: search stays exact
        ops = "vector_cosine_ops" if kind.startswith("vector") else "halfvec_cosine_ops"
        index = self._index_name(cid)
        try:
            with self.database.connection() as conn:
                # Another process building it already: it will be there when that one is done.
                (locked,) = conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (_INDEX_LOCK_CLASS, int(cid) % 2**31)
                ).fetchone()
                if not locked:
                    return
                try:
                    state = conn.execute(
                        "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", (index,)
                    ).fetchone()
                    if state is not None and state[0]:
                        return
                    if state is not None:  # an interrupted concurrent build leaves an invalid index
                        conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index}")
                    conn.execute(f"SET maintenance_work_mem = '{_INDEX_BUILD_MEMORY}'")
                    started = time.perf_counter()
                    # CONCURRENTLY: writers to other collections (and searches) are not blocked
                    # while the graph is built, which takes about a millisecond per chunk.
                    conn.execute(
                        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} ON embedcore_chunks "
                        f"USING hnsw ((vector::{kind}) {ops}) WHERE collection_id = {int(cid)}"
                    )
                    # Fresh statistics, or the planner (still counting the table as small) keeps
                    # sorting every row instead of walking the new index.
                    conn.execute("ANALYZE embedcore_chunks")
                    logger.info("built %s in %.1f s", index, time.perf_counter() - started)
                finally:
                    conn.execute("RESET maintenance_work_mem")
                    conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_INDEX_LOCK_CLASS, int(cid) % 2**31))
        except DatabaseError as exc:
            # The chunks are stored; search stays exact until the next write retries the build.
            logger.warning("could not build the search index %s: %s", index, exc)
