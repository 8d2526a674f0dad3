"""Saved and shared views (issue 22, the engine): both stores, the same rules.

Every behaviour runs on SQLite and on a real PostgreSQL + pgvector (``store_kind``); a restart is
a new store object on the same file, a second server is a second store with its own connection
pool on the same database. "Data gone" is made the way it happens in production: rows deleted
behind the store's back (an operator, another deployment), or pruned.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest

from embedcore.errors import InputError, ViewDataMissingError, ViewImportError, ViewNotFoundError
from embedcore.stores.database import SCHEMA_VERSION, Database
from embedcore.stores.pg_views import PostgresViewStore
from embedcore.stores.protocols import Views
from embedcore.stores.storage import StoreSettings, open_stores
from embedcore.stores.view_rules import read_export, texts_digest
from embedcore.stores.views import INLINE_ROWS, ViewStore, views_schema

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["the tea is cold", "rain on the window", "a late train", "the kettle sings"]
LABELS = ["drink", "weather", "travel", "drink"]
COORDS = np.array([[0.125, -1.5], [3.25, 0.1], [-2.0, 7.75], [1e-7, 2.5]], dtype=np.float32)
STATE = {
    "page": "explorer",
    "dataset": "kitchen notes",
    "provider": "local",
    "model": "all-MiniLM-L6-v2",
    "method": "umap",
    "params": {"n_neighbors": 15, "min_dist": 0.1},
    "dims": 2,
    "colour": "label",
    "find": "tea",
    "isolated": [0, 1, 3],
    "selection": [0, 3],
}


@pytest.fixture
def views(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest):
    if store_kind == "sqlite":
        store = ViewStore(tmp_path / "views.sqlite3")
    else:
        store = PostgresViewStore(request.getfixturevalue("database_url"))
    yield store
    store.close()


def delete_rows(store, table: str) -> None:
    """Delete every row of ``table`` behind the store's back (another process, an operator)."""
    if isinstance(store, ViewStore):
        with sqlite3.connect(store.path) as conn:
            conn.execute(f"DELETE FROM {table}")
    else:
        with store.database.transaction() as conn:
            conn.execute(f"DELETE FROM {table}")


def count_rows(store, table: str) -> int:
    if isinstance(store, ViewStore):
        with sqlite3.connect(store.path) as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    with store.database.connection() as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_a_view_opens_as_it_was_saved(views) -> None:
    assert isinstance(views, Views)
    view_id = views.save(STATE, TEXTS, LABELS, COORDS, name=" Three clusters ", author="ana@example.com")
    view = views.open(view_id)
    assert view.id == view_id and view.name == "Three clusters" and view.author == "ana@example.com"
    assert view.state == STATE and view.texts == TEXTS and view.labels == LABELS
    assert view.coordinates.dtype == np.float32 and np.array_equal(view.coordinates, COORDS)
    assert view.data_digest == texts_digest(TEXTS, LABELS)
    (info,) = views.list()
    assert (info.id, info.name, info.author, info.dataset, info.model, info.n_texts) == (
        view_id,
        "Three clusters",
        "ana@example.com",
        "kitchen notes",
        "all-MiniLM-L6-v2",
        4,
    )
    assert info.created == view.created and info.created.tzinfo is not None
    three_d = views.save({**STATE, "dims": 3}, TEXTS, coordinates=np.arange(12).reshape(4, 3))
    assert views.open(three_d).coordinates.shape == (4, 3) and views.open(three_d).labels is None
    assert views.open(views.save({}, TEXTS)).coordinates is None
    # Settings that merely mention tokens are settings.
    assert views.open(views.save({"max_tokens": 512}, TEXTS)).state == {"max_tokens": 512}


