"""The budget's counts: tokens spent per UTC day, endpoint and visitor, reservations in flight, usage.

:class:`~embedcore.providers.budget.BudgetGuard` decides; a ledger only counts, atomically.
Counts live in a :class:`SQLiteLedger` (a file beside the embedding cache) or, when the team
database is configured, a :class:`PostgresLedger` (schema version 2 of
:mod:`embedcore.stores.database`): all replicas share one budget and a restart does not reset it.
Reserving is one transaction that holds a lock — SQLite's ``BEGIN IMMEDIATE``; PostgreSQL's
``SELECT ... FOR UPDATE`` on the endpoint's row, then the visitor's — so concurrent actions cannot
overspend. Both run the same SQL (:class:`Ledger`); they differ in the transaction and the
placeholder.

Examples
--------
>>> import tempfile, pathlib
>>> ledger = SQLiteLedger(pathlib.Path(tempfile.mkdtemp()) / "budget.sqlite3")
>>> held = ledger.reserve(day="2026-01-01", endpoint="e", visitor="ip:1", tokens=40,
...                       visitor_limit=100, endpoint_limit=1000, now=0.0)
>>> ledger.spent(day="2026-01-01", endpoint="e", visitor="ip:1", now=0.0)
(40, 40)
>>> ledger.reserve(day="2026-01-01", endpoint="e", visitor="ip:1", tokens=80,
...                visitor_limit=100, endpoint_limit=1000, now=0.0)
Shortfall(scope='visitor', limit=100, used=40)
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedcore.stores.cache_rules import default_cache_path
from embedcore.stores.sqlite import immediate, open_sqlite, use_wal

if TYPE_CHECKING:
    import pandas as pd

    from embedcore.stores.database import Database

__all__ = [
    "BUDGET_FILENAME",
    "RESERVATION_TTL",
    "Ledger",
    "PostgresLedger",
    "SQLiteLedger",
    "Shortfall",
    "UsageRecord",
    "day_of",
    "usage_frame",
]

#: The ledger's file, beside the embedding cache in ``$EMBEDCORE_CACHE_DIR``.
BUDGET_FILENAME = "budget.sqlite3"
#: Seconds a reservation holds when its action never settles (its process was killed). Longer
#: than an action of 20,000 texts takes at IONOS' 5 requests/s (about a minute), with margin.
RESERVATION_TTL = 1800.0
#: The visitor key of the row that holds the endpoint's total (real visitor ids carry a prefix).
_ALL_VISITORS = ""


def day_of(now: float) -> str:
    """The UTC day of a time, as the ledger keys it.

    Examples
    --------
    >>> day_of(0.0)
    '1970-01-01'
    """
    return datetime.fromtimestamp(now, UTC).date().isoformat()


# --- records --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageRecord:
    """One row of the Usage page: what a visitor spent on one model and endpoint in one UTC day."""

    day: str
    endpoint: str
    visitor: str
    model: str
    texts: int
    tokens: int
    requests: int
    cache_hits: int


@dataclass(frozen=True)
class Shortfall:
    """Why a reservation was refused: which budget (``visitor`` or ``endpoint``), its limit, what is used."""

    scope: str
    limit: int
    used: int


def usage_frame(records: Sequence[UsageRecord]) -> pd.DataFrame:
    """The records as a table (newest day first), with the columns the Usage page and its CSV show."""
    import pandas as pd

    columns = [f.name for f in fields(UsageRecord)]
    return pd.DataFrame([asdict(r) for r in records], columns=columns)


# --- the stores -----------------------------------------------------------------------------------


class Ledger:
    """The SQL both stores share; a subclass supplies the transaction, the placeholder and the lock."""

    #: The driver's parameter placeholder.
    _mark = "?"

    @contextmanager
    def _transaction(self) -> Iterator[Any]:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self._mark)

    def _lock_rows(self, conn: Any, day: str, endpoint: str, visitor: str) -> dict[str, int]:
        """Create the endpoint's and the visitor's rows of ``day`` if needed; return their tokens."""
        for who in (_ALL_VISITORS, visitor):
            conn.execute(
                self._sql(
                    "INSERT INTO embedcore_budget_spent (day, endpoint, visitor, tokens) VALUES (?, ?, ?, 0) "
                    "ON CONFLICT (day, endpoint, visitor) DO NOTHING"
                ),
                (day, endpoint, who),
            )
        rows = conn.execute(
            self._sql(
                "SELECT visitor, tokens FROM embedcore_budget_spent WHERE day = ? AND endpoint = ? "
                "AND visitor IN (?, ?) ORDER BY visitor" + self._for_update
            ),
            (day, endpoint, _ALL_VISITORS, visitor),
        ).fetchall()
        return {who: int(tokens) for who, tokens in rows}

    #: Appended to the locking SELECT (PostgreSQL); SQLite's BEGIN IMMEDIATE already holds the file.
    _for_update = ""

    def reserve(
        self,
        *,
        day: str,
        endpoint: str,
        visitor: str,
        tokens: int,
        visitor_limit: int,
        endpoint_limit: int,
        now: float,
        ttl: float = RESERVATION_TTL,
    ) -> str | Shortfall:
        """Hold ``tokens`` for an action if both budgets have room: the reservation's id, else why not."""
        with self._transaction() as conn:
            spent = self._lock_rows(conn, day, endpoint, visitor)
            conn.execute(
                self._sql(
                    "DELETE FROM embedcore_budget_reservations WHERE day = ? AND endpoint = ? AND expires < ?"
                ),
                (day, endpoint, now),
            )
            held_all, held_mine = conn.execute(
                self._sql(
                    "SELECT COALESCE(SUM(tokens), 0), COALESCE(SUM(CASE WHEN visitor = ? THEN tokens ELSE 0 END), 0) "
                    "FROM embedcore_budget_reservations WHERE day = ? AND endpoint = ?"
                ),
                (visitor, day, endpoint),
            ).fetchone()
            mine = spent.get(visitor, 0) + int(held_mine)
            everyone = spent.get(_ALL_VISITORS, 0) + int(held_all)
            if tokens > visitor_limit - mine:
                return Shortfall("visitor", visitor_limit, mine)
            if tokens > endpoint_limit - everyone:
                return Shortfall("endpoint", endpoint_limit, everyone)
            reservation = uuid.uuid4().hex
            conn.execute(
                self._sql(
                    "INSERT INTO embedcore_budget_reservations (id, day, endpoint, visitor, tokens, expires) "
                    "VALUES (?, ?, ?, ?, ?, ?)"
                ),
                (reservation, day, endpoint, visitor, int(tokens), now + ttl),
            )
        return reservation

    def settle(
        self,
        reservation: str | None,
        *,
        day: str,
        endpoint: str,
        visitor: str,
        model: str,
        tokens: int,
        texts: int,
        requests: int,
        cache_hits: int,
    ) -> None:
        """Replace a reservation by the tokens spent and add the action to the usage records.

        The spent rows are updated before the reservation is deleted: the same order in which
        :meth:`reserve` locks them, so two transactions never wait for each other crosswise.
        """
        with self._transaction() as conn:
            for who in (_ALL_VISITORS, visitor):
                conn.execute(
                    self._sql(
                        "INSERT INTO embedcore_budget_spent (day, endpoint, visitor, tokens) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (day, endpoint, visitor) DO UPDATE "
                        "SET tokens = embedcore_budget_spent.tokens + excluded.tokens"
                    ),
                    (day, endpoint, who, int(tokens)),
                )
            if reservation is not None:
                conn.execute(
                    self._sql("DELETE FROM embedcore_budget_reservations WHERE id = ?"), (reservation,)
                )
            conn.execute(
                self._sql(
                    "INSERT INTO embedcore_budget_usage "
                    "(day, endpoint, visitor, model, texts, tokens, requests, cache_hits) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, endpoint, visitor, model) DO UPDATE SET "
                    "texts = embedcore_budget_usage.texts + excluded.texts, "
                    "tokens = embedcore_budget_usage.tokens + excluded.tokens, "
                    "requests = embedcore_budget_usage.requests + excluded.requests, "
                    "cache_hits = embedcore_budget_usage.cache_hits + excluded.cache_hits"
                ),
                (day, endpoint, visitor, model, int(texts), int(tokens), int(requests), int(cache_hits)),
            )

    def spent(self, *, day: str, endpoint: str, visitor: str, now: float) -> tuple[int, int]:
        """``(visitor's tokens, everyone's tokens)`` of ``day``: spent plus held by actions in flight."""
        with self._transaction() as conn:
            rows = dict(
                conn.execute(
                    self._sql(
                        "SELECT visitor, tokens FROM embedcore_budget_spent WHERE day = ? AND endpoint = ? "
                        "AND visitor IN (?, ?)"
                    ),
                    (day, endpoint, _ALL_VISITORS, visitor),
                ).fetchall()
            )
            held_all, held_mine = conn.execute(
                self._sql(
                    "SELECT COALESCE(SUM(tokens), 0), COALESCE(SUM(CASE WHEN visitor = ? THEN tokens ELSE 0 END), 0) "
                    "FROM embedcore_budget_reservations WHERE day = ? AND endpoint = ? AND expires >= ?"
                ),
                (visitor, day, endpoint, now),
            ).fetchone()
        return int(rows.get(visitor, 0)) + int(held_mine), int(rows.get(_ALL_VISITORS, 0)) + int(held_all)

    def usage(self, since: str | None = None) -> list[UsageRecord]:
        """Usage records from UTC day ``since`` (``YYYY-MM-DD``, default all), newest day first."""
        with self._transaction() as conn:
            rows = conn.execute(
                self._sql(
                    "SELECT day, endpoint, visitor, model, texts, tokens, requests, cache_hits "
                    "FROM embedcore_budget_usage WHERE day >= ? ORDER BY day DESC, visitor, model, endpoint"
                ),
                (since or "",),
            ).fetchall()
        return [UsageRecord(r[0], r[1], r[2], r[3], *(int(v) for v in r[4:])) for r in rows]


