"""The cache's size cap: least recently used vectors go first, collections never, several
processes evicting at once neither overshoot nor over-evict; bad settings are named.

Every test taking ``location`` runs once per store (the SQLite file and PostgreSQL + pgvector).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from embedcore.errors import ConfigurationError
from embedcore.io.chunking import Chunk
from embedcore.stores.cache import (
    CACHE_MAX_MB_ENV,
    ROW_OVERHEAD,
    EmbeddingCache,
    PostgresEmbeddingCache,
    parse_max_mb,
)

EP = "https://api.example.test/v1"
DIMS = 1000
ROW = 4 * DIMS + ROW_OVERHEAD  # bytes one cached vector counts for


def open_store(location: str, **options):
    if location.startswith("postgresql://"):
        return PostgresEmbeddingCache(location, **options)
    return EmbeddingCache(location, **options)


def open_collections(location: str):
    if location.startswith("postgresql://"):
        from embedcore.stores.collections import PostgresCollectionStore

        return PostgresCollectionStore(location)
    from embedcore.stores.collections import CollectionStore

    return CollectionStore(Path(location).with_name("collections.sqlite3"))


@pytest.fixture
def location(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if store_kind == "postgres":
        return request.getfixturevalue("database_url")
    return str(tmp_path / "cache.sqlite3")


def vec(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((1, DIMS)).astype(np.float32)


def test_least_recently_used_vectors_are_evicted_first(location: str) -> None:
    with open_store(location, max_mb=5 * ROW / 1e6) as cache:  # room for five vectors
        cache.touch_every = 0  # every hit counts at once (the default marks a row once a minute)
        for i in range(5):
            cache.put_many(EP, "m", [f"r{i}"], vec(i))
        assert cache.usage() == {"bytes": 5 * ROW, "max_bytes": 5 * ROW}
        assert set(cache.get_many(EP, "m", ["r0", "r1"])) == {"r0", "r1"}  # used again: now the newest
        cache.put_many(EP, "m", ["r5"], vec(5))
        cache.put_many(EP, "other-model", ["r6"], vec(6))
        left = set(cache.get_many(EP, "m", [f"r{i}" for i in range(6)]))
        assert left == {"r0", "r1", "r4", "r5"}  # r2 and r3 were the least recently used
        assert set(cache.get_many(EP, "other-model", ["r6"])) == {"r6"}
        assert cache.used_bytes() == 5 * ROW
        np.testing.assert_array_equal(cache.get_many(EP, "m", ["r5"])["r5"], vec(5)[0])


def test_hits_are_marked_at_most_once_per_touch_interval(location: str) -> None:
    with open_store(location, max_mb=3 * ROW / 1e6) as cache:
        for i in range(3):
            cache.put_many(EP, "m", [f"r{i}"], vec(i))
        cache.get_many(EP, "m", ["r0"])  # within a minute of its write: not marked again
        cache.put_many(EP, "m", ["r3"], vec(3))
        assert set(cache.get_many(EP, "m", ["r0", "r1", "r2", "r3"])) == {"r1", "r2", "r3"}


def test_collections_are_never_evicted(location: str) -> None:
    texts = [f"chunk {i}" for i in range(8)]
    vectors = np.random.default_rng(0).standard_normal((8, DIMS)).astype(np.float32)
    with open_collections(location) as store:
        store.create("kept", endpoint_id=EP, model="m", chunk_size=100, overlap=0)
        store.add_chunks("kept", [Chunk(t, "doc.txt", i, 0, len(t)) for i, t in enumerate(texts)], vectors)
    with open_store(location, max_mb=2 * ROW / 1e6) as cache:
        cache.put_many(EP, "m", texts, vectors)  # the chunks' vectors in the cache too, as the app does
        assert cache.used_bytes() <= 2 * ROW
    with open_collections(location) as store:
        chunks, loaded = store.load("kept")
    assert [c.text for c in chunks] == texts
    np.testing.assert_array_equal(loaded, vectors)


def test_without_a_cap_nothing_is_evicted(location: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CACHE_MAX_MB_ENV, raising=False)
    with open_store(location) as cache:
        assert cache.max_bytes is None
        cache.put_many(EP, "m", [f"r{i}" for i in range(20)], np.ones((20, DIMS), dtype=np.float32))
        assert cache.evict() == 0 and cache.count(EP, "m") == 20
        assert cache.usage() == {"bytes": 20 * ROW, "max_bytes": None}


def test_the_cap_comes_from_the_environment(location: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_MAX_MB_ENV, "2.5")
    with open_store(location) as cache:
        assert cache.max_bytes == 2_500_000
    monkeypatch.setenv(CACHE_MAX_MB_ENV, "-3")
    with pytest.raises(ConfigurationError, match=CACHE_MAX_MB_ENV):
        open_store(location)


@pytest.mark.parametrize("value", ["lots", "-1", "nan", "inf", True, [5]])
def test_bad_caps_name_the_setting(value) -> None:
    with pytest.raises(ConfigurationError, match="cache_max_mb"):
        parse_max_mb(value, "cache_max_mb")


@pytest.mark.parametrize(
    ("value", "mb"), [(None, None), ("", None), ("0", None), (0, None), ("250", 250.0), (0.5, 0.5)]
)
def test_good_caps(value, mb) -> None:
    assert parse_max_mb(value, "cache_max_mb") == mb


def test_an_old_cache_file_gets_last_used_from_its_creation_time(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:  # the schema before the cap
        conn.execute(
            "CREATE TABLE embeddings (endpoint TEXT NOT NULL, model TEXT NOT NULL, text_sha BLOB NOT NULL, "
            "dims INTEGER NOT NULL, vector BLOB NOT NULL, created REAL NOT NULL, UNIQUE (endpoint, model, text_sha))"
        )
        conn.execute("INSERT INTO embeddings VALUES ('e', 'm', x'01', 1, x'0000803f', 1234.5)")
    EmbeddingCache(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT created, last_used FROM embeddings").fetchall() == [(1234.5, 1234.5)]


def _writer(location: str, k: int, cap_bytes: int, start_at: float) -> None:
    cache = open_store(location, max_mb=cap_bytes / 1e6)
    time.sleep(max(0.0, start_at - time.time()))
    for start in range(0, 60, 5):
        texts = [f"p{k}-{i}" for i in range(start, start + 5)]
        cache.put_many(EP, "m", texts, np.random.default_rng(k * 100 + start).standard_normal((5, DIMS)))
        cache.get_many(EP, "m", [f"p{(k + 1) % 3}-{i}" for i in range(60)])  # others' rows, read
    cache.close()


def test_processes_evicting_at_once_keep_to_the_cap(location: str) -> None:
    cap = 40 * ROW
    open_store(location).close()
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from tests.test_cache_cap import _writer; "
        "_writer(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))"
    )
    start_at = time.time() + 3.0
    root = str(Path(__file__).parent.parent)
    children = [
        subprocess.Popen([sys.executable, "-c", code, root, location, str(k), str(cap), str(start_at)])
        for k in range(3)
    ]
    assert [child.wait(timeout=120) for child in children] == [0, 0, 0]
    with open_store(location) as cache:
        used = cache.used_bytes()
        # Every process evicted after each of its writes: the last one left the cache at the cap,
        # and turns taken under one lock mean nobody evicted what another had already freed.
        assert cap - ROW < used <= cap
        assert cache.stats()["entries"] == used // ROW