def test_list_rename_and_delete(views) -> None:
    first = views.save(STATE, TEXTS, name="first", author="ana@example.com")
    second = views.save({"dataset": "other"}, ["x"], name="second", author="ben@example.com")
    assert [v.id for v in views.list()] == [second, first]  # newest first
    assert [v.id for v in views.list(author="ana@example.com")] == [first]
    assert views.rename(first, "  renamed ").name == "renamed"
    assert views.open(first).name == "renamed" and views.info(first).name == "renamed"
    assert views.delete(first) is True and views.delete(first) is False
    assert [v.id for v in views.list()] == [second]
    with pytest.raises(ViewNotFoundError, match="deleted, or made on another deployment"):
        views.open(first)
    with pytest.raises(ViewNotFoundError):
        views.rename(first, "again")


def test_ids_are_unguessable_and_unique(views) -> None:
    ids = [views.save({"n": i}, ["same text"]) for i in range(200)]
    assert len(set(ids)) == 200
    for view_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", view_id)
        assert len(base64.urlsafe_b64decode(view_id)) * 8 >= 128
    # Neighbouring ids share no prefix worth guessing from (random, not a counter or a clock).
    assert len({view_id[:6] for view_id in ids}) == 200
    with pytest.raises(ViewNotFoundError, match="There is no saved view with the id"):
        views.open(ids[0][:-1] + ("A" if ids[0][-1] != "A" else "B"))
    for bad in ("", "1", "../../etc/passwd", "x" * 500):
        with pytest.raises(ViewNotFoundError):
            views.open(bad)


def test_the_same_data_is_stored_once(views) -> None:
    a = views.save(STATE, TEXTS, LABELS, COORDS, name="a")
    b = views.save({**STATE, "find": "rain"}, TEXTS, LABELS, COORDS * 2, name="b")
    assert views.put_texts(TEXTS, LABELS) == views.open(a).data_digest == views.open(b).data_digest
    assert count_rows(views, "embedcore_view_data") == 1
    # Other labels are other data; so are the same texts in another order.
    views.save(STATE, TEXTS, ["x"] * 4)
    views.save({}, TEXTS[::-1])
    assert count_rows(views, "embedcore_view_data") == 3
    # Each view keeps its own picture of the shared texts.
    assert np.array_equal(views.open(b).coordinates, COORDS * 2)


def test_a_view_whose_texts_are_gone_says_so_and_keeps_its_settings(views) -> None:
    view_id = views.save(STATE, TEXTS, LABELS, COORDS, name="gone")
    digest = views.open(view_id).data_digest
    delete_rows(views, "embedcore_view_data")
    with pytest.raises(ViewDataMissingError) as caught:
        views.open(view_id)
    error = caught.value
    assert error.what == "texts" and error.digest == digest and error.view_id == view_id
    assert error.state == STATE  # what the UI can still offer: the settings without the data
    assert str(error) == (
        f"The texts of this view (digest {digest[:12]}…) are no longer stored here: deleted, or the view "
        "was made on another deployment; its settings can still be opened without the data."
    )
    assert views.info(view_id).name == "gone"  # the list still shows it
    with pytest.raises(
        ViewDataMissingError, match=r"^The texts this link names \(digest .*the link was made"
    ):
        views.texts(digest)


def test_big_selections_are_stored_server_side_and_the_link_stays_short(views) -> None:
    texts = [f"text {i}" for i in range(20_000)]
    state = {**STATE, "selection": list(range(0, 20_000, 2)), "isolated": list(range(19_000))}
    short = views.shorten(state)
    assert set(short["selection"]) == {"stored"} and set(short["isolated"]) == {"stored"}
    assert short["find"] == "tea" and short["params"] == STATE["params"]
    url = "https://app.example/explorer?" + urlencode({"view": json.dumps(short)})
    assert len(url) < 2000
    assert views.selection(short["selection"]["stored"]) == state["selection"]
    # A short list stays in the link itself.
    assert views.shorten({"selection": list(range(INLINE_ROWS))})["selection"] == list(range(INLINE_ROWS))
    # Saving the link's state reads the stored rows back into the view.
    view = views.open(views.save(short, texts))
    assert view.state["selection"] == state["selection"] and view.state["isolated"] == state["isolated"]
    assert views.put_selection([4, 2, 2]) == views.put_selection([2, 4])
    assert count_rows(views, "embedcore_view_selections") == 3


