"""The operator's ``link_texts`` on the explorer (AppTest through app.py, the bundled model).

``always`` (the default) is what tests/test_links.py covers: the URL names typed texts by digest.
Here: ``on_request`` keeps typed texts out of the store and the URL until the visitor presses
"Make a link to these texts"; ``never`` keeps them out for good and turns Save view off; a wrong
value closes the app with one message. The Saved views import and the search page's long
queries are in tests/test_views_page.py and tests/test_search_links.py.
"""

from __future__ import annotations

import sqlite3

import pytest

from embedcore.errors import ViewDataMissingError
from embedcore.stores.view_rules import check_texts, texts_digest
from embedcore.stores.views import ViewStore
from tests.apptest import plain_messages
from ui.common import state
from ui.explorer.share import MAKE_LINK, SAVE

pytestmark = pytest.mark.slow

PAGE = "pages/explorer.py"
TEXTS = ["The cat sat on the mat.", "Stock markets fell sharply.", "A dog chased the ball.", "Rain all week."]


def _pasted(make_app, mode: str, texts=TEXTS):
    """The explorer on ``link_texts = mode`` with ``texts`` pasted, after the run that embeds them."""
    at = make_app(
        secrets={"link_texts": mode},
        state={"explorer_method": "pca"},
        timeout=120,
    )
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.query_params["data"] == "sample:topics"  # a sample set is named in every mode
    assert not at.button(key=SAVE).disabled
    at.radio(key="explorer_source").set_value("paste").run()
    at.text_area(key="explorer_paste").set_value("\n".join(texts)).run()
    assert not at.exception, at.exception
    return at


def _digest(at) -> str:
    table = at.session_state[state.TEXTS]
    return texts_digest(*check_texts(table.texts, table.labels))


def _stored_texts(app_env) -> int:
    """How many text sets the view store holds (0 when the app never opened it)."""
    path = app_env / "views.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM embedcore_view_data").fetchone()[0]


def test_on_request_stores_typed_texts_only_once_a_link_is_asked_for(make_app, app_env):
    at = _pasted(make_app, "on_request")
    digest = _digest(at)
    assert "data" not in at.query_params and at.query_params["method"] == "pca"  # the settings alone
    assert _stored_texts(app_env) == 0
    assert "keeps texts you type only when you ask for a link" in plain_messages(at.caption)
    assert not at.button(key=SAVE).disabled  # saving is an explicit request too

    at.button(key=MAKE_LINK).click().run()
    assert not at.exception and not at.warning
    assert at.query_params["data"] == f"texts:{digest}"
    assert ViewStore(app_env / "views.sqlite3").texts(digest)[0] == TEXTS
    assert not [b for b in at.button if b.key == MAKE_LINK]  # linked: nothing more to ask
    assert "keeps texts you type" not in plain_messages(at.caption)
    at.run()
    assert at.query_params["data"] == f"texts:{digest}"  # and it stays named

    # Other texts are other texts: not stored until asked for again.
    at.text_area(key="explorer_paste").set_value("\n".join([*TEXTS, "One more line."])).run()
    assert "data" not in at.query_params
    assert _stored_texts(app_env) == 1
    assert at.button(key=MAKE_LINK) is not None


def test_never_keeps_typed_texts_out_of_links_and_saved_views(make_app, app_env):
    at = _pasted(make_app, "never")
    assert "data" not in at.query_params and at.query_params["method"] == "pca"
    assert _stored_texts(app_env) == 0
    with pytest.raises(ViewDataMissingError):
        ViewStore(app_env / "views.sqlite3").texts(_digest(at))
    assert "does not keep texts visitors type" in plain_messages(at.caption)
    save = at.button(key=SAVE)
    assert save.disabled and "views of a sample set can be saved" in save.help
    assert not [b for b in at.button if b.key == MAKE_LINK]


def test_a_wrong_link_texts_is_one_message_naming_the_setting(make_app):
    at = make_app(secrets={"link_texts": "sometimes"})
    at.run()
    assert not at.exception and len(at.error) == 1
    said = plain_messages(at.error)
    assert "link_texts in the app's secrets must be" in said and '"on_request"' in said


def test_a_wrong_environment_variable_is_fixed_where_it_is_set(make_app, monkeypatch):
    """The closed app points the operator at what is wrong: the variable, not secrets.toml."""
    monkeypatch.setenv("EMBEDCORE_LINK_TEXTS", "sometimes")
    at = make_app()
    at.run()
    assert not at.exception and len(at.error) == 1
    assert "EMBEDCORE_LINK_TEXTS must be" in plain_messages(at.error)
    advice = plain_messages(at.caption)
    assert "environment" in advice and "EMBEDCORE_LINK_TEXTS" in advice

    monkeypatch.delenv("EMBEDCORE_LINK_TEXTS")
    monkeypatch.setenv("EMBEDCORE_BUDGET_TOKENS_PER_DAY", "-1")  # a family of variables: named as one
    at = make_app()
    at.run()
    assert "environment (`EMBEDCORE_BUDGET_*`)" in plain_messages(at.caption)

    monkeypatch.delenv("EMBEDCORE_BUDGET_TOKENS_PER_DAY")
    at = make_app(secrets={"link_texts": "sometimes"})
    at.run()
    advice = plain_messages(at.caption)
    assert "secrets.toml" in advice and "environment" not in advice


def test_never_opens_a_saved_view_of_a_sample_set_as_that_sample_set(make_app, app_env):
    """A saved view of a sample set is not a visitor's texts: under ``never`` it can be saved again."""
    from embedcore import io as eio

    topics = eio.load_sample("topics")
    view_id = ViewStore(app_env / "views.sqlite3").save(
        {"page": "explorer", "data": "sample:topics", "method": "pca"},
        topics.texts,
        topics.labels,
        name="Topics",
    )
    at = make_app(secrets={"link_texts": "never"}, timeout=120)
    at.query_params["view"] = view_id
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.radio(key="explorer_source").value == "sample"
    assert "does not keep texts visitors type" not in plain_messages(at.caption)
    assert not at.button(key=SAVE).disabled
