"""The budget on the operator's token in the dashboard (AppTest), against the fake API on 127.0.0.1.

The sidebar's "used today / left", the one message at the limit (nothing sent), a visitor's own
token neither limited nor counted, the per-action text limit, another page than Embed limited
too, broken settings stopping the app, and the admins' Usage page.
"""

from __future__ import annotations

import pytest

from embedcore.providers.budget import SQLiteLedger, usage_frame
from tests.apptest import api_app, metrics, open_page, plain_messages, rendered
from tests.fake_openai import TOKEN

ADMIN = "ana@example.com"


def budgeted_app(make_app, api, **budget):
    at = api_app(make_app, api, TOKEN)
    at.secrets["budget"] = budget
    return at


def sidebar_text(at) -> str:
    return plain_messages(at.sidebar.caption) + "\n" + rendered(at)


def embed_requests(api) -> int:
    return sum(1 for path, _ in api.auth if path == "/v1/embeddings")


def test_the_sidebar_shows_used_today_and_left(make_app, fake_openai, app_env):
    api = fake_openai(token=TOKEN)
    at = open_page(budgeted_app(make_app, api, tokens_per_visitor_per_day=50_000), "pages/embed.py")
    assert "Today: **0** tokens used · **50,000** left" in rendered(at).replace("\\", "")
    assert "50,000 tokens per visitor per day" in plain_messages(at.sidebar.caption)

    at.button(key="embed_run").click().run()
    assert not at.exception and not at.error
    spent = api.prompt_tokens
    assert metrics(at)["Tokens sent"] == f"{spent:,}"
    # Redrawn after the page ran: the same run already counts what it embedded.
    assert f"Today: **{spent:,}** tokens used · **{50_000 - spent:,}** left" in rendered(at).replace("\\", "")
    assert (app_env / "budget.sqlite3").is_file()  # beside the cache


def test_without_a_budget_nothing_changes(make_app, fake_openai, app_env):
    api = fake_openai(token=TOKEN)
    at = open_page(api_app(make_app, api, TOKEN), "pages/embed.py")
    assert "tokens used" not in rendered(at)
    at.button(key="embed_run").click().run()
    assert not at.exception and not at.error and embed_requests(api) == 2
    assert not (app_env / "budget.sqlite3").exists()  # nothing recorded either


