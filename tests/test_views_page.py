"""AppTest tests of the Saved views page (issue 22): the list of views a real ViewStore saved on the
app's own cache directory, renaming (and a name the store refuses), deleting after a confirmation,
importing an exported file (and a broken one), and Open switching to the explorer on ``?view=<id>``."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest

from embedcore import io as eio
from embedcore.stores.views import ViewStore
from tests.apptest import frame_with, open_page, plain_messages
from ui.views import keys, table

PAGE = "pages/views.py"


@pytest.fixture
def store(app_env):
    """A ViewStore on the file the app opens (``views.sqlite3`` beside the cache of ``app_env``)."""
    app_env.mkdir(parents=True, exist_ok=True)
    views = ViewStore(app_env / "views.sqlite3")
    yield views
    views.close()


def save(store, name: str, texts=("tea", "rain", "snow"), model="minishlab/potion-base-8M") -> str:
    coords = np.arange(len(texts) * 2, dtype=np.float32).reshape(-1, 2)
    return store.save(
        {"page": "explorer", "dataset": "pasted", "model": model}, list(texts), coordinates=coords, name=name
    )


def views_page(make_app):
    return open_page(make_app(timeout=120), PAGE)


def test_the_table_module_examples_run():
    assert doctest.testmod(table).failed == 0


def test_without_views_the_page_says_how_to_save_one(make_app, store):
    at = views_page(make_app)
    said = plain_messages(at.info)
    assert "No saved views yet" in said and "**Share** → **Save view**" in said
    assert keys.SELECT not in [s.key for s in at.selectbox]  # nothing to choose
    assert at.get("file_uploader")  # importing is still offered


def test_the_list_shows_the_saved_views_newest_first(make_app, store):
    first = save(store, "Drinks")
    second = save(store, "Weather", texts=("sun", "fog"))
    at = views_page(make_app)
    shown = frame_with(at, "created")
    assert list(shown["name"]) == ["Weather", "Drinks"]
    assert list(shown["texts"]) == [2, 3]
    assert list(shown["data set"]) == ["pasted", "pasted"]
    assert "author" not in shown.columns  # nobody signs in here and no view has an author
    assert shown["created"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC").all()
    chooser = at.selectbox(key=keys.SELECT)
    labels = table.choice_labels([store.info(second), store.info(first)])
    assert chooser.options == list(labels.values())
    assert chooser.value == second  # the newest is chosen first


def test_an_author_column_appears_when_a_view_has_one(make_app, store):
    store.import_view(store.export(save(store, "Drinks")), author="ana@example.com")
    shown = frame_with(views_page(make_app), "created")
    assert list(shown["author"]) == ["ana@example.com", ""]


def test_rename_and_a_name_the_store_refuses(make_app, store):
    view_id = save(store, "Drinks")
    at = views_page(make_app)
    at.text_input(key=f"views_rename_{view_id}").set_value("Hot drinks")
    at.button(key="views_rename").click().run()
    assert not at.exception
    assert store.info(view_id).name == "Hot drinks"
    assert "Renamed **Drinks** to **Hot drinks**" in "\n".join(s.value for s in at.success)
    assert list(frame_with(at, "created")["name"]) == ["Hot drinks"]

    at.text_input(key=f"views_rename_{view_id}").set_value("tea\tcups")
    at.button(key="views_rename").click().run()
    assert not at.exception and not at.error
    assert "cannot contain control characters" in plain_messages(at.warning)
    assert store.info(view_id).name == "Hot drinks"  # unchanged


def test_delete_asks_first_and_cancel_keeps_the_view(make_app, store):
    keep, gone = save(store, "Keep me"), save(store, "Delete me")
    at = views_page(make_app)
    assert at.selectbox(key=keys.SELECT).value == gone
    at.button(key="views_delete").click().run()
    assert "Delete the view **Delete me**?" in "\n".join(w.value for w in at.warning)
    at.button(key="views_delete_no").click().run()
    assert [i.id for i in store.list()] == [gone, keep]  # cancelled: nothing deleted
    assert not at.warning

    at.button(key="views_delete").click().run()
    at.button(key="views_delete_yes").click().run()
    assert not at.exception
    assert [i.id for i in store.list()] == [keep]
    assert "Deleted the view **Delete me**" in "\n".join(s.value for s in at.success)
    assert list(frame_with(at, "created")["name"]) == ["Keep me"]
    assert at.selectbox(key=keys.SELECT).value == keep


def test_the_chosen_view_can_be_downloaded(make_app, store):
    # What the file holds and its name are checked in chromium (tests/browser/test_saved_views.py):
    # AppTest has no media server to fetch it from.
    save(store, "Drinks / 2026")
    at = views_page(make_app)
    (button,) = at.get("download_button")
    assert button.proto.label == "Download as JSON" and not button.proto.disabled
    assert button.proto.url.endswith(".json")
    assert table.file_name("Drinks / 2026") == "Drinks-2026.json"


def test_a_view_whose_texts_are_gone_says_so_and_can_still_be_chosen(make_app, store):
    import sqlite3

    gone = save(store, "Evicted")
    with sqlite3.connect(store.path) as db:  # as on a deployment that lost the texts
        db.execute("DELETE FROM embedcore_view_data")
    at = views_page(make_app)
    assert not at.exception
    assert "The texts of this view" in plain_messages(at.error) and "no longer stored here" in plain_messages(
        at.error
    )
    assert at.get("download_button")[0].proto.disabled
    assert at.selectbox(key=keys.SELECT).value == gone  # still listed, renamed, deleted, opened
    assert not at.button(key="views_open").disabled


def test_renaming_to_the_same_name_says_so(make_app, store):
    view_id = save(store, "Drinks")
    at = views_page(make_app)
    at.button(key="views_rename").click().run()
    assert "already called **Drinks**" in "\n".join(i.value for i in at.info)
    assert store.info(view_id).name == "Drinks"


def uploader(at):
    """The import uploader, whatever generation its key is at (a refused file starts it afresh)."""
    (found,) = [u for u in at.file_uploader if u.key.startswith(keys.IMPORT)]
    return found


def test_an_exported_file_imports_as_a_new_view_chosen_with_open(make_app, store):
    original = save(store, "Drinks")
    exported = store.export(original).encode("utf-8")
    at = views_page(make_app)
    uploader(at).upload("Drinks.json", exported, "application/json").run()
    assert not at.exception and not at.error, plain_messages(at.error)
    views = store.list()
    assert len(views) == 2 and views[1].id == original
    copy = views[0]
    assert copy.name == "Drinks" and copy.author is None  # nobody signed in: no author taken from the file
    assert store.open(copy.id).texts == ["tea", "rain", "snow"]
    assert at.selectbox(key=keys.SELECT).value == copy.id  # the imported view is chosen
    said = plain_messages(at.success)
    assert "Imported **Drinks** (3 texts) from Drinks.json" in said
    assert "embedded again with **minishlab/potion-base-8M**" in said
    assert uploader(at).key != keys.IMPORT  # emptied: the file would import again on every run
    at.run()
    assert len(store.list()) == 2  # a rerun imports nothing more


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "is not JSON"),
        (b'{"format": "something else"}', 'is not an exported view (no "format": "embedcore.view")'),
        (b"\xff\xfe binary", "is not UTF-8 text"),
    ],
    ids=["not-json", "not-a-view", "binary"],
)
def test_a_broken_file_is_refused_with_one_clear_message_and_the_list_stays(make_app, store, data, reason):
    save(store, "Drinks")
    at = views_page(make_app)
    uploader(at).upload("broken.json", data, "application/json").run()
    assert not at.exception and not at.error
    assert len(at.warning) == 1
    warning = plain_messages(at.warning)
    assert warning.startswith("broken.json: The ") and reason in warning
    assert list(frame_with(at, "created")["name"]) == ["Drinks"]  # the list is still there
    assert len(store.list()) == 1
    assert uploader(at).key != keys.IMPORT  # the refused file does not look accepted


def test_a_file_whose_texts_were_edited_after_export_is_refused(make_app, store):
    exported = json.loads(store.export(save(store, "Drinks")))
    exported["texts"][0] = "coffee"
    at = views_page(make_app)
    uploader(at).upload("edited.json", json.dumps(exported).encode(), "application/json").run()
    assert not at.exception
    assert 'do not match its "data_digest"' in plain_messages(at.warning)
    assert len(store.list()) == 1


def test_with_link_texts_never_only_views_of_a_sample_set_are_imported(make_app, store):
    topics = eio.load_sample("topics").texts
    sample = store.save({"page": "explorer", "data": "sample:topics"}, topics[:5], name="Topics part")
    pasted = save(store, "Drinks")
    files = {view_id: store.export(view_id).encode("utf-8") for view_id in (sample, pasted)}
    at = open_page(make_app(secrets={"link_texts": "never"}, timeout=120), PAGE)
    uploader(at).upload("Drinks.json", files[pasted], "application/json").run()
    assert not at.exception and not at.error
    assert plain_messages(at.warning) == (
        "Drinks.json: This app does not keep texts visitors bring, so only views of its sample sets "
        "can be imported here."
    )
    assert len(store.list()) == 2
    uploader(at).upload("Topics.json", files[sample], "application/json").run()
    assert not at.exception and not at.warning
    assert len(store.list()) == 3 and "Imported **Topics part** (5 texts)" in plain_messages(at.success)


def test_open_switches_to_the_explorer_on_the_view_link(make_app, store):
    save(store, "Older")
    view_id = save(store, "Drinks")
    at = views_page(make_app)
    at.button(key="views_open").click().run()
    assert not at.exception
    # AppTest follows st.switch_page: the explorer ran, on the saved view's link.
    assert [t.value for t in at.title] == ["Similarity explorer"]
    assert at.query_params.get("view") in (view_id, [view_id])


def test_signed_in_only_mine_and_imports_under_the_visitor(make_app, store):
    from tests.test_access import AUTH

    theirs = save(store, "Ana's")
    store.import_view(store.export(theirs), author="ana@example.com")
    at = make_app(secrets={"auth": AUTH}, timeout=120)
    at.user = {"is_logged_in": True, "email": "Ben@Example.com"}
    open_page(at, PAGE)
    shown = frame_with(at, "created")
    assert list(shown["author"]) == ["ana@example.com", ""]

    at.toggle(key=keys.ONLY_MINE).set_value(True).run()
    assert "You have saved no views yet" in plain_messages(at.info)
    uploader(at).upload("anas.json", store.export(theirs).encode(), "application/json").run()
    assert not at.exception and not at.error
    (mine,) = store.list(author="ben@example.com")  # the signed-in visitor, not the file's author
    assert list(frame_with(at, "created")["author"]) == ["ben@example.com"]
    assert at.selectbox(key=keys.SELECT).value == mine.id