def test_a_link_whose_selection_is_gone_says_so(views) -> None:
    short = views.shorten({"selection": list(range(500))})
    digest = short["selection"]["stored"]
    delete_rows(views, "embedcore_view_selections")
    with pytest.raises(
        ViewDataMissingError,
        match=f"^The selection this link names \\(digest {digest[:12]}…\\) is no longer stored here",
    ):
        views.selection(digest)
    with pytest.raises(ViewDataMissingError) as caught:
        views.save(short, [f"t{i}" for i in range(500)])
    assert caught.value.what == "selection" and caught.value.digest == digest
    assert views.list() == []  # nothing half-saved


def test_prune_keeps_what_views_use(views) -> None:
    kept = views.save(STATE, TEXTS, LABELS)
    loose = views.put_texts(["only in a link"])
    rows = views.put_selection(list(range(100)))
    assert views.prune(unused_days=1) == 0  # just used
    assert views.prune(unused_days=0) == 2
    assert views.open(kept).texts == TEXTS
    with pytest.raises(ViewDataMissingError):
        views.texts(loose)
    with pytest.raises(ViewDataMissingError):
        views.selection(rows)


def test_bad_views_are_refused_and_nothing_is_stored(views) -> None:
    cases = [
        ({**STATE, "api_token": "sk-123"}, TEXTS, None, "tokens and passwords are never stored"),
        ({"base_url": "https://me:pw@host/v1"}, TEXTS, None, "URL with a password"),
        ({"auth": {"Client-Secret": "x"}}, TEXTS, None, "cannot hold 'Client-Secret'"),
        ({"openai_api_key": "x"}, TEXTS, None, "cannot hold 'openai_api_key'"),
        ({"x": float("nan")}, TEXTS, None, "plain JSON"),
        ({"x": object()}, TEXTS, None, "plain JSON"),
        ({**STATE, "selection": [9]}, TEXTS, None, "selection names row 9, but it has 4 texts"),
        ({**STATE, "selection": [-1]}, TEXTS, None, "not a row number"),
        (STATE, TEXTS, COORDS[:3], "4 texts but 3 map coordinates"),
        (STATE, TEXTS, np.full((4, 2), np.nan), "NaN or infinite"),
        (STATE, TEXTS, np.zeros((4, 5)), r"shape \(n_texts, 2 or 3\)"),
        (STATE, [], None, "at least one text"),
        (STATE, ["a\x00b"], None, "NUL"),
        ("explorer", TEXTS, None, "must be a dict"),
        ({"find": "x" * 70_000}, TEXTS, None, "settings are 70,011 bytes"),
    ]
    for state, texts, coords, message in cases:
        with pytest.raises(InputError, match=message):
            views.save(state, texts, coordinates=coords)
    with pytest.raises(InputError, match="1 texts but 2 labels"):
        views.save({}, ["a"], ["x", "y"])
    assert views.list() == [] and count_rows(views, "embedcore_view_data") == 0


def test_export_and_import_round_trip(views, tmp_path: Path) -> None:
    view_id = views.save(STATE, TEXTS, LABELS, COORDS, name="to share", author="ana@example.com")
    exported = views.export(view_id)
    payload = json.loads(exported)
    assert payload["texts"] == TEXTS and payload["state"] == STATE and payload["format"] == "embedcore.view"
    assert payload["author"] == "ana@example.com"
    # Into another deployment (a fresh SQLite store), and back into this one.
    elsewhere = ViewStore(tmp_path / "elsewhere" / "views.sqlite3")
    for target in (elsewhere, views):
        new_id = target.import_view(exported.encode("utf-8"), author="ben@example.com")
        view = target.open(new_id)
        assert new_id != view_id and view.author == "ben@example.com" and view.name == "to share"
        assert view.state == STATE and view.texts == TEXTS and view.labels == LABELS
        assert np.array_equal(view.coordinates, COORDS)  # float32 survives JSON exactly
    # The file's author is not taken over (a file can say anything): who imports it saved it here.
    assert elsewhere.open(elsewhere.import_view(payload)).author is None
    elsewhere.close()
    assert count_rows(views, "embedcore_view_data") == 1


