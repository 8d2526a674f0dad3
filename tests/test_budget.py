"""The budget on the operator's token (embedcore.providers.budget), against a real HTTP API on 127.0.0.1.

Every test taking ``ledger`` runs twice: with the SQLite file and with PostgreSQL (a real
server from tests/conftest.py). The race between processes is in tests/test_budget_race.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from embedcore.errors import BudgetExceededError, ConfigurationError, ServerError, TooManyTextsError
from embedcore.providers.budget import (
    BudgetedProvider,
    BudgetGuard,
    BudgetSettings,
    PostgresLedger,
    SQLiteLedger,
    estimate_tokens,
    open_ledger,
    settings_from_env,
    usage_frame,
)
from embedcore.providers.client import EmbeddingClient
from embedcore.stores.cache import EmbeddingCache
from embedcore.stores.collections import CollectionStore
from tests.fake_openai import token_count

MODEL = "BAAI/bge-m3"
#: 2026-12-07 15:00 UTC: nine hours before the budget resets.
NOON_ISH = datetime(2026, 12, 7, 15, 0, tzinfo=UTC).timestamp()


class Clock:
    """A settable clock for the guard (the day is the UTC date of it)."""

    def __init__(self, now: float = NOON_ISH) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ledger(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest):
    if store_kind == "postgres":
        from embedcore.stores.database import Database

        database = Database(request.getfixturevalue("database_url"))
        yield PostgresLedger(database)
        database.close()
    else:
        yield SQLiteLedger(tmp_path / "budget.sqlite3")


def client_for(fake, cache=None, **kwargs) -> EmbeddingClient:
    return EmbeddingClient(fake.url, "", cache=cache, requests_per_second=None, max_retries=0, **kwargs)


def texts_of(n: int, tag: str = "t") -> list[str]:
    return [f"{tag} number {i} of a set" for i in range(n)]


# --- settings -------------------------------------------------------------------------------------


def test_settings_defaults_and_partial_sections() -> None:
    assert BudgetSettings.from_mapping({}) == BudgetSettings(50_000, 2_000_000, 2_000)
    s = BudgetSettings.from_mapping({"tokens_per_visitor_per_day": 10, "max_texts_per_request": "1_000"})
    assert (s.tokens_per_visitor_per_day, s.tokens_per_day, s.max_texts_per_request) == (10, 2_000_000, 1_000)
    assert s.offered
    assert not BudgetSettings.from_mapping({"tokens_per_visitor_per_day": 0}).offered
    assert not BudgetSettings.from_mapping({"tokens_per_day": 0}).offered


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"tokens_per_visitor": 5}, ["tokens_per_visitor", "unknown"]),
        ({"tokens_per_day": -1}, ["tokens_per_day", "negative"]),
        ({"tokens_per_visitor_per_day": 1.5}, ["tokens_per_visitor_per_day", "whole number"]),
        ({"tokens_per_visitor_per_day": "lots"}, ["tokens_per_visitor_per_day", "whole number"]),
        ({"tokens_per_day": True}, ["tokens_per_day", "whole number"]),
        ({"max_texts_per_request": 0}, ["max_texts_per_request", "at least 1"]),
    ],
)
def test_bad_settings_name_the_key(values: dict, names: list[str]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        BudgetSettings.from_mapping(values)
    for name in names:
        assert name in str(caught.value)


def test_settings_from_the_environment() -> None:
    assert settings_from_env({"PATH": "/bin"}) is None
    s = settings_from_env(
        {"EMBEDCORE_BUDGET_TOKENS_PER_DAY": "900", "EMBEDCORE_BUDGET_MAX_TEXTS_PER_REQUEST": "5"}
    )
    assert (s.tokens_per_day, s.max_texts_per_request, s.tokens_per_visitor_per_day) == (900, 5, 50_000)
    with pytest.raises(ConfigurationError, match="EMBEDCORE_BUDGET_TOKENS_PER_WEEK"):
        settings_from_env({"EMBEDCORE_BUDGET_TOKENS_PER_WEEK": "1"})
    with pytest.raises(ConfigurationError, match=r"tokens_per_day.*negative"):
        settings_from_env({"EMBEDCORE_BUDGET_TOKENS_PER_DAY": "-5"})


# --- the estimate ---------------------------------------------------------------------------------

#: Texts a tokenizer makes many tokens of: punctuation runs, single letters, digits, CJK, emoji,
#: accents, NFKC expansions (the ligature ﷺ becomes 18 characters), markup.
HARD_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "...!!!???;;;---|||",
    "a b c d e f g h i j k l m n o p",
    "3.14159 2.71828 1.41421 0000 1111",
    "東京は日本の首都です。北京是中国的首都。",
    "😀🙃🎉🚀 emoji 🤖",
    "Ça a été très réussi, naïve façade, Ærøskøbing",
    "ﷺ ﬁ ① ㎏ Ⅻ",
    "<div class='x'>{{ value | default('∅') }}</div>",
    "x",
]


def test_the_estimate_bounds_a_real_wordpiece_tokenizer(local_model) -> None:
    """The bundled model's tokenizer (BERT WordPiece, bge-large-en's vocabulary) never counts more."""
    counts = local_model._minilm().count_tokens(HARD_TEXTS)
    estimates = estimate_tokens(HARD_TEXTS, "a model the catalogue does not know")
    assert all(int(c) <= e for c, e in zip(counts, estimates, strict=True)), list(
        zip(counts, estimates, strict=True)
    )
    # ... and the fake API's count (words + 2) neither.
    assert all(token_count(t) <= e for t, e in zip(HARD_TEXTS, estimates, strict=True))


def test_the_estimate_is_capped_at_the_models_input_limit() -> None:
    long = "word " * 1000
    (capped,) = estimate_tokens([long], "sentence-transformers/paraphrase-multilingual-mpnet-base-v2")
    (uncapped,) = estimate_tokens([long], "unknown-model")
    assert (capped, uncapped) == (128, len(long) + 3)


# --- the guard, against the API -------------------------------------------------------------------


def test_an_action_over_the_budget_sends_nothing_and_says_what_is_left(fake_openai, ledger) -> None:
    fake = fake_openai()
    settings = BudgetSettings(tokens_per_visitor_per_day=100, tokens_per_day=10_000)
    guard = BudgetGuard(ledger, settings, "ip:203.0.113.7", clock=Clock())
    texts = texts_of(5)  # estimate 5 x (bytes + 3) > 100
    with pytest.raises(BudgetExceededError) as caught:
        client_for(fake).embed(texts, MODEL, budget=guard)
    assert fake.inputs == []
    err = caught.value
    assert (err.scope, err.limit, err.used, err.left) == ("visitor", 100, 0, 100)
    assert err.needed == sum(estimate_tokens(texts, MODEL)) > 100
    assert err.resets_at == datetime(2026, 12, 8, tzinfo=UTC)
    message = str(err)
    for part in (
        "100 of your 100 tokens left today",
        "midnight UTC",
        "2026-12-08 00:00 UTC",
        "in 9 h 00 min",
    ):
        assert part in message
    assert "Your own API token is not limited" in message
    # Nothing was reserved or spent by the refused action.
    assert guard.status(fake.url).used == 0


def test_the_api_reported_usage_is_what_is_charged(fake_openai, ledger) -> None:
    fake = fake_openai()
    guard = BudgetGuard(ledger, BudgetSettings(tokens_per_visitor_per_day=5_000), "email:ana@example.com")
    texts = texts_of(30)
    result = client_for(fake, batch_size=8).embed(texts, MODEL, budget=guard)
    assert result.total_tokens == fake.prompt_tokens == sum(token_count(t) for t in texts)
    status = guard.status(fake.url)
    assert status.used == fake.prompt_tokens  # not the (larger) estimate
    assert status.left == 5_000 - fake.prompt_tokens
    (record,) = ledger.usage()
    assert (record.visitor, record.model, record.endpoint) == ("email:ana@example.com", MODEL, fake.url)
    assert (record.texts, record.tokens, record.requests, record.cache_hits) == (30, fake.prompt_tokens, 4, 0)


def test_cached_texts_cost_nothing(fake_openai, ledger, tmp_path: Path) -> None:
    fake = fake_openai()
    cache = EmbeddingCache(tmp_path / "cache.sqlite3")
    client = client_for(fake, cache=cache)
    first, second = texts_of(10, "a"), texts_of(10, "b")
    client.embed(first, MODEL)  # cached without a budget (someone's own token)
    needed_for_second = sum(estimate_tokens(second, MODEL))
    # Room for the new texts only: the cached half must not be priced.
    guard = BudgetGuard(ledger, BudgetSettings(tokens_per_visitor_per_day=needed_for_second), "ip:1")
    sent_before = len(fake.embedded)
    client.embed(first + second, MODEL, budget=guard)
    assert fake.embedded[sent_before:] == second
    (record,) = ledger.usage()
    assert (record.texts, record.cache_hits, record.tokens) == (20, 10, sum(token_count(t) for t in second))
    # All cached: allowed even with nothing left, and recorded as hits.
    broke = BudgetGuard(ledger, BudgetSettings(tokens_per_visitor_per_day=0, tokens_per_day=1), "ip:2")
    client.embed(first, MODEL, budget=broke)
    assert len(fake.embedded) == sent_before + 10
    assert {r.visitor: (r.texts, r.cache_hits, r.requests) for r in ledger.usage()}["ip:2"] == (10, 10, 0)


def test_a_failed_action_releases_its_reservation_and_pays_for_what_was_served(fake_openai, ledger) -> None:
    fake = fake_openai()
    fake.fail_after, fake.fail_status = 2, 500
    texts = texts_of(40)
    guard = BudgetGuard(
        ledger, BudgetSettings(tokens_per_visitor_per_day=sum(estimate_tokens(texts, MODEL))), "ip:9"
    )
    with pytest.raises(ServerError):
        client_for(fake, batch_size=10, max_concurrency=1).embed(texts, MODEL, budget=guard)
    served = fake.prompt_tokens
    assert served == sum(token_count(t) for t in texts[:20])
    assert guard.status(fake.url).used == served  # the reservation is gone, the two batches charged
    (record,) = ledger.usage()
    assert (record.tokens, record.requests) == (served, 3)


def test_an_endpoint_without_usage_is_charged_the_estimate(fake_openai, ledger) -> None:
    fake = fake_openai()
    fake.envelope = False  # a bare list: no "usage" at all
    texts = texts_of(6)
    guard = BudgetGuard(ledger, BudgetSettings(), "ip:3")
    client_for(fake).embed(texts, MODEL, budget=guard)
    assert guard.status(fake.url).used == sum(estimate_tokens(texts, MODEL))


def test_the_shared_daily_budget_limits_every_visitor_together(fake_openai, ledger) -> None:
    fake = fake_openai()
    texts = texts_of(4, "ana")
    estimate = sum(estimate_tokens(texts, MODEL))
    settings = BudgetSettings(tokens_per_visitor_per_day=10 * estimate, tokens_per_day=estimate + 5)
    clock = Clock()
    client = client_for(fake)
    client.embed(texts, MODEL, budget=BudgetGuard(ledger, settings, "ip:ana", clock=clock))
    spent = fake.prompt_tokens
    other = texts_of(4, "bob")
    with pytest.raises(BudgetExceededError) as caught:
        client.embed(other, MODEL, budget=BudgetGuard(ledger, settings, "ip:bob", clock=clock))
    assert caught.value.scope == "endpoint"
    assert caught.value.left == estimate + 5 - spent
    assert "all visitors together" in str(caught.value)
    # Another endpoint has a budget of its own.
    other_fake = fake_openai()
    client_for(other_fake).embed(other, MODEL, budget=BudgetGuard(ledger, settings, "ip:bob", clock=clock))
    assert len(other_fake.embedded) == 4
    # And the next UTC day starts from zero.
    clock.now += 9 * 3600
    client.embed(other, MODEL, budget=BudgetGuard(ledger, settings, "ip:bob", clock=clock))
    days = sorted({r.day for r in ledger.usage()})
    assert days == ["2026-12-07", "2026-12-08"]


def test_too_many_texts_in_one_action(fake_openai, ledger) -> None:
    fake = fake_openai()
    guard = BudgetGuard(ledger, BudgetSettings(max_texts_per_request=5), "ip:4")
    with pytest.raises(TooManyTextsError, match="6 texts is more than the 5 one action may embed"):
        client_for(fake).embed(texts_of(6), MODEL, budget=guard)
    assert fake.inputs == []
    client_for(fake).embed(texts_of(5), MODEL, budget=guard)


def test_counts_survive_a_restart_and_abandoned_reservations_expire(ledger, fake_openai) -> None:
    fake = fake_openai()
    clock = Clock()
    day = "2026-12-07"
    # A reservation whose process died: it holds the budget until it expires.
    held = ledger.reserve(
        day=day, endpoint=fake.url, visitor="ip:5", tokens=900, visitor_limit=1_000,
        endpoint_limit=10_000, now=clock.now, ttl=60,
    )  # fmt: skip
    assert isinstance(held, str)
    guard = BudgetGuard(ledger, BudgetSettings(tokens_per_visitor_per_day=1_000), "ip:5", clock=clock)
    assert guard.status(fake.url).used == 900
    texts = texts_of(10)
    assert 100 < sum(estimate_tokens(texts, MODEL)) < 1_000
    with pytest.raises(BudgetExceededError):
        client_for(fake).embed(texts, MODEL, budget=guard)
    clock.now += 61
    client_for(fake).embed(texts, MODEL, budget=guard)
    # A new ledger object on the same store (a restarted server) sees the same count.
    again = SQLiteLedger(ledger.path) if isinstance(ledger, SQLiteLedger) else PostgresLedger(ledger.database)
    fresh = BudgetGuard(again, BudgetSettings(tokens_per_visitor_per_day=1_000), "ip:5", clock=clock)
    assert fresh.status(fake.url).used == fake.prompt_tokens > 0


def test_the_local_model_ignores_a_budget(local_model, ledger) -> None:
    guard = BudgetGuard(ledger, BudgetSettings(tokens_per_visitor_per_day=0, tokens_per_day=0), "ip:6")
    result = local_model.embed(
        ["a text for the bundled model"], local_model.list_models()[0].id, budget=guard
    )
    assert result.vectors.shape[0] == 1
    assert ledger.usage() == []


def test_a_budgeted_provider_counts_every_call_and_passes_the_rest_through(
    fake_openai, ledger, tmp_path: Path
) -> None:
    from embedcore.analysis import search

    fake = fake_openai()
    client = client_for(fake)
    guard = BudgetGuard(ledger, BudgetSettings(tokens_per_visitor_per_day=1), "ip:7")
    provider = BudgetedProvider(client, guard)
    assert provider.endpoint_id == client.endpoint_id and provider.batch_size == client.batch_size
    assert [m.id for m in provider.list_models()] == list(fake.models)
    # An engine function that embeds on its own (the search page's collections) is limited too.
    store = CollectionStore(tmp_path / "collections.sqlite3")
    documents = [search.Document("notes.txt", "A few words about budgets and tokens.")]
    with pytest.raises(BudgetExceededError):
        search.build_collection(store, "notes", documents, provider, MODEL)
    assert fake.inputs == []


def test_usage_frame_and_open_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDCORE_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.delenv("EMBEDCORE_DATABASE_URL", raising=False)
    ledger = open_ledger()
    assert isinstance(ledger, SQLiteLedger) and ledger.path == tmp_path / "c" / "budget.sqlite3"
    ledger.settle(
        None,
        day="2026-12-07",
        endpoint="e",
        visitor="ip:1",
        model="m",
        tokens=7,
        texts=2,
        requests=1,
        cache_hits=1,
    )
    frame = usage_frame(ledger.usage())
    assert list(frame.columns) == [
        "day",
        "endpoint",
        "visitor",
        "model",
        "texts",
        "tokens",
        "requests",
        "cache_hits",
    ]
    assert frame.iloc[0].to_dict() == {
        "day": "2026-12-07", "endpoint": "e", "visitor": "ip:1", "model": "m",
        "texts": 2, "tokens": 7, "requests": 1, "cache_hits": 1,
    }  # fmt: skip
