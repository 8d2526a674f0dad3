"""Document collections in the team's PostgreSQL database, searched there through pgvector.

The same calls, checks and messages as :class:`embedcore.stores.collections.CollectionStore`
(the checks are :mod:`embedcore.stores.collection_rules`); every replica of the app sees the
same collections.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from embedcore.errors import DatabaseError, InputError
from embedcore.io.chunking import Chunk
from embedcore.memo import Memo
from embedcore.stores.collection_rules import (
    CollectionInfo,
    by_name,
    check_chunks,
    check_endpoint,
    check_name,
    check_origin,
    check_query,
    check_settings,
    check_width,
    exists_already,
    info_from_row,
    no_collection,
    query_width_error,
)
from embedcore.stores.database import DatabaseBacked

if TYPE_CHECKING:
    from embedcore.stores.database import Database

__all__ = ["HNSW_EF_SEARCH", "HNSW_MIN_CHUNKS", "PostgresCollectionStore"]

logger = logging.getLogger(__name__)

#: Chunks from which a PostgreSQL collection gets an HNSW index. Measured on 2 busy cores with
#: 384-dim vectors (``python -m bench team`` and by hand): exact pgvector search takes 9-11 ms at
#: 10k chunks, 36-50 ms at 20k and 115-130 ms at 100k; through the index 3-10 ms. Building the
#: index costs about a millisecond per chunk, paid once by the write that crosses the line.
HNSW_MIN_CHUNKS = 20_000

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


def _copy_chunks(conn, cid: int, first_seq: int, chunks: Sequence[Chunk], matrix: np.ndarray) -> None:
    """Write ``chunks`` and their vectors by ``COPY`` (binary), numbered from ``first_seq``."""
    with (
        conn.cursor() as cur,
        cur.copy(
            'COPY embedcore_chunks (collection_id, seq, source, chunk_index, start, "end", text, vector) '
            "FROM STDIN WITH (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(["int8", "int8", "text", "int4", "int4", "int4", "text", "vector"])
        for i, (c, row) in enumerate(zip(chunks, matrix, strict=True)):
            copy.write_row((cid, first_seq + i, c.source, c.index, c.start, c.end, c.text, row))


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
        # A hit's row is its position in load()'s order. Counting that in SQL reads every row
        # of the collection (~25 ms at 100k chunks, more than the HNSW search itself), so the
        # order of the last load of each collection is kept here and looked up by bisection.
        self._orders: Memo[tuple[int, np.ndarray]] = Memo(_REMEMBERED_ORDERS)

    @staticmethod
    def _row(conn, name: str, *, lock: bool = False) -> tuple:
        row = conn.execute(
            "SELECT id, endpoint_id, model, dims FROM embedcore_collections WHERE name = %s"
            + (" FOR UPDATE" if lock else ""),
            (name,),
        ).fetchone()
        if row is None:
            raise no_collection(name)
        return row

    # --- collections ---------------------------------------------------------------------

    def create(
        self, name: str, *, endpoint_id: str, model: str, chunk_size: int, overlap: int
    ) -> CollectionInfo:
        """Create an empty collection (see :meth:`CollectionStore.create`)."""
        name = check_name(name)
        endpoint_id = check_endpoint(endpoint_id)
        check_settings(model, chunk_size, overlap)
        with self.database.transaction() as conn:
            made = conn.execute(
                "INSERT INTO embedcore_collections (name, endpoint_id, model, chunk_size, overlap, created) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING id",
                (name, endpoint_id, model, chunk_size, overlap, time.time()),
            ).fetchone()
        if made is None:
            raise exists_already(name)
        return self.info(name)

    def exists(self, name: str) -> bool:
        """Whether a collection of this name exists (invalid names simply do not)."""
        try:
            name = check_name(name)
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
        return by_name([info_from_row(r) for r in rows])

    def info(self, name: str) -> CollectionInfo:
        """One collection's :class:`CollectionInfo`; InputError when it does not exist."""
        name = check_name(name)
        with self.database.connection() as conn:
            row = conn.execute(self._INFO_SQL + "WHERE c.name = %s GROUP BY c.id", (name,)).fetchone()
        if row is None:
            raise no_collection(name)
        return info_from_row(row)

    def delete(self, name: str) -> bool:
        """Delete a collection, its chunks and its index; False when there was none of that name."""
        name = check_name(name)
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
        name = check_name(name)
        matrix = check_chunks(chunks, vectors)
        with self.database.transaction() as conn:
            cid, stored_endpoint, stored_model, dims = self._row(conn, name, lock=True)
            check_origin(name, stored_endpoint, stored_model, endpoint_id, model)
            if chunks:
                check_width(name, dims, matrix.shape[1])
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
                _copy_chunks(conn, cid, last + 1, chunks, matrix)
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
        name = check_name(info.name)
        endpoint_id = check_endpoint(info.endpoint_id)
        check_settings(info.model, info.chunk_size, info.overlap)
        matrix = check_chunks(chunks, vectors)
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
            _copy_chunks(conn, cid, 0, chunks, matrix)
        if dims and len(chunks) >= self.index_threshold:
            self._ensure_index(cid, int(dims))
        return True

    def documents(self, name: str) -> list[tuple[str, int]]:
        """The documents of a collection: ``(source, n_chunks)`` in the order they were added."""
        name = check_name(name)
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
        name = check_name(name)
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
        name = check_name(name)
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
        self._orders.put(
            cid, (int(version), np.fromiter((r[6] for r in rows), dtype=np.int64, count=len(rows)))
        )
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
            raise no_collection(name)
        return row

    def _positions(self, conn, cid: int, version: int, seqs: list[int]) -> np.ndarray:
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
        name = check_name(name)
        query = check_query(query_vector, k)
        with self.database.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cid, _, _, dims, version = self._row_with_version(conn, name)
            if dims is None:
                return np.zeros(0, np.int64), np.zeros(0, np.float32), []
            if query.shape[0] != dims:
                raise query_width_error(query, int(dims))
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
        name = check_name(name)
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