def test_a_big_selection_is_written_out_in_the_export(views) -> None:
    texts = [f"t{i}" for i in range(300)]
    view_id = views.save(views.shorten({"selection": list(range(200))}), texts)
    assert json.loads(views.export(view_id))["state"]["selection"] == list(range(200))


def good_export() -> dict:
    return {
        "format": "embedcore.view",
        "version": 1,
        "name": "n",
        "author": None,
        "state": dict(STATE),
        "texts": list(TEXTS),
        "labels": list(LABELS),
        "coordinates": COORDS.tolist(),
        "data_digest": texts_digest(TEXTS, LABELS),
    }


BAD_IMPORTS = [
    (b"\xff\xfe", "not UTF-8"),
    ("{not json", "not JSON"),
    ("[1, 2]", "not an exported view"),
    ({**good_export(), "format": "tensorboard"}, "not an exported view"),
    ({**good_export(), "version": 2}, '"version": 2; this app reads version 1'),
    ({k: v for k, v in good_export().items() if k != "texts"}, 'has no "texts"'),
    ({**good_export(), "texts": "one string"}, '"texts": A view\'s texts must be a list'),
    ({**good_export(), "labels": ["a"]}, '"texts": 4 texts but 1 labels'),
    ({**good_export(), "state": []}, '"state": A view\'s state must be a dict'),
    ({**good_export(), "state": {"password": "x"}}, '"state": .*never stored'),
    ({**good_export(), "coordinates": [[1, 2]]}, '"coordinates": The view has 4 texts but 1'),
    ({**good_export(), "coordinates": [["a", "b"]] * 4}, '"coordinates": .*must be numbers'),
    ({**good_export(), "texts": [*TEXTS[:3], "edited"]}, 'do not match its "data_digest"'),
    ({**good_export(), "state": {**STATE, "selection": [40]}}, '"state": .*row 40, but it has 4'),
    ({**good_export(), "state": {"selection": {"stored": "0" * 64}}}, "names a stored selection"),
    ({**good_export(), "name": 7}, '"name": .*must be text'),
]


@pytest.mark.parametrize(("payload", "message"), BAD_IMPORTS, ids=lambda v: str(v)[:30])
def test_a_bad_file_is_refused_naming_what_is_wrong(payload, message, tmp_path: Path) -> None:
    store = ViewStore(tmp_path / "views.sqlite3")
    text = json.dumps(payload) if isinstance(payload, dict) else payload
    with pytest.raises(ViewImportError, match=message):
        store.import_view(text)
    assert store.list() == []
    read_export(good_export())  # the good file the bad ones were made from is read


def test_bad_import_is_refused_by_both_stores(views) -> None:
    with pytest.raises(ViewImportError, match="not an exported view"):
        views.import_view({"texts": TEXTS})
    assert views.list() == []


