"""AppTest tests of the app run for a team: storage in PostgreSQL, and what happens when it is down.

The database is the real PostgreSQL + pgvector server of tests/conftest.py; the API is the
IONOS-like server of tests/test_app_pages.py (127.0.0.1, fixture vectors).
"""

from __future__ import annotations

import psycopg
import pytest

from embedcore.analysis import search
from embedcore.stores.cache import PostgresEmbeddingCache
from embedcore.stores.collections import PostgresCollectionStore
from embedcore.stores.database import Database
from tests.apptest import api_app, metrics, open_page, plain_messages, rendered
from tests.fake_openai import TOKEN, closed_port

PASSWORD = "team-db-password-7d1c"


def _unreachable_url() -> str:
    return f"postgresql://team:{PASSWORD}@127.0.0.1:{closed_port()}/embeddings"


def _team_app(make_app, api, database_url: str):
    at = api_app(make_app, api, TOKEN)
    at.secrets["database_url"] = database_url
    return at


def test_database_down_models_page_works_and_storage_pages_say_why(make_app, fake_openai, app_env):
    api = fake_openai(token=TOKEN)
    at = _team_app(make_app, api, _unreachable_url())

    open_page(at, "pages/models.py")
    assert not at.error, plain_messages(at.error)  # listing models needs no storage
    assert "BAAI/bge-m3" in rendered(at)
    assert not [e for e in at.sidebar.expander if "Embedding cache" in e.label]  # no second error there

    open_page(at, "pages/embed.py")
    at.button(key="embed_run").click().run()
    assert not at.exception
    (error,) = at.error
    shown = plain_messages([error])
    assert "Cannot use the database set in database_url in the app's secrets" in shown
    assert "postgresql://team:***@127.0.0.1" in shown
    assert "Vectors and collections cannot be stored" in shown
    assert not [path for path, _ in api.auth if path == "/v1/embeddings"]  # nothing was sent, nor paid
    assert not (app_env / "embeddings.sqlite3").exists()  # and no silent local cache

    at.switch_page("pages/search.py").run()
    assert not at.exception
    assert len(at.error) == 1 and "Cannot use the database set in database_url" in plain_messages(at.error)
    assert PASSWORD not in rendered(at)


def test_database_from_the_environment_is_named_by_its_variable(make_app, fake_openai, monkeypatch):
    api = fake_openai(token=TOKEN)
    monkeypatch.setenv("EMBEDCORE_DATABASE_URL", _unreachable_url())
    at = api_app(make_app, api, TOKEN)
    open_page(at, "pages/embed.py")
    at.button(key="embed_run").click().run()
    assert "EMBEDCORE_DATABASE_URL" in plain_messages([at.error[0]])
    assert PASSWORD not in rendered(at)


@pytest.mark.slow
def test_replicas_share_the_cache_and_collections(make_app, fake_openai, database_url):
    import streamlit as st

    api = fake_openai(token=TOKEN)
    at = _team_app(make_app, api, database_url)
    open_page(at, "pages/embed.py")
    at.button(key="embed_run").click().run()
    assert not at.exception and not at.error, plain_messages(at.error)
    assert metrics(at)["Fetched"] == "100"
    assert "cached in the team database" in plain_messages(at.sidebar.caption)
    with Database(database_url) as database:
        assert PostgresEmbeddingCache(database).count(api.url, "BAAI/bge-m3") == 100
        with database.connection() as conn:  # the API's rate limit is kept there too
            (bucket,) = conn.execute("SELECT key FROM embedcore_rate_limits").fetchone()
        assert bucket.startswith(api.url) and TOKEN not in bucket

    # Another replica: a new process has none of this one's cached objects.
    st.cache_resource.clear()
    st.cache_data.clear()
    sent = len(api.auth)
    replica = _team_app(make_app, api, database_url)
    open_page(replica, "pages/embed.py")
    replica.button(key="embed_run").click().run()
    assert metrics(replica)["From cache"] == "100 %"
    assert [p for p, _ in api.auth[sent:] if p == "/v1/embeddings"] == []

    # A collection built on one replica is searched (by pgvector) on another.
    replica.switch_page("pages/search.py").run()
    replica.selectbox(key="search_model").set_value("api|BAAI/bge-m3").run()
    replica.button(key="search_sample").click().run()
    assert not replica.exception and not replica.error, plain_messages(replica.error)
    st.cache_resource.clear()
    third = _team_app(make_app, api, database_url)
    third.switch_page("pages/search.py").run()
    assert third.selectbox(key="search_collection").value == search.SAMPLE_COLLECTION
    with PostgresCollectionStore(database_url) as store:
        stored_chunks, _ = store.load(search.SAMPLE_COLLECTION)
    third.text_input(key="search_query").input(stored_chunks[7].text)
    third.button(key="search_go").click().run()
    assert not third.exception and not third.error, plain_messages(third.error)
    hits = next(d.value for d in third.dataframe if "rank" in d.value.columns)
    assert hits.loc[0, "score"] == pytest.approx(1.0, abs=1e-4)  # the query is that chunk's own text
    assert hits.loc[0, "text"] == stored_chunks[7].text
    assert "ranked by pgvector in the team database" in plain_messages(third.caption)
    with psycopg.connect(database_url) as conn:
        names = conn.execute("SELECT name FROM embedcore_collections").fetchall()
        (n,) = conn.execute("SELECT COUNT(*) FROM embedcore_chunks").fetchone()
    assert names == [(search.SAMPLE_COLLECTION,)] and n == len(stored_chunks)
    assert PASSWORD not in rendered(third)
