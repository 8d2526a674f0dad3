"""Links and saved views on the explorer (issue 22), through app.py in AppTest on the bundled model.

The browser tests (tests/browser/test_explorer_link.py) open links in a fresh chromium context;
these cover what a browser test would make slow: the query string's format, texts stored by
digest, isolated parts, stored selections, a saved view's stored map, and every way a link
can be broken (data gone, no such view, rows that do not fit).
"""

from __future__ import annotations

import numpy as np
import pytest

from embedcore import io as eio
from embedcore.stores.views import ViewStore
from tests.apptest import chart, map_xy, metrics, open_page, plain_messages
from ui.common import links

pytestmark = pytest.mark.slow

PAGE = "pages/explorer.py"


def _open(make_app, query: dict):
    at = make_app(timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return open_page(at, PAGE)


def _xy(at) -> dict[int, tuple[float, float]]:
    return map_xy(chart(at, "explorer_map"))


def test_the_address_to_copy_keeps_the_roots_slash_and_drops_the_old_query():
    """The Share box's address: ``http://host/?view=…`` as the browser shows it, not ``http://host?view=…``."""
    assert links.address_with("http://127.0.0.1:8501", {"view": "abc"}) == "http://127.0.0.1:8501/?view=abc"
    assert (
        links.address_with("https://x.example/search?q=old#top", {"q": "a b"})
        == "https://x.example/search?q=a+b"
    )
    assert links.address_with("", {"view": "abc"}) == "?view=abc"


def test_the_query_string_round_trips_settings_and_stores_long_selections(app_env):
    state = {"method": "umap", "params": {"n_neighbors": 15, "min_dist": 0.1}, "regex": False, "find": None}
    assert links.to_query(state) == {
        "method": "umap",
        "p.n_neighbors": "15",
        "p.min_dist": "0.1",
        "regex": "0",
    }
    assert links.from_query(links.to_query(state))["params"] == {"n_neighbors": "15", "min_dist": "0.1"}
    short = links.to_query({"selection": [5, 1, 9]})
    assert short == {"selection": "5.1.9"}
    many = list(range(0, 20_000, 2))  # 10,000 rows: stored, named by digest
    query = links.to_query({"selection": many})
    assert query["selection"].startswith("~") and len(query["selection"]) == 65
    assert links.from_query(query)["selection"] == many
    assert links.from_query({"selection": "1.x"}) == {}  # a mangled row list is left out


def test_a_link_restores_the_texts_it_stored_its_settings_isolated_part_and_selection(make_app, app_env):
    texts = [f"note {i}: " + ("tea and coffee" if i % 2 else "rain and snow") for i in range(40)]
    digest = ViewStore(app_env / "views.sqlite3").put_texts(texts)
    at = _open(
        make_app,
        {
            "data": f"texts:{digest}",
            "method": "pca",
            "dims": "2",
            "colour": "cluster",
            "k": "3",
            "find": "coffee",
            "isolated": ".".join(map(str, range(0, 30))),
            "selection": "3.5.7",
        },
    )
    assert at.radio(key="explorer_source").value == "link"
    assert metrics(at)["Texts"] == "40"
    assert at.session_state["explorer_method"] == "pca" and at.session_state["explorer_k"] == 3
    assert at.text_input(key="explorer_find").value == "coffee"
    shown = plain_messages(at.markdown)
    assert "Showing 30 of 40 texts" in shown, shown
    assert sorted(_xy(at)) == list(range(30))
    assert "3 selected" in [h.value for h in at.subheader] + [m.value for m in at.markdown], shown
    # The URL follows: the same link, written back.
    assert at.query_params["data"] == f"texts:{digest}"
    assert at.query_params["selection"] == "3.5.7"
    assert at.query_params["isolated"] == ".".join(map(str, range(30)))


def test_a_link_whose_texts_are_gone_says_so_and_opens_its_settings_alone(make_app):
    at = _open(make_app, {"data": "texts:" + "0" * 64, "method": "pca", "selection": "1.2"})
    said = plain_messages(at.info)
    assert "no longer stored here" in said and "settings" in said, said
    assert at.session_state["explorer_method"] == "pca"  # the settings are still the link's
    assert metrics(at)["Texts"] == "100"  # the default sample, said as such, never a traceback
    assert not at.exception


def test_a_link_to_no_saved_view_says_so(make_app):
    at = _open(make_app, {"view": "A" * 32})
    said = plain_messages(at.error) + plain_messages(at.warning) + plain_messages(at.info)
    assert "no saved view" in said.lower(), said
    assert metrics(at)["Texts"] == "100" and not at.exception


def test_a_saved_view_shows_its_stored_map_until_a_setting_changes(make_app, app_env):
    topics = eio.load_sample("topics")
    coords = np.random.default_rng(0).normal(size=(len(topics), 2)).astype(np.float32)
    view_id = ViewStore(app_env / "views.sqlite3").save(
        {"page": "explorer", "method": "pca", "dims": 2, "colour": "label", "selection": [4, 8]},
        topics.texts,
        topics.labels,
        coords,
        name="Fixed map",
    )
    at = _open(make_app, {"view": view_id})
    xy = _xy(at)
    assert np.allclose([xy[i] for i in range(len(topics))], coords, atol=1e-6)
    assert "the map as it was saved" in plain_messages(at.caption)
    # This cache never saw these texts: the view says it embedded them here.
    assert "This view's texts were embedded here: 100 of 100" in plain_messages(at.info)
    assert at.query_params["view"] == view_id  # a reload opens the same view
    # Another view of the same texts is computed as usual; the URL describes it.
    at.session_state["explorer_dims"] = 3
    at.run()
    assert "the map as it was saved" not in plain_messages(at.caption)
    assert "view" not in at.query_params and at.query_params["dims"] == "3"


def test_rows_that_do_not_fit_the_texts_are_dropped_with_a_notice(make_app):
    at = _open(make_app, {"data": "sample:topics", "method": "pca", "selection": "5.500"})
    assert "does not fit these texts" in plain_messages(at.info)
    assert not at.exception


def test_with_sign_in_only_allowed_people_open_a_saved_view_and_it_names_its_author(make_app, app_env):
    from tests.test_access import ACCESS, AUTH

    topics = eio.load_sample("topics")
    view_id = ViewStore(app_env / "views.sqlite3").save(
        {"page": "explorer", "method": "pca"}, topics.texts[:20], name="Team only", author="ana@example.com"
    )
    for who, allowed in (("bob@elsewhere.example", False), (None, False), ("carol@team.example", True)):
        at = make_app(secrets={"auth": AUTH, "access": ACCESS}, timeout=120)
        at.query_params["view"] = view_id
        if who is not None:
            at.user = {"is_logged_in": True, "email": who, "email_verified": True}
        at.switch_page(PAGE).run()
        assert not at.exception
        shown = [m.value for m in at.metric]
        if allowed:
            assert metrics(at)["Texts"] == "20", shown
        else:
            assert not shown and not at.sidebar.radio  # the gate: nothing of the app, nor of the view
            assert topics.texts[0] not in "\n".join(str(e.proto) for e in at.main)


def test_save_view_keeps_the_map_as_drawn_and_names_its_data_set(make_app, app_env):
    at = _open(make_app, {"data": "sample:topics", "method": "pca", "selection": "2.4"})
    drawn = _xy(at)
    at.text_input(key="explorer_view_name").input("Two picked")
    at.button(key="explorer_save_view").click().run()
    assert not at.exception
    [info] = ViewStore(app_env / "views.sqlite3").list()
    assert (info.name, info.dataset, info.n_texts) == ("Two picked", "topics", 100)
    view = ViewStore(app_env / "views.sqlite3").open(info.id)
    assert view.state["selection"] == [2, 4] and view.state["method"] == "pca"
    assert np.allclose(view.coordinates, [drawn[i] for i in range(100)], atol=1e-6)
    assert at.query_params["view"] == info.id  # the address bar names the saved view now
