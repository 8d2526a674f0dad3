"""The SQLite plumbing every local store shares: how a file is opened, and how a write is one transaction.

The embedding cache, the collections and the budget's ledger each keep one SQLite file in
``$EMBEDCORE_CACHE_DIR``. They open it the same way (WAL journal, 30 s busy timeout, ``synchronous
= NORMAL``: a power cut may lose the last commits, never corrupt the file), write in explicit
``BEGIN IMMEDIATE ... COMMIT`` transactions (``isolation_level=None``: readers never hold a stale
snapshot, writers queue at the file's lock), and turn a file that cannot be opened into one
:class:`~embedcore.errors.ConfigurationError` naming the folder setting.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> db = SQLiteFile(folder / "toy.sqlite3", what="the toy store",
...                 setup=lambda conn: conn.execute("CREATE TABLE IF NOT EXISTS t (x)"))
>>> db.write(lambda conn: conn.execute("INSERT INTO t VALUES (1), (2)").rowcount)
2
>>> db.read(lambda conn: conn.execute("SELECT SUM(x) FROM t").fetchone()[0])
3
>>> db.close()
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from embedcore.errors import ConfigurationError

__all__ = ["SQLiteBacked", "SQLiteFile", "immediate", "open_sqlite", "use_wal"]

T = TypeVar("T")


def open_sqlite(
    path: Path,
    *,
    what: str,
    setup: Callable[[sqlite3.Connection], Any] | None = None,
    wal: bool = True,
    **connect: Any,
) -> sqlite3.Connection:
    """A connection to ``path`` (its folder made first), after ``setup(conn)`` ran.

    ``wal``: switch the file to the WAL journal (stored in the file: a store that opens a
    connection per operation does it once, in ``setup``).

    Raises
    ------
    ConfigurationError
        The file cannot be opened or set up; the message names ``what``, the path and
        ``EMBEDCORE_CACHE_DIR``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> conn = open_sqlite(pathlib.Path(tempfile.mkdtemp()) / "a" / "b.sqlite3", what="a file")
    >>> conn.execute("PRAGMA journal_mode").fetchone()[0]
    'wal'
    >>> open_sqlite(pathlib.Path("/proc/none/x.sqlite3"), what="a file")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    embedcore.errors.ConfigurationError: Cannot open a file at /proc/none/x.sqlite3: ...
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, **connect)
        conn.execute("PRAGMA busy_timeout = 30000")
        if wal:
            use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        if setup is not None:
            setup(conn)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigurationError(
            f"Cannot open {what} at {path}: {exc}. Set EMBEDCORE_CACHE_DIR to a writable folder."
        ) from exc
    return conn


def use_wal(conn: sqlite3.Connection, *, patience: float = 30.0) -> None:
    """Switch the file to the WAL journal, waiting up to ``patience`` seconds for other openers.

    Switching needs the file to itself, and SQLite answers "database is locked" at once rather
    than through the busy timeout when several processes open a new file together (seen in
    ``tests/test_budget_race.py``: three processes, one in four runs); so it is tried again.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: ``BEGIN IMMEDIATE`` (the file's write lock at once), then COMMIT,
    or ROLLBACK when the body raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class SQLiteFile:
    """One SQLite file shared by a store's threads: one connection behind a lock, reopened after fork.

    Lookups take milliseconds, so a pool would buy nothing; several processes share the file
    safely through SQLite's own locking.

    Parameters
    ----------
    path : Path
    what : str
        How messages name the store ("the embedding cache").
    setup : callable, optional
        Run on every new connection (schema, pragmas).
    """

    def __init__(
        self, path: Path, *, what: str, setup: Callable[[sqlite3.Connection], Any] | None = None
    ) -> None:
        self.path = path
        self.what = what
        self._setup = setup
        self.lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def connect(self) -> sqlite3.Connection:
        """This process's connection (opened on first use, and again in a forked child)."""
        with self.lock:
            if self._conn is None or self._pid != os.getpid():
                self._conn = open_sqlite(
                    self.path, what=self.what, setup=self._setup, check_same_thread=False
                )
                self._pid = os.getpid()
            return self._conn

    def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(conn)`` with the lock held, outside any transaction."""
        with self.lock:
            return work(self.connect())

    def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(conn)`` inside one write transaction; its result."""
        with self.lock, immediate(self.connect()) as conn:
            return work(conn)

    def close(self) -> None:
        """Close the connection (a later call reopens it)."""
        with self.lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


class SQLiteBacked:
    """What a store on a :class:`SQLiteFile` gets for nothing: ``close`` and ``with store: ...``."""

    db: SQLiteFile

    def close(self) -> None:
        """Close the connection (a later call reopens it)."""
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