def test_at_the_limit_nothing_is_sent_and_the_visitor_reads_what_to_do(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = open_page(budgeted_app(make_app, api, tokens_per_visitor_per_day=500), "pages/embed.py")
    at.button(key="embed_run").click().run()
    assert not at.exception
    assert embed_requests(api) == 0
    assert len(at.error) == 1
    shown = plain_messages(at.error)
    for part in (
        "500 of your 500 tokens left today",
        "resets at midnight UTC",
        "Your own API token is not limited by it",
        "Nothing was sent",
        "Paste your own token in the sidebar under **API token**",
    ):
        assert part in shown, shown
    assert TOKEN not in rendered(at)


def test_a_visitors_own_token_is_neither_limited_nor_counted(make_app, fake_openai, app_env):
    api = fake_openai(token=TOKEN)
    at = open_page(budgeted_app(make_app, api, tokens_per_visitor_per_day=500), "pages/embed.py")
    at.sidebar.text_input(key="conn_api_key").input(TOKEN).run()  # typed: the visitor's own
    assert "tokens used" not in rendered(at)
    at.button(key="embed_run").click().run()
    assert not at.exception and not at.error
    assert embed_requests(api) == 2
    assert SQLiteLedger(app_env / "budget.sqlite3").usage() == []


def test_another_page_than_embed_is_limited_too(make_app, fake_openai):
    """The search page embeds inside embedcore.analysis.search (build_collection): it is counted as well."""
    api = fake_openai(token=TOKEN)
    at = open_page(budgeted_app(make_app, api, tokens_per_visitor_per_day=300), "pages/search.py")
    at.button(key="search_sample").click().run()
    assert not at.exception
    assert embed_requests(api) == 0
    assert "tokens left today" in plain_messages(at.error)


def test_too_many_texts_for_one_action(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = open_page(budgeted_app(make_app, api, max_texts_per_request=50), "pages/embed.py")
    at.button(key="embed_run").click().run()
    assert not at.exception and embed_requests(api) == 0
    assert "100 texts is more than the 50 one action may embed" in plain_messages(at.warning)
    assert "your own API token" in plain_messages(at.warning)


def test_zero_per_visitor_means_the_operators_token_is_not_offered(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = open_page(budgeted_app(make_app, api, tokens_per_visitor_per_day=0), "pages/embed.py")
    assert "Using the token from the app's secrets" not in plain_messages(at.sidebar.caption)
    assert all(auth != f"Bearer {TOKEN}" for _, auth in api.auth)


def test_broken_budget_settings_stop_the_app_with_one_message_naming_the_key(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    for budget, key in (
        ({"tokens_per_day": -5}, "tokens_per_day"),
        ({"tokens_per_visitor": 5}, "tokens_per_visitor"),
        ({"max_texts_per_request": "many"}, "max_texts_per_request"),
    ):
        at = budgeted_app(make_app, api, **budget)
        at.run()
        assert not at.exception
        assert len(at.error) == 1 and key in plain_messages(at.error)
        assert "[budget]" in plain_messages(at.error)
        assert [t.value for t in at.title] == ["Embedding Explorer"]  # the closed app's title; no page ran
    assert embed_requests(api) == 0


def test_the_usage_page_is_for_admins_only(make_app, fake_openai):
    from tests.test_access import AUTH

    api = fake_openai(token=TOKEN)
    at = budgeted_app(make_app, api)
    # Admins are signed-in addresses: [access] needs [auth] (embedcore.settings refuses it alone).
    at.secrets["auth"] = AUTH
    at.secrets["access"] = {"admins": [ADMIN]}
    at.user["is_logged_in"] = True
    at.user["email"] = "bob@example.com"
    open_page(at, "pages/embed.py")
    at.button(key="embed_run").click().run()
    assert not at.error
    # Signed in as someone who is not an admin: no link, and no page behind the URL (the router
    # does not register it).
    assert "embed" in _page_links(at) and "usage" not in _page_links(at)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/usage.py")

    # An admin sees the link and the table, with a CSV download.
    at.user["email"] = ADMIN
    at.run()
    assert "usage" in _page_links(at)
    at.switch_page("pages/usage.py").run()
    assert not at.exception
    assert at.title[0].value == "Usage"
    at.segmented_control(key="usage_period").set_value("Everything").run()
    frame = at.dataframe[0].value
    assert list(frame.columns) == list(usage_frame([]).columns)  # as the engine's test spells them out
    (row,) = frame.to_dict("records")
    assert (row["texts"], row["tokens"], row["requests"], row["cache_hits"]) == (100, api.prompt_tokens, 2, 0)
    assert row["model"] == "BAAI/bge-m3" and row["endpoint"] == api.url
    assert row["visitor"] == "bob@example.com"  # the signed-in address the embedding was counted under
    assert metrics(at)["Tokens"] == f"{api.prompt_tokens:,}"
    assert len(at.get("download_button")) == 1


def _page_links(at) -> list[str]:
    """The pages the sidebar links to (``st.page_link`` protos name each page's URL path)."""
    import re

    return re.findall(r'page: "([^"]*)"', rendered(at))


def test_with_the_team_database_the_budget_lives_there(make_app, fake_openai, app_env, database_url):
    """Replicas share one budget: the counts go to PostgreSQL, not to a file of this server's."""
    import psycopg

    api = fake_openai(token=TOKEN)
    at = budgeted_app(make_app, api, tokens_per_visitor_per_day=50_000)
    at.secrets["database_url"] = database_url
    open_page(at, "pages/embed.py")
    at.button(key="embed_run").click().run()
    assert not at.exception and not at.error
    spent = api.prompt_tokens
    assert f"Today: **{spent:,}** tokens used" in rendered(at).replace("\\", "")
    assert not (app_env / "budget.sqlite3").exists()
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT texts, tokens, requests, cache_hits FROM embedcore_budget_usage"
        ).fetchall()
    assert rows == [(100, spent, 2, 0)]

    # Another session of the same visitor, as a replica would serve it, reads the same count there.
    replica = budgeted_app(make_app, api, tokens_per_visitor_per_day=50_000)
    replica.secrets["database_url"] = database_url
    replica.session_state["_visitor_session_id"] = at.session_state["_visitor_session_id"]
    open_page(replica, "pages/embed.py")
    assert f"Today: **{spent:,}** tokens used" in rendered(replica).replace("\\", "")


def test_every_path_to_a_provider_that_embeds_goes_through_provider_for():
    """The guard is added in one place (ui.common.models_picker.provider_for): nothing else may reach a
    provider to embed with. A page or ui module that called get_provider or .embed( itself would
    spend the operator's token uncounted; this keeps that from creeping in."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sources = {
        p.relative_to(root).as_posix(): p.read_text()
        for p in [*root.glob("ui/**/*.py"), *root.glob("pages/*.py")]
    }
    sources["app.py"] = (root / "app.py").read_text()
    embeds = sorted(path for path, text in sources.items() if re.search(r"\.embed\(", text))
    assert embeds == ["ui/common/embedding.py"]  # embed_texts, on a provider from provider_for
    assert "provider = provider_for(option)" in sources["ui/common/embedding.py"]
    getters = sorted(path for path, text in sources.items() if re.search(r"\bget_provider\(", text))
    assert getters == ["ui/common/connection.py", "ui/common/models_picker.py"]
    # Engine functions that embed on their own are handed a provider from provider_for too.
    engine_embeds = re.compile(r"search\.(?:build_collection|add_documents|reembed_collection|search)\(")
    callers = sorted(path for path, text in sources.items() if engine_embeds.search(text))
    assert callers == ["pages/search.py", "ui/search/widgets.py"]
    assert all("provider_for(" in sources[path] for path in callers)
