"""Copy a machine's local SQLite cache and collections into the team's PostgreSQL database.

``python -m embedcore migrate`` calls :func:`copy_to_postgres`. Running it again copies
nothing twice: cached vectors already in the database are left as they are (``ON CONFLICT DO
NOTHING``), and a collection whose name exists there is compared, not overwritten — the same
content counts as already copied, different content is reported and left alone (it is the
team's now). The cache goes over in batches, each committed on its own, so an interrupted run
resumes where it stopped; each collection goes over in one transaction, whole or not at all.
The SQLite files are only read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embedcore.errors import ConfigurationError
from embedcore.stores.collections import CollectionStore, PostgresCollectionStore
from embedcore.stores.database import Database

__all__ = ["MigrationReport", "copy_to_postgres"]

#: Cached vectors per transaction.
BATCH = 5000


@dataclass
class MigrationReport:
    """What :func:`copy_to_postgres` did.

    Attributes
    ----------
    vectors_copied, vectors_present, vectors_damaged : int
        Cached vectors written, found in the database already, and skipped as unreadable.
    collections_copied, collections_present, collections_conflicting : list of str
        Collection names copied; already there with the same chunks and vectors; there with
        other content (left as they are).
    read : list of str
        The SQLite files that were read.
    """

    vectors_copied: int = 0
    vectors_present: int = 0
    vectors_damaged: int = 0
    collections_copied: list[str] = field(default_factory=list)
    collections_present: list[str] = field(default_factory=list)
    collections_conflicting: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _copy_cache(
    path: Path, database: Database, report: MigrationReport, progress: Callable[[str], None]
) -> None:
    try:
        source = _read_only(path)
        (total,) = source.execute("SELECT COUNT(*) FROM embeddings").fetchone()
    except sqlite3.Error as exc:
        raise ConfigurationError(f"Cannot read the embedding cache {path}: {exc}.") from exc
    report.read.append(str(path))
    done = 0
    last = 0
    try:
        while True:
            rows = source.execute(
                "SELECT rowid, endpoint, model, text_sha, dims, vector, created FROM embeddings "
                "WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (last, BATCH),
            ).fetchall()
            if not rows:
                break
            last = rows[-1][0]
            good = []
            for _, endpoint, model, sha, dims, blob, created in rows:
                if dims <= 0 or len(blob) != 4 * dims:
                    report.vectors_damaged += 1
                    continue
                vector = np.frombuffer(blob, dtype="<f4").astype(np.float32)
                if not np.isfinite(vector).all():
                    report.vectors_damaged += 1
                    continue
                good.append((endpoint, model, bytes(sha), int(dims), vector, float(created)))
            with database.transaction() as conn:
                conn.execute(
                    "CREATE TEMPORARY TABLE embedcore_import (LIKE embedcore_embeddings) ON COMMIT DROP"
                )
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        "COPY embedcore_import (endpoint, model, text_sha, dims, vector, created, last_used) "
                        "FROM STDIN WITH (FORMAT BINARY)"
                    ) as copy,
                ):
                    copy.set_types(["text", "text", "bytea", "int4", "vector", "float8", "float8"])
                    # Last used: when it was made (a file from before the cap has no last_used).
                    for row in good:
                        copy.write_row((*row, row[-1]))
                # Key order, like the cache's own writes, so a running app cannot deadlock with us.
                copied = conn.execute(
                    "INSERT INTO embedcore_embeddings SELECT * FROM embedcore_import "
                    "ORDER BY endpoint, model, text_sha ON CONFLICT DO NOTHING"
                ).rowcount
            report.vectors_copied += copied
            report.vectors_present += len(good) - copied
            done += len(rows)
            progress(f"cache: {done:,} / {total:,} vectors read")
    finally:
        source.close()


def _copy_collections(
    path: Path, database: Database, report: MigrationReport, progress: Callable[[str], None]
) -> None:
    target = PostgresCollectionStore(database)
    with CollectionStore(path) as source:
        report.read.append(str(path))
        for info in source.list():
            chunks, vectors = source.load(info.name)
            if target.exists(info.name):
                there = target.info(info.name)
                same = (there.endpoint_id, there.model, there.n_chunks) == (
                    info.endpoint_id,
                    info.model,
                    info.n_chunks,
                )
                if same:
                    other_chunks, other_vectors = target.load(info.name)
                    same = other_chunks == chunks and np.array_equal(other_vectors, vectors)
                (report.collections_present if same else report.collections_conflicting).append(info.name)
                continue
            if target.import_collection(info, chunks, vectors):
                report.collections_copied.append(info.name)
                progress(f"collection {info.name!r}: {len(chunks):,} chunks copied")
            else:  # made by someone else meanwhile
                report.collections_conflicting.append(info.name)


def copy_to_postgres(
    database: Database,
    *,
    cache_path: str | Path | None = None,
    collections_path: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> MigrationReport:
    """Copy the SQLite cache and collections into ``database``; safe to run again.

    Parameters
    ----------
    database : Database
    cache_path, collections_path : path, optional
        The SQLite files; a file that does not exist is skipped.
    progress : callable, optional
        ``progress(message)`` after every batch and collection.

    Returns
    -------
    MigrationReport
    """
    report = MigrationReport()
    say = progress or (lambda message: None)
    if cache_path is not None and Path(cache_path).is_file():
        _copy_cache(Path(cache_path), database, report, say)
    if collections_path is not None and Path(collections_path).is_file():
        _copy_collections(Path(collections_path), database, report, say)
    return report