def test_sqlite_views_survive_a_restart(tmp_path: Path) -> None:
    # Saved by another process (a server that has since stopped), opened by this one.
    code = (
        "import sys, numpy as np; from embedcore.stores.storage import StoreSettings, open_stores; "
        "from tests.test_views_store import STATE, TEXTS, LABELS, COORDS; "
        "views = open_stores(StoreSettings(cache_dir=sys.argv[1])).views; "
        "print(views.save(STATE, TEXTS, LABELS, COORDS, name='kept'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    view_id = done.stdout.strip()
    assert (tmp_path / "views.sqlite3").is_file()  # beside the cache
    restarted = open_stores(StoreSettings(cache_dir=str(tmp_path)))
    view = restarted.views.open(view_id)
    assert view.name == "kept" and view.texts == TEXTS and np.array_equal(view.coordinates, COORDS)


def test_postgres_views_are_shared_by_two_servers(database_url: str) -> None:
    # Two stores, each with its own connection pool: two app servers on one database.
    with PostgresViewStore(database_url) as one, PostgresViewStore(database_url) as two:
        assert one.database is not two.database
        view_id = one.save(STATE, TEXTS, LABELS, COORDS, name="team view", author="ana@example.com")
        view = two.open(view_id)
        assert view.texts == TEXTS and np.array_equal(view.coordinates, COORDS)
        two.rename(view_id, "renamed by ben")
        assert [v.name for v in one.list()] == ["renamed by ben"]
        digest = two.put_selection(list(range(1000)))
        assert one.selection(digest) == list(range(1000))
        assert two.delete(view_id)
        with pytest.raises(ViewNotFoundError):
            one.open(view_id)


def test_open_stores_chooses_the_views_store(store_kind: str, tmp_path: Path, request) -> None:
    if store_kind == "sqlite":
        stores = open_stores(StoreSettings(cache_dir=str(tmp_path)))
        assert type(stores.views) is ViewStore
    else:
        stores = open_stores(StoreSettings(database_url=request.getfixturevalue("database_url")))
        assert type(stores.views) is PostgresViewStore and stores.database.schema_version() == SCHEMA_VERSION
    assert stores.views is stores.views and isinstance(stores.views, Views)
    from embedcore.errors import DatabaseUnavailableError

    with pytest.raises(DatabaseUnavailableError):
        open_stores(error=DatabaseUnavailableError("down")).views  # noqa: B018


def test_both_backends_have_the_same_tables(database_url: str, tmp_path: Path) -> None:
    """The migration in database.py and the SQLite schema describe the same columns."""
    conn = sqlite3.connect(tmp_path / "schema.sqlite3")
    for statement in views_schema("BLOB", "REAL"):
        conn.execute(statement)
    tables = ("embedcore_view_data", "embedcore_view_selections", "embedcore_views")
    local = {t: [row[1] for row in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    with Database(database_url) as database, database.connection() as pg:
        remote = {
            t: [
                r[0]
                for r in pg.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "ORDER BY ordinal_position",
                    (t,),
                )
            ]
            for t in tables
        }
    assert local == remote and all(local.values())


def _process_saver(where: str, k: int, start_at: float) -> None:
    """A child process: wait for the common start, then save the same texts under five views."""
    import json
    import time

    store = PostgresViewStore(where) if where.startswith("postgres") else ViewStore(where)
    time.sleep(max(0.0, start_at - time.time()))
    ids = [store.save(STATE, TEXTS, LABELS, COORDS, name=f"child {k} view {i}") for i in range(5)]
    store.put_selection(list(range(1000)))  # the same long selection from every process
    store.close()
    print(json.dumps(ids))


def test_processes_saving_at_the_same_moment_keep_every_view_and_the_texts_once(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
):
    import json
    import subprocess
    import sys
    import time

    if store_kind == "sqlite":
        where = str(tmp_path / "views.sqlite3")
        ViewStore(where).close()
    else:
        where = request.getfixturevalue("database_url")
        PostgresViewStore(where).close()
    # Plain child interpreters (see tests/test_cache.py), released together at one wall-clock time.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from test_views_store import _process_saver; "
        "_process_saver(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))"
    )
    start_at = time.time() + 4.0
    here = str(Path(__file__).parent)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, here, where, str(k), str(start_at)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(4)
    ]
    outputs = [child.communicate(timeout=180)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0, 0, 0]
    ids = [view_id for out in outputs for view_id in json.loads(out.strip().splitlines()[-1])]
    assert len(ids) == len(set(ids)) == 20
    store = ViewStore(where) if store_kind == "sqlite" else PostgresViewStore(where)
    try:
        opened = [store.open(view_id) for view_id in ids]
        assert all(v.texts == TEXTS and np.array_equal(v.coordinates, COORDS) for v in opened)
        assert {v.data_digest for v in opened} == {texts_digest(TEXTS, LABELS)}  # stored once
        assert sorted(info.name for info in store.list()) == sorted(
            f"child {k} view {i}" for k in range(4) for i in range(5)
        )
    finally:
        store.close()
