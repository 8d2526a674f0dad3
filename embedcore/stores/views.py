"""Saved and shared views (issue 22): what a colleague needs to reopen the same map.

A view is a state (the page's settings), the texts it was made from and the map's coordinates.
The texts (and labels) are stored once per content digest (sha256), so a link names them
without carrying them and the same data saved twice is kept once; the coordinates are stored
with the view, so whoever opens it sees the same picture rather than a recomputation. Views get
unguessable ids (:func:`~embedcore.stores.view_rules.new_view_id`, 192 random bits). Big row
lists (a selection, an isolated subset) can be stored on their own (:meth:`ViewStoreBase.shorten`)
so a link's URL stays short.

Two stores answer the same calls (:class:`~embedcore.stores.protocols.Views`) with the same
rules (:class:`ViewStoreBase`, checks in :mod:`embedcore.stores.view_rules`): :class:`ViewStore`,
``views.sqlite3`` beside the embedding cache, and
:class:`~embedcore.stores.pg_views.PostgresViewStore`, the team database (chosen by
:func:`~embedcore.stores.storage.open_stores` as ``Stores.views``). Both write the same tables
with the same SQL; only how a transaction is opened differs.

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> store = ViewStore(pathlib.Path(tempfile.mkdtemp()) / "views.sqlite3")
>>> view_id = store.save({"page": "explorer", "model": "toy", "selection": [1]}, ["tea", "rain"],
...                      coordinates=np.array([[0.5, 1.0], [2.0, -1.0]]), name="Drinks")
>>> view = store.open(view_id)
>>> view.name, view.texts, view.state["selection"], view.coordinates.tolist()
('Drinks', ['tea', 'rain'], [1], [[0.5, 1.0], [2.0, -1.0]])
>>> [info.name for info in store.list()]
['Drinks']
>>> store.close()
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from embedcore.errors import ViewDataMissingError
from embedcore.stores.sqlite import SQLiteBacked, SQLiteFile, immediate
from embedcore.stores.view_rules import (
    ROW_KEYS,
    VIEWS_FILENAME,
    SavedView,
    ViewInfo,
    check_author,
    check_coordinates,
    check_id,
    check_name,
    check_rows,
    check_state,
    check_texts,
    default_views_path,
    export_view,
    info_from_row,
    new_view_id,
    not_found,
    read_export,
    rows_digest,
    stored_reference,
    texts_digest,
    utc,
)

__all__ = [
    "INLINE_ROWS",
    "VIEWS_FILENAME",
    "SavedView",
    "ViewInfo",
    "ViewStore",
    "ViewStoreBase",
    "views_schema",
]

#: Row lists longer than this go to the store under their digest in :meth:`ViewStoreBase.shorten`
#: (a row number is up to 6 characters in a URL: 64 of them stay well under 2,000).
INLINE_ROWS = 64

#: The one SQL a row runner takes: ``?`` placeholders (the PostgreSQL store turns them into ``%s``).
Run = Callable[[str, Sequence[Any]], Any]

_LIST_COLUMNS = "id, name, author, created, dataset, model, n_texts"


def views_schema(blob: str, real: str) -> tuple[str, ...]:
    """The tables of both stores, with the backend's binary and float types.

    Examples
    --------
    >>> len(views_schema("BLOB", "REAL"))
    4
    """
    return (
        f"""
        CREATE TABLE IF NOT EXISTS embedcore_view_data (
            digest    TEXT PRIMARY KEY,
            texts     TEXT NOT NULL,
            labels    TEXT,
            n_texts   INTEGER NOT NULL,
            created   {real} NOT NULL,
            last_used {real} NOT NULL
        )
        """,
        f"""
        CREATE TABLE IF NOT EXISTS embedcore_view_selections (
            digest    TEXT PRIMARY KEY,
            rows      TEXT NOT NULL,
            n_rows    INTEGER NOT NULL,
            created   {real} NOT NULL,
            last_used {real} NOT NULL
        )
        """,
        f"""
        CREATE TABLE IF NOT EXISTS embedcore_views (
            id          TEXT PRIMARY KEY,
            name        TEXT NOT NULL,
            author      TEXT,
            created     {real} NOT NULL,
            dataset     TEXT NOT NULL,
            model       TEXT NOT NULL,
            n_texts     INTEGER NOT NULL,
            state       TEXT NOT NULL,
            data_digest TEXT NOT NULL,
            coordinates {blob},
            coord_dims  INTEGER
        )
        """,
        "CREATE INDEX IF NOT EXISTS embedcore_views_by_data ON embedcore_views (data_digest)",
    )


def _missing(
    what: str, digest: str, view_id: str | None = None, state: dict | None = None
) -> ViewDataMissingError:
    whose = "of this view" if view_id is not None else "this link names"
    if what == "texts":
        gone = f"The texts {whose} (digest {digest[:12]}…) are no longer stored here"
    else:
        gone = f"The selection {whose} (digest {digest[:12]}…) is no longer stored here"
    where = f": deleted, or the {'view' if view_id is not None else 'link'} was made on another deployment"
    offer = "; its settings can still be opened without the data." if state is not None else "."
    return ViewDataMissingError(gone + where + offer, what=what, digest=digest, view_id=view_id, state=state)


class ViewStoreBase:
    """The rules both view stores share; a store supplies :meth:`_session` and nothing else.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> store = ViewStore(pathlib.Path(tempfile.mkdtemp()) / "views.sqlite3")
    >>> store.put_texts(["tea", "rain"]) == store.put_texts(["tea", "rain"])  # stored once
    True
    >>> link = store.shorten({"page": "search", "selection": list(range(1000))})
    >>> list(link["selection"]), len(store.selection(link["selection"]["stored"]))
    (['stored'], 1000)
    >>> view_id = store.save({"page": "explorer", "dataset": "notes"}, ["tea", "rain"], name="Notes")
    >>> store.rename(view_id, "Tea notes").name
    'Tea notes'
    >>> copy = store.import_view(store.export(view_id), author="ben@example.com")
    >>> store.open(copy).texts, store.open(copy).author
    (['tea', 'rain'], 'ben@example.com')
    >>> store.delete(view_id), store.delete(view_id)
    (True, False)
    >>> store.open(view_id)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    embedcore.errors.ViewNotFoundError: There is no saved view with the id '...': it was deleted, ...
    >>> store.prune(unused_days=0)  # the selection and the texts no view uses any more
    1
    """

    @contextmanager
    def _session(self, write: bool) -> Iterator[Run]:
        """A runner ``run(sql, params) -> cursor``, inside one transaction when ``write``."""
        raise NotImplementedError
        yield  # pragma: no cover

    # --- data by digest ------------------------------------------------------------------

    @staticmethod
    def _put_texts(run: Run, texts: list[str], labels: list | None) -> str:
        digest = texts_digest(texts, labels)
        now = time.time()
        run(
            "INSERT INTO embedcore_view_data (digest, texts, labels, n_texts, created, last_used) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO UPDATE SET last_used = excluded.last_used",
            (digest, json.dumps(texts), None if labels is None else json.dumps(labels), len(texts), now, now),
        )
        return digest

    def put_texts(self, texts: Sequence[str], labels: Sequence | None = None) -> str:
        """Store texts (and labels) under their digest, once however often they are put; the digest."""
        texts, labels = check_texts(texts, labels)
        with self._session(write=True) as run:
            return self._put_texts(run, texts, labels)

    def texts(self, digest: str) -> tuple[list[str], list | None]:
        """The texts and labels stored under ``digest``.

        Raises
        ------
        ViewDataMissingError
            Nothing is stored under it (pruned, or put on another deployment).
        """
        with self._session(write=True) as run:
            row = run(
                "SELECT texts, labels FROM embedcore_view_data WHERE digest = ?", (str(digest),)
            ).fetchone()
            if row is None:
                raise _missing("texts", str(digest))
            run("UPDATE embedcore_view_data SET last_used = ? WHERE digest = ?", (time.time(), digest))
        return json.loads(row[0]), None if row[1] is None else json.loads(row[1])

    def put_selection(self, rows: Sequence[int]) -> str:
        """Store a row list (sorted, without repeats) under its digest; the digest."""
        rows = check_rows(rows)
        digest, now = rows_digest(rows), time.time()
        with self._session(write=True) as run:
            run(
                "INSERT INTO embedcore_view_selections (digest, rows, n_rows, created, last_used) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (digest) DO UPDATE SET last_used = excluded.last_used",
                (digest, json.dumps(rows), len(rows), now, now),
            )
        return digest

    @staticmethod
    def _selection(run: Run, digest: str) -> list[int] | None:
        row = run("SELECT rows FROM embedcore_view_selections WHERE digest = ?", (digest,)).fetchone()
        if row is not None:
            run("UPDATE embedcore_view_selections SET last_used = ? WHERE digest = ?", (time.time(), digest))
        return None if row is None else json.loads(row[0])

    def selection(self, digest: str) -> list[int]:
        """The row list stored under ``digest`` (ViewDataMissingError when it is not)."""
        with self._session(write=True) as run:
            rows = self._selection(run, str(digest))
        if rows is None:
            raise _missing("selection", str(digest))
        return rows

    def shorten(self, state: dict, *, inline: int = INLINE_ROWS) -> dict:
        """The state with each row list longer than ``inline`` stored and named ``{"stored": digest}``.

        What a link's URL carries: its length no longer grows with the selection.
        """
        state = check_state(state)
        for key in ROW_KEYS:
            value = state.get(key)
            if isinstance(value, list) and len(value) > inline:
                state[key] = {"stored": self.put_selection(value)}
        return state

    # --- views ---------------------------------------------------------------------------

    def save(
        self,
        state: dict,
        texts: Sequence[str],
        labels: Sequence | None = None,
        coordinates: Any = None,
        *,
        name: str = "",
        author: str | None = None,
    ) -> str:
        """Save a view; its new, unguessable id.

        Parameters
        ----------
        state : dict
            JSON-able settings; ``selection`` / ``isolated`` may be row lists or
            ``{"stored": digest}`` of a stored one (read back into the list here).
        texts : sequence of str
        labels : sequence, optional
            One per text.
        coordinates : array-like of shape (n_texts, 2 or 3), optional
            The map as drawn, kept as float32.
        name : str
            ``""``: "Untitled view".
        author : str, optional
            Who saves it (the signed-in email).

        Raises
        ------
        InputError
            A state, texts, labels or coordinates that cannot be stored (the message says which).
        ViewDataMissingError
            The state names a stored selection that is not stored.
        """
        state = check_state(state)
        texts, labels = check_texts(texts, labels)
        coords = check_coordinates(coordinates, len(texts))
        name, author = check_name(name), check_author(author)
        view_id = new_view_id()
        with self._session(write=True) as run:
            for key in ROW_KEYS:
                digest = stored_reference(state.get(key))
                if digest is not None:
                    rows = self._selection(run, digest)
                    if rows is None:
                        raise _missing("selection", digest)
                    state[key] = rows
                if state.get(key) is not None:
                    check_rows(state[key], len(texts), what=key)
            digest = self._put_texts(run, texts, labels)
            run(
                "INSERT INTO embedcore_views (id, name, author, created, dataset, model, n_texts, state, "
                "data_digest, coordinates, coord_dims) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    view_id,
                    name,
                    author,
                    time.time(),
                    str(state.get("dataset") or ""),
                    str(state.get("model") or ""),
                    len(texts),
                    json.dumps(state),
                    digest,
                    None if coords is None else coords.astype("<f4").tobytes(),
                    None if coords is None else coords.shape[1],
                ),
            )
        return view_id

    def open(self, view_id: str) -> SavedView:
        """The view as it was saved.

        Raises
        ------
        ViewNotFoundError
            No view has this id.
        ViewDataMissingError
            Its texts are gone; the error's ``state`` holds the view's settings.
        """
        view_id = check_id(view_id)
        with self._session(write=True) as run:
            row = run(
                "SELECT name, author, created, state, data_digest, coordinates, coord_dims "
                "FROM embedcore_views WHERE id = ?",
                (view_id,),
            ).fetchone()
            if row is None:
                raise not_found(view_id)
            data = run("SELECT texts, labels FROM embedcore_view_data WHERE digest = ?", (row[4],)).fetchone()
            if data is not None:
                run("UPDATE embedcore_view_data SET last_used = ? WHERE digest = ?", (time.time(), row[4]))
        state = json.loads(row[3])
        if data is None:
            raise _missing("texts", row[4], view_id, state)
        coords = (
            None if row[5] is None else np.frombuffer(bytes(row[5]), dtype="<f4").reshape(-1, row[6]).copy()
        )
        return SavedView(
            id=view_id,
            name=row[0],
            author=row[1],
            created=utc(row[2]),
            state=state,
            texts=json.loads(data[0]),
            labels=None if data[1] is None else json.loads(data[1]),
            coordinates=coords,
            data_digest=row[4],
        )

    def info(self, view_id: str) -> ViewInfo:
        """What the list shows of one view (ViewNotFoundError when there is none)."""
        view_id = check_id(view_id)
        with self._session(write=False) as run:
            row = run(f"SELECT {_LIST_COLUMNS} FROM embedcore_views WHERE id = ?", (view_id,)).fetchone()
        if row is None:
            raise not_found(view_id)
        return info_from_row(row)

    def list(self, *, author: str | None = None) -> list[ViewInfo]:
        """The saved views, newest first (only ``author``'s when given)."""
        where, params = ("WHERE author = ?", (author,)) if author is not None else ("", ())
        with self._session(write=False) as run:
            rows = run(
                f"SELECT {_LIST_COLUMNS} FROM embedcore_views {where} ORDER BY created DESC, id", params
            ).fetchall()
        return [info_from_row(r) for r in rows]

    def rename(self, view_id: str, name: str) -> ViewInfo:
        """Give a view another name (ViewNotFoundError when there is no such view)."""
        view_id, name = check_id(view_id), check_name(name)
        with self._session(write=True) as run:
            if run("UPDATE embedcore_views SET name = ? WHERE id = ?", (name, view_id)).rowcount == 0:
                raise not_found(view_id)
        return self.info(view_id)

    def delete(self, view_id: str) -> bool:
        """Delete a view; whether there was one. Its texts stay until :meth:`prune` finds them unused."""
        try:
            view_id = check_id(view_id)
        except LookupError:
            return False
        with self._session(write=True) as run:
            return run("DELETE FROM embedcore_views WHERE id = ?", (view_id,)).rowcount > 0

    def prune(self, *, unused_days: float = 30.0) -> int:
        """Delete texts no view uses and stored selections, unused for ``unused_days``; how many.

        A link made without saving a view names its texts and selection by digest only: they
        stay for ``unused_days`` after their last use, then such a link says its data is gone.
        """
        cutoff = time.time() - unused_days * 86400.0
        with self._session(write=True) as run:
            texts = run(
                "DELETE FROM embedcore_view_data WHERE last_used <= ? AND NOT EXISTS "
                "(SELECT 1 FROM embedcore_views v WHERE v.data_digest = embedcore_view_data.digest)",
                (cutoff,),
            ).rowcount
            rows = run("DELETE FROM embedcore_view_selections WHERE last_used <= ?", (cutoff,)).rowcount
        return texts + rows

    # --- files ---------------------------------------------------------------------------

    def export(self, view_id: str) -> str:
        """The view as a JSON file's text: state, texts, labels, coordinates (see ``read_export``)."""
        return json.dumps(export_view(self.open(view_id)), ensure_ascii=False)

    def import_view(self, payload: str | bytes | dict, *, author: str | None = None) -> str:
        """Save an exported view here under a new id, saved by ``author``.

        The file's own author is not taken over: a file can say anything, and the list shows who
        saved a view on this deployment.

        Raises
        ------
        ViewImportError
            The file is not an exported view or a field is wrong; the message names it.
        """
        found = read_export(payload)
        return self.save(
            found["state"],
            found["texts"],
            found["labels"],
            found["coordinates"],
            name=found["name"],
            author=author,
        )


def _set_up(conn: sqlite3.Connection) -> None:
    for statement in views_schema("BLOB", "REAL"):
        conn.execute(statement)


class ViewStore(SQLiteBacked, ViewStoreBase):
    """Saved views in one SQLite file (default ``views.sqlite3`` beside the embedding cache).

    Safe to share between threads and processes, like the embedding cache; survives restarts.

    Parameters
    ----------
    path : str or Path, optional
        The file. Default: :func:`~embedcore.stores.view_rules.default_views_path`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "views.sqlite3"
    >>> view_id = ViewStore(path).save({"dataset": "notes"}, ["tea"], name="Tea")
    >>> ViewStore(path).open(view_id).texts  # another store on the same file: a restart
    ['tea']
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_views_path()
        self.db = SQLiteFile(self.path, what="the saved views", setup=_set_up)
        self.db.connect()

    def __repr__(self) -> str:
        return f"ViewStore(path={str(self.path)!r})"

    @contextmanager
    def _session(self, write: bool) -> Iterator[Run]:
        with self.db.lock:
            if write:
                with immediate(self.db.connect()) as conn:
                    yield conn.execute
            else:
                yield self.db.connect().execute
