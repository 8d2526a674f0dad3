"""The semantic-search page behind a link (issue 22): its URL, and a link opened in a new session.

The AppTest tests run the real page on the bundled model (all-MiniLM-L6-v2): one session
builds the sample collection and searches; ``at.query_params`` is then the address bar, and a
new session opened on it must show the same collection, form, results and map. The browser
version (another browser context, Plotly's figure in the DOM) is
tests/browser/test_search_link.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from embedcore.analysis import search
from embedcore.errors import ViewDataMissingError
from embedcore.stores.view_rules import VIEWS_FILENAME, texts_digest
from embedcore.stores.views import ViewStore
from tests.apptest import chart, frame_with, open_page, plain_messages, plotly_array
from ui.common import links
from ui.search import links as sl

QUERY = "rockets and astronauts"


@pytest.fixture
def app(make_app, app_env):
    """``app(query=None)`` → an AppTest of app.py (180 s timeout) opened on ``?query``, not yet run."""

    def factory(query: dict | None = None):
        at = make_app(timeout=180)
        at.query_params = dict(query or {})
        return at

    return factory


# --- the page's state <-> the query string --------------------------------------------------------


def test_a_search_state_survives_the_query_string():
    state = {"collection": "Sample: five topics", "method": "umap", "q": "a penalty kick", "k": 4}
    query = links.to_query(state)
    assert query == {"collection": "Sample: five topics", "method": "umap", "q": "a penalty kick", "k": "4"}
    back = links.from_query(query)  # strings, as a URL gives them
    assert back["collection"] == state["collection"] and sl.linked_query(back["q"]) == state["q"]
    assert sl.linked_k(back["k"]) == 4 and sl.linked_method(back["method"]) == "umap"


@pytest.mark.parametrize(
    ("text", "k"),
    [("4", 4), ("50", 50), ("500", sl.MAX_K), ("0", sl.MIN_K), ("-3", sl.MIN_K), ("four", None), ("", None)],
)
def test_a_links_k_is_held_to_the_forms_bounds(text, k):
    assert sl.linked_k(text) == k


@pytest.mark.parametrize(("text", "row"), [("1", 0), ("3", 2), ("0", None), ("-1", None), ("x", 0)])
def test_a_links_hit_is_a_rank_and_0_reads_none_in_full(text, row):
    assert sl.linked_hit(text) == row


def test_a_method_the_map_does_not_offer_is_ignored():
    assert sl.linked_method("pca") == "pca"
    assert sl.linked_method("tsne") is None  # limited to small sets: not on the search page's map
    assert sl.linked_method(None) is None and sl.linked_method("") is None


# --- a link opened in a new session ---------------------------------------------------------------


def _search(at, query: str, k: int):
    at.text_input(key="search_query").input(query)
    at.number_input(key="search_k").set_value(k)
    at.button(key="search_go").click().run()
    assert not at.exception and not at.error, (at.exception, plain_messages(at.error))
    return at


def _shown(at) -> dict:
    """What the visitor sees: the collection, the form, the result rows, the map by row."""
    spec = chart(at, "search_map")
    points, outlined, star = {}, [], None
    for trace in spec["data"]:
        x, y = plotly_array(trace.get("x", [])), plotly_array(trace.get("y", []))
        if trace.get("name") == "query":
            star = (float(x[0]), float(y[0]))
        elif trace.get("customdata") is not None:
            rows = plotly_array(trace["customdata"]).reshape(len(x), -1)[:, 0].astype(int).tolist()
            if trace.get("name") == "neighbours":
                outlined = rows
            else:
                points.update({r: (float(a), float(b)) for r, a, b in zip(rows, x, y, strict=True)})
    hits = frame_with(at, "rank")
    return {
        "collection": at.selectbox(key="search_collection").value,
        "query": at.text_input(key="search_query").value,
        "k": at.number_input(key="search_k").value,
        "method": at.radio(key="search_projection").value,
        "hits": hits[["rank", "text", "source", "score"]].to_dict("records"),
        "points": points,
        "outlined": outlined,
        "star": star,
    }


@pytest.mark.slow
def test_a_search_link_reopens_the_same_search_in_a_new_session(app):
    at = open_page(app(), "pages/search.py")
    at.button(key="search_sample").click().run()
    assert at.selectbox(key="search_collection").value == search.SAMPLE_COLLECTION
    before = dict(at.query_params)
    assert before["collection"] == search.SAMPLE_COLLECTION and before["method"] == "pca", before
    assert "q" not in before and "k" not in before  # nothing searched yet

    _search(at, QUERY, 3)
    seen = _shown(at)
    assert seen["hits"][0]["source"] == "space.txt" and len(seen["hits"]) == 3
    url = dict(at.query_params)
    assert url == {**before, "q": QUERY, "k": "3"}, url

    # A new session on that address: the search runs once by itself, from the shared cache.
    other = open_page(app(url), "pages/search.py")
    assert not other.error and not other.warning, plain_messages(other.error)
    assert _shown(other) == seen
    assert dict(other.query_params) == url
    assert f"“{QUERY}” · embedded in" in plain_messages(other.caption)
    assert "from the cache" in plain_messages(other.caption)
    # ... once: the next run (a click elsewhere) does not search again, and keeps the view.
    other.radio(key="search_projection").set_value("pca").run()
    assert _shown(other) == seen

    # A link naming the second result reads that one in full; hit=0 none of them.
    second = open_page(app({**url, "hit": "2"}), "pages/search.py")
    assert f"**2.** {seen['hits'][1]['source']}" in plain_messages(second.markdown)
    assert seen["hits"][1]["text"] in [t.value for t in second.text]
    assert dict(second.query_params) == {**url, "hit": "2"}
    none = open_page(app({**url, "hit": "0"}), "pages/search.py")
    assert "Select a result to read it in full." in plain_messages(none.caption)
    assert not none.text and dict(none.query_params) == {**url, "hit": "0"}

    # A collection that is gone: said once; the page opens on the collection that is here, with
    # the link's query waiting in the box, unsearched.
    gone = open_page(app({**url, "collection": "Quarterly reports"}), "pages/search.py")
    said = plain_messages(gone.info)
    assert "**Quarterly reports** is not here" in said and "in the box below" in said, said
    assert gone.selectbox(key="search_collection").value == search.SAMPLE_COLLECTION
    assert gone.text_input(key="search_query").value == QUERY
    assert "search_last" not in gone.session_state and "q" not in gone.query_params

    # A new search moves the URL along.
    _search(other, "baking bread in the oven", 2)
    assert dict(other.query_params) == {**url, "q": "baking bread in the oven", "k": "2"}


@pytest.mark.slow
def test_a_long_query_is_stored_and_the_link_stays_short(app):
    at = open_page(app(), "pages/search.py")
    at.button(key="search_sample").click().run()
    long_query = " ".join(["a rocket carried astronauts into orbit around the moon"] * 12)
    assert len(long_query) > sl.INLINE_QUERY
    _search(at, long_query, 2)
    url = dict(at.query_params)
    assert url["q"].startswith("~") and len(url["q"]) == 65, url["q"]  # ~ and a sha256

    other = open_page(app(url), "pages/search.py")
    assert other.text_input(key="search_query").value == long_query
    assert _shown(other)["hits"] == _shown(at)["hits"]

    # The stored query gone (another deployment): said once, the rest of the link opens.
    gone = {**url, "q": "~" + "0" * 64}
    third = open_page(app(gone), "pages/search.py")
    assert not third.exception
    assert "The query this link searched for" in plain_messages(third.info)
    assert third.selectbox(key="search_collection").value == search.SAMPLE_COLLECTION
    assert third.text_input(key="search_query").value == ""
    assert "q" not in dict(third.query_params)


@pytest.mark.parametrize("mode", ["on_request", "never"])
def test_a_long_query_is_left_out_of_the_link_when_typed_texts_are_not_kept(make_app, app_env, mode):
    """``link_texts``: this page has no "make a link", so a stored query would be kept unasked."""
    at = open_page(make_app(secrets={"link_texts": mode}, timeout=180), "pages/search.py")
    at.button(key="search_sample").click().run()
    long_query = " ".join(["a rocket carried astronauts into orbit around the moon"] * 12)
    _search(at, long_query, 2)
    url = dict(at.query_params)
    assert "q" not in url and "k" not in url and url["collection"] == search.SAMPLE_COLLECTION
    with pytest.raises(ViewDataMissingError):  # not stored either
        ViewStore(app_env / VIEWS_FILENAME).texts(texts_digest([long_query], None))
    _search(at, QUERY, 2)  # a short query is the URL's own: nothing is stored for it
    assert dict(at.query_params)["q"] == QUERY


def test_a_link_to_a_collection_that_is_not_here_says_so_and_the_page_opens(app):
    query = {"collection": "Quarterly reports", "q": "revenue", "k": "500", "method": "tsne"}
    at = open_page(app(query), "pages/search.py")
    assert not at.exception and not at.error
    said = plain_messages(at.info)
    assert said.count("Quarterly reports") == 1 and "is not here" in said, said
    assert "No collections yet" in said  # the page as usual
    assert "in the box below" not in said  # no form is drawn without a collection
    # Nothing was searched (there is nothing to search).
    assert "search_last" not in at.session_state
    # The URL now says what the page shows: no collection, no query.
    assert not {"collection", "q", "k"} & set(at.query_params), at.query_params
    # Said once: the next run is the page as usual.
    at.run()
    assert "Quarterly reports" not in plain_messages(at.info)


@pytest.mark.slow
def test_a_saved_search_view_draws_its_stored_map_and_keeps_its_id_in_the_url(app, app_env):
    at = open_page(app(), "pages/search.py")
    at.button(key="search_sample").click().run()
    _search(at, QUERY, 3)
    seen = _shown(at)
    # The view as a colleague saved it: its own coordinates (here the PCA map turned by 90°),
    # which must be drawn as they are, not recomputed.
    rows = sorted(seen["points"])
    drawn = np.array([seen["points"][r] for r in rows], dtype=np.float32)
    turned = np.column_stack([-drawn[:, 1], drawn[:, 0]])
    state = {"page": "search", **at.query_params}
    view_id = ViewStore(app_env / VIEWS_FILENAME).save(
        state, [f"chunk {r}" for r in rows], coordinates=turned, name="Rockets"
    )

    other = open_page(app({"view": view_id}), "pages/search.py")
    shown = _shown(other)
    assert shown["hits"] == seen["hits"] and shown["outlined"] == seen["outlined"]
    assert shown["points"] == {r: tuple(map(float, turned[i])) for i, r in enumerate(rows)}
    assert dict(other.query_params) == {"view": view_id}
    # Another method is another map: the projection, and the URL says the settings again.
    other.radio(key="search_projection").set_value("umap").run()
    assert "view" not in other.query_params and other.query_params["method"] == "umap"