_SQLITE_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS embedcore_budget_spent (
        day TEXT NOT NULL, endpoint TEXT NOT NULL, visitor TEXT NOT NULL,
        tokens INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, endpoint, visitor)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS embedcore_budget_reservations (
        id TEXT PRIMARY KEY, day TEXT NOT NULL, endpoint TEXT NOT NULL, visitor TEXT NOT NULL,
        tokens INTEGER NOT NULL, expires REAL NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS embedcore_budget_reservations_by_day "
    "ON embedcore_budget_reservations (day, endpoint, visitor)",
    """
    CREATE TABLE IF NOT EXISTS embedcore_budget_usage (
        day TEXT NOT NULL, endpoint TEXT NOT NULL, visitor TEXT NOT NULL, model TEXT NOT NULL,
        texts INTEGER NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0, cache_hits INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, endpoint, visitor, model)
    )
    """,
)


class SQLiteLedger(Ledger):
    """The budget's counts in one SQLite file, shared by the processes of one machine.

    Every operation opens its own connection (a fraction of a millisecond) and runs in one
    ``BEGIN IMMEDIATE`` transaction, which takes the file's write lock at once: reservations of
    every thread and process queue there. Safe after ``os.fork``.

    Parameters
    ----------
    path : str or Path, optional
        Default: :data:`BUDGET_FILENAME` beside the embedding cache (``$EMBEDCORE_CACHE_DIR``).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            path = default_cache_path().parent / BUDGET_FILENAME
        self.path = Path(path).expanduser()
        self._created = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SQLiteLedger(path={str(self.path)!r})"

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = open_sqlite(self.path, what="the budget's file", setup=self._set_up, wal=False)
        try:
            with immediate(conn):
                yield conn
        finally:
            conn.close()

    def _set_up(self, conn: sqlite3.Connection) -> None:
        if not self._created:
            with self._lock:
                use_wal(conn)
                for statement in _SQLITE_SCHEMA:
                    conn.execute(statement)
                self._created = True


class PostgresLedger(Ledger):
    """The budget's counts in the team's PostgreSQL database: one budget for every replica.

    Reserving locks the endpoint's row of the day, then the visitor's (``SELECT ... FOR UPDATE``,
    always in that order), so concurrent reservations queue instead of both seeing room.

    Parameters
    ----------
    database : Database
        With schema version 2 or later (tables ``embedcore_budget_*``).
    """

    _mark = "%s"
    _for_update = " FOR UPDATE"

    def __init__(self, database: Database) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"PostgresLedger({self.database.display!r})"

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self.database.transaction() as conn:
            yield conn
