"""The stores' protocols and their one chooser.

ARCHITECTURE.md's "How to add a store" is followed once here: a toy in-memory cache that
satisfies :class:`VectorCache` is used by ``embed_with_cache`` as any real cache would be.
The real classes are checked against the protocols (``isinstance``, ``runtime_checkable``)
and then made to behave alike on both backends, and :func:`open_stores` is checked to choose
them, SQLite or PostgreSQL, from the settings alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embedcore.errors import ConfigurationError, DatabaseUnavailableError, InputError
from embedcore.io.chunking import Chunk
from embedcore.providers.pipeline import BatchOutput, embed_with_cache
from embedcore.settings import SECTIONS, check_section
from embedcore.stores.cache import EmbeddingCache, SeededCache
from embedcore.stores.collections import CollectionStore
from embedcore.stores.ledger import PostgresLedger, SQLiteLedger
from embedcore.stores.pg_cache import PostgresEmbeddingCache
from embedcore.stores.pg_collections import PostgresCollectionStore
from embedcore.stores.protocols import ClaimingCache, Collections, VectorCache
from embedcore.stores.storage import StoreSettings, UnavailableCache, open_stores, shared_stores

EP = "http://127.0.0.1:1/v1"


def fixture_vector(text: str, dims: int = 4) -> np.ndarray:
    """Test fixture only: a deterministic stand-in vector for a text."""
    digest = hashlib.sha256(text.encode()).digest()
    return np.frombuffer(digest[:dims], dtype=np.uint8).astype(np.float32) / 255.0 + 0.01


class Sender:
    """Records what it is asked to embed; answers with fixture vectors."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, batch: list[str]) -> BatchOutput:
        self.sent.extend(batch)
        return BatchOutput(vectors=np.stack([fixture_vector(t) for t in batch]))


# --- the recipe, followed once: a store is one class that answers VectorCache ------------------


