"""Saved views in the team's PostgreSQL database: every replica opens every colleague's links.

The same calls, rules and messages as :class:`embedcore.stores.views.ViewStore` (both are a
:class:`~embedcore.stores.views.ViewStoreBase`); the tables are made by schema migration 4 in
:mod:`embedcore.stores.database`, the same tables as the SQLite store's
:func:`~embedcore.stores.views.views_schema` (``tests/test_views_store.py`` compares them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from embedcore.stores.database import DatabaseBacked
from embedcore.stores.views import Run, ViewStoreBase

if TYPE_CHECKING:
    from embedcore.stores.database import Database

__all__ = ["PostgresViewStore"]


class PostgresViewStore(DatabaseBacked, ViewStoreBase):
    """Saved views in PostgreSQL, shared by every process that uses the database.

    Parameters
    ----------
    database : Database or str
        A :class:`embedcore.stores.database.Database`, or its URL (then the store opens and owns one).
    """

    def __init__(self, database: Database | str) -> None:
        super().__init__(database)

    @contextmanager
    def _session(self, write: bool) -> Iterator[Run]:
        # One transaction either way: a read that records a last use writes too.
        with self.database.transaction() as conn:

            def run(sql: str, params: Sequence[Any] = ()) -> Any:
                return conn.execute(sql.replace("?", "%s"), tuple(params))

            yield run