class DictCache:
    """A toy :class:`VectorCache`: vectors in a dict, for one process (the recipe's example)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], np.ndarray] = {}

    def get_many(self, endpoint_id: str, model: str, texts: Iterable[str]) -> dict[str, np.ndarray]:
        keys = {t: (endpoint_id, model, t) for t in texts}
        return {t: self.rows[k].copy() for t, k in keys.items() if k in self.rows}

    def put_many(self, endpoint_id: str, model: str, texts: Sequence[str], vectors: Any, **_: Any) -> None:
        for text, vector in zip(texts, vectors, strict=True):
            self.rows[(endpoint_id, model, text)] = np.asarray(vector, dtype=np.float32)

    def count(self, endpoint_id: str, model: str) -> int:
        return sum(1 for e, m, _ in self.rows if (e, m) == (endpoint_id, model))

    def clear(self, endpoint_id: str | None = None, model: str | None = None) -> int:
        doomed = [k for k in self.rows if endpoint_id in (None, k[0]) and model in (None, k[1])]
        for key in doomed:
            del self.rows[key]
        return len(doomed)

    def stats(self) -> dict[str, Any]:
        return {"entries": len(self.rows), "bytes": 0, "max_bytes": None, "path": "(memory)", "models": []}


def test_a_toy_cache_satisfies_the_protocol_and_serves_the_pipeline() -> None:
    cache = DictCache()
    assert isinstance(cache, VectorCache)
    assert not isinstance(cache, ClaimingCache)  # no claims: the pipeline plans every batch at once
    texts = ["tea", "rain", "tea", "moss"]

    send = Sender()
    first = embed_with_cache(texts, "toy", endpoint_id=EP, cache=cache, send_batch=send, batch_size=2)
    assert sorted(send.sent) == ["moss", "rain", "tea"]  # each distinct text once
    assert cache.count(EP, "toy") == 3

    again = Sender()
    second = embed_with_cache(texts, "toy", endpoint_id=EP, cache=cache, send_batch=again, batch_size=2)
    assert again.sent == []  # everything came from the toy cache
    np.testing.assert_array_equal(first.vectors, second.vectors)
    np.testing.assert_allclose(second.vectors[0], fixture_vector("tea"))
    assert cache.clear(EP) == 3 and cache.count(EP, "toy") == 0


def test_something_without_the_calls_is_not_a_cache() -> None:
    class Half:
        def get_many(self, endpoint_id, model, texts):
            return {}

    assert not isinstance(Half(), VectorCache)
    assert not isinstance(DictCache(), Collections)


# --- the real classes ---------------------------------------------------------------------------


def test_the_sqlite_stores_conform(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    seeded = SeededCache(EmbeddingCache(tmp_path / "d.sqlite3"), seed=EmbeddingCache(tmp_path / "s.sqlite3"))
    for store in (cache, seeded):
        assert isinstance(store, VectorCache) and isinstance(store, ClaimingCache)
    unavailable = UnavailableCache(DatabaseUnavailableError("down"))
    assert isinstance(unavailable, VectorCache) and not isinstance(unavailable, ClaimingCache)
    with pytest.raises(DatabaseUnavailableError, match="down"):
        unavailable.get_many(EP, "m", ["a"])
    collections = CollectionStore(tmp_path / "k.sqlite3")
    assert isinstance(collections, Collections) and not isinstance(collections, VectorCache)
    assert not isinstance(cache, Collections)


def test_the_postgres_stores_conform(database_url: str) -> None:
    with PostgresEmbeddingCache(database_url) as cache:
        assert isinstance(cache, VectorCache) and isinstance(cache, ClaimingCache)
    with PostgresCollectionStore(database_url) as collections:
        assert isinstance(collections, Collections) and collections.searches_in_database


def _stores(kind: str, tmp_path: Path, request: pytest.FixtureRequest):
    if kind == "sqlite":
        return open_stores(StoreSettings(cache_dir=str(tmp_path), cache_max_mb=0))
    return open_stores(StoreSettings(database_url=request.getfixturevalue("database_url"), cache_max_mb=0))


def test_both_backends_behave_alike(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    stores = _stores(store_kind, tmp_path, request)
    cache = stores.cache
    cache.put_many(EP, "m", ["a", "b"], np.stack([fixture_vector("a"), fixture_vector("b")]))
    cache.put_many("local:", "n", ["a"], fixture_vector("a")[None, :])
    found = cache.get_many(EP, "m", ["a", "b", "c"])
    assert sorted(found) == ["a", "b"] and found["a"].dtype == np.float32
    np.testing.assert_array_equal(found["b"], fixture_vector("b"))
    stats = cache.stats()
    assert stats["entries"] == 3 and stats["max_bytes"] is None
    assert [(m["endpoint_id"], m["model"], m["entries"], m["dimensions"]) for m in stats["models"]] == [
        (EP, "m", 2, 4),
        ("local:", "n", 1, 4),
    ]
    assert cache.clear(model="n") == 1 and cache.count(EP, "m") == 2
    with pytest.raises(InputError, match="NaN"):
        cache.put_many(EP, "m", ["x"], np.array([[np.nan, 1.0, 1.0, 1.0]]))

    collections = stores.collections
    collections.create("Notes", endpoint_id=EP, model="m", chunk_size=20, overlap=2)
    chunks = [
        Chunk("tea", "a.txt", 0, 0, 3),
        Chunk("rain", "a.txt", 1, 4, 8),
        Chunk("moss", "b.txt", 0, 0, 4),
    ]
    assert collections.add_chunks("Notes", chunks, np.stack([fixture_vector(c.text) for c in chunks])) == 3
    rows, scores, hits = collections.search("Notes", fixture_vector("rain"), k=2)
    assert hits[0].text == "rain" and rows[0] == 1 and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert collections.documents("Notes") == [("a.txt", 2), ("b.txt", 1)]
    with pytest.raises(InputError, match="exists already"):
        collections.create("Notes", endpoint_id=EP, model="m", chunk_size=20, overlap=2)
    ledger = stores.ledger
    assert isinstance(ledger, SQLiteLedger if store_kind == "sqlite" else PostgresLedger)
    assert ledger.usage() == []


# --- the chooser ----------------------------------------------------------------------------------


def test_open_stores_keeps_local_files_in_the_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EMBEDCORE_DATABASE_URL", raising=False)
    monkeypatch.setenv("EMBEDCORE_CACHE_DIR", str(tmp_path / "env"))
    stores = open_stores()
    assert stores.cache.path == tmp_path / "env" / "embeddings.sqlite3"
    assert stores.collections.path == tmp_path / "env" / "collections.sqlite3"
    assert stores.ledger.path == tmp_path / "env" / "budget.sqlite3"
    assert stores.cache is stores.cache  # opened once
    assert (
        open_stores(StoreSettings(cache_dir=str(tmp_path / "x"))).cache.path
        == tmp_path / "x" / "embeddings.sqlite3"
    )


def test_open_stores_uses_the_database_and_never_falls_back(database_url: str, tmp_path: Path) -> None:
    stores = open_stores(StoreSettings.from_env(database_url, cache_dir=str(tmp_path)))
    assert isinstance(stores.cache, PostgresEmbeddingCache)
    assert isinstance(stores.collections, PostgresCollectionStore)
    assert isinstance(stores.ledger, PostgresLedger)
    assert not list(tmp_path.iterdir())  # no local file was made
    broken = database_url.replace("/t_", "/missing_")
    with pytest.raises(DatabaseUnavailableError):
        open_stores(StoreSettings(database_url=broken))


def test_a_known_outage_stands_in_for_the_cache_and_refuses_the_rest(tmp_path: Path) -> None:
    error = DatabaseUnavailableError("The team database is down.")
    stores = open_stores(StoreSettings(cache_dir=str(tmp_path)), error=error)
    assert isinstance(stores.cache, UnavailableCache)
    for name in ("collections", "ledger"):
        with pytest.raises(DatabaseUnavailableError, match="is down"):
            getattr(stores, name)
    assert not list(tmp_path.iterdir())


def test_shared_stores_are_one_per_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMBEDCORE_DATABASE_URL", raising=False)
    one = StoreSettings(cache_dir=str(tmp_path / "a"))
    assert shared_stores(one) is shared_stores(StoreSettings(cache_dir=str(tmp_path / "a")))
    assert shared_stores(one) is not shared_stores(StoreSettings(cache_dir=str(tmp_path / "b")))
    capped = StoreSettings(cache_dir=str(tmp_path / "a"), cache_max_mb=5)
    assert shared_stores(capped) is not shared_stores(one)  # every setting is in the key
    assert shared_stores(capped).cache.max_mb == 5


# --- the operator settings that choose the stores, read in one place ----------------------------


def test_store_settings_are_sections_read_from_secrets_then_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert {"budget", "cache_max_mb", "database_url"} <= set(SECTIONS)
    monkeypatch.setenv("EMBEDCORE_CACHE_MAX_MB", "300")
    monkeypatch.setenv("EMBEDCORE_DATABASE_URL", "postgresql://env/db")
    monkeypatch.setenv("EMBEDCORE_BUDGET_TOKENS_PER_DAY", "1000")
    assert check_section("cache_max_mb", {}) == 300.0
    assert check_section("cache_max_mb", {"cache_max_mb": 7}) == 7.0
    assert check_section("database_url", {}) == ("postgresql://env/db", "EMBEDCORE_DATABASE_URL")
    assert check_section("database_url", {"database_url": "postgresql://s/db"})[0] == "postgresql://s/db"
    assert check_section("budget", {}).tokens_per_day == 1000
    assert check_section("budget", {"budget": {"tokens_per_day": 5}}).tokens_per_day == 5
    monkeypatch.setenv("EMBEDCORE_CACHE_MAX_MB", "-1")
    with pytest.raises(ConfigurationError, match="EMBEDCORE_CACHE_MAX_MB"):
        check_section("cache_max_mb", {})
    with pytest.raises(ConfigurationError, match=r"\[budget\] in the app's secrets"):
        check_section("budget", {"budget": {"tokens_per_week": 5}})
