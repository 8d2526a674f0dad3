"""The embedding cache: round trips, namespaces, speed, threads and processes sharing one store.

Every test taking ``cache`` (or ``store_kind``) runs twice: against the SQLite file
(:class:`EmbeddingCache`) and against PostgreSQL + pgvector (:class:`PostgresEmbeddingCache`,
a real server from tests/conftest.py). Tests about the SQLite file itself use ``sqlite_cache``.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from embedcore.errors import ConfigurationError, InputError
from embedcore.stores.cache import (
    CACHE_FILENAME,
    EmbeddingCache,
    PostgresEmbeddingCache,
    default_cache_path,
    text_key,
)

EP = "https://api.example.test/v1"


def vecs(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def open_store(location: str):
    """The cache at a location: a PostgreSQL URL or a SQLite file path (also used by child processes)."""
    if location.startswith("postgresql://"):
        return PostgresEmbeddingCache(location)
    return EmbeddingCache(location)


@pytest.fixture
def location(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a cache lives: a file for "sqlite", a fresh database for "postgres"."""
    if store_kind == "postgres":
        return request.getfixturevalue("database_url")
    return str(tmp_path / "c.sqlite3")


@pytest.fixture
def cache(location: str):
    c = open_store(location)
    yield c
    c.close()


@pytest.fixture
def sqlite_cache(tmp_path: Path) -> EmbeddingCache:
    c = EmbeddingCache(tmp_path / "c.sqlite3")
    yield c
    c.close()


def test_round_trip_is_exact_float32(cache) -> None:
    texts = ["alpha", "beta", "gamma"]
    v = vecs(3)
    cache.put_many(EP, "m", texts, v)
    got = cache.get_many(EP, "m", ["gamma", "alpha", "beta"])
    assert set(got) == set(texts)
    for i, t in enumerate(texts):
        assert got[t].dtype == np.float32
        assert got[t].shape == (8,)
        np.testing.assert_array_equal(got[t], v[i])
    got["alpha"][0] = 123.0  # returned arrays are the caller's to modify
    assert cache.get_many(EP, "m", ["alpha"])["alpha"][0] == v[0, 0]


def test_misses_are_absent_and_empty_lookup(cache) -> None:
    cache.put_many(EP, "m", ["a"], vecs(1))
    assert set(cache.get_many(EP, "m", ["a", "b", "a"])) == {"a"}
    assert cache.get_many(EP, "m", []) == {}


def test_endpoint_and_model_are_separate_namespaces(cache) -> None:
    cache.put_many(EP, "m1", ["t"], vecs(1, seed=1))
    cache.put_many(EP, "m2", ["t"], vecs(1, d=4, seed=2))
    cache.put_many("local:", "m1", ["t"], vecs(1, seed=3))
    np.testing.assert_array_equal(cache.get_many(EP, "m1", ["t"])["t"], vecs(1, seed=1)[0])
    assert cache.get_many(EP, "m2", ["t"])["t"].shape == (4,)
    np.testing.assert_array_equal(cache.get_many("local:", "m1", ["t"])["t"], vecs(1, seed=3)[0])
    assert cache.get_many(EP, "m3", ["t"]) == {}


def test_put_replaces(cache) -> None:
    cache.put_many(EP, "m", ["t"], vecs(1, seed=1))
    cache.put_many(EP, "m", ["t"], vecs(1, seed=2))
    np.testing.assert_array_equal(cache.get_many(EP, "m", ["t"])["t"], vecs(1, seed=2)[0])
    assert cache.stats()["entries"] == 1


def test_accepts_list_of_1d_vectors_and_checks_lengths(cache) -> None:
    cache.put_many(EP, "m", ["a", "b"], [np.ones(3), np.zeros(3)])
    np.testing.assert_array_equal(cache.get_many(EP, "m", ["a"])["a"], np.ones(3, np.float32))
    with pytest.raises(InputError, match="2 texts but 1 vectors"):
        cache.put_many(EP, "m", ["a", "b"], vecs(1))


def test_clear_by_endpoint_model_and_all(cache) -> None:
    cache.put_many(EP, "m1", ["a", "b"], vecs(2))
    cache.put_many(EP, "m2", ["a"], vecs(1))
    cache.put_many("local:", "m1", ["a", "b", "c"], vecs(3))
    assert cache.clear(EP, "m2") == 1
    assert cache.clear(model="m1", endpoint_id="local:") == 3
    assert cache.clear(endpoint_id="nowhere") == 0
    assert cache.stats()["entries"] == 2
    cache.put_many("local:", "m9", ["z"], vecs(1))
    assert cache.clear(model="m1") == 2
    assert cache.clear() == 1
    assert cache.stats()["entries"] == 0


def test_count_is_per_endpoint_and_model(cache) -> None:
    cache.put_many(EP, "m1", ["a", "b"], vecs(2))
    cache.put_many(EP, "m2", ["a"], vecs(1))
    cache.put_many("local:", "m1", ["a", "b", "c"], vecs(3))
    cache.put_many(EP, "m1", ["a"], vecs(1))  # a replaced vector is still one entry
    assert [cache.count(EP, "m1"), cache.count(EP, "m2"), cache.count("local:", "m1")] == [2, 1, 3]
    assert cache.count("local:", "m2") == 0
    cache.clear(EP, "m1")
    assert cache.count(EP, "m1") == 0 and cache.count("local:", "m1") == 3


def test_stats(cache, location: str) -> None:
    cache.put_many(EP, "m", ["a", "b"], vecs(2, d=16))
    cache.put_many("local:", "x", ["a"], vecs(1, d=4))
    s = cache.stats()
    assert s["entries"] == 3
    assert s["path"] == (location if isinstance(cache, EmbeddingCache) else cache.database.display)
    assert s["bytes"] > 0
    assert s["models"] == [
        {"endpoint_id": EP, "model": "m", "entries": 2, "dimensions": 16},
        {"endpoint_id": "local:", "model": "x", "entries": 1, "dimensions": 4},
    ]


def test_file_holds_neither_texts_nor_anything_but_hashes(sqlite_cache: EmbeddingCache) -> None:
    cache = sqlite_cache
    secret_text = "my very private sentence about pelicans"
    cache.put_many(EP, "m", [secret_text], vecs(1))
    cache.close()
    raw = b"".join(p.read_bytes() for p in cache.path.parent.iterdir() if p.is_file())
    assert b"pelicans" not in raw
    with sqlite3.connect(cache.path) as conn:
        (sha,) = conn.execute("SELECT text_sha FROM embeddings").fetchone()
    assert sha == text_key(secret_text)


def test_database_holds_neither_texts_nor_anything_but_hashes(database_url: str) -> None:
    import psycopg

    secret_text = "my very private sentence about pelicans"
    with PostgresEmbeddingCache(database_url) as cache:
        cache.put_many(EP, "m", [secret_text], vecs(1))
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT endpoint, model, text_sha, vector::text FROM embedcore_embeddings"
        ).fetchall()
    assert len(rows) == 1 and bytes(rows[0][2]) == text_key(secret_text)
    assert "pelicans" not in repr(rows)


def test_wal_mode(sqlite_cache: EmbeddingCache) -> None:
    with sqlite3.connect(sqlite_cache.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_odd_texts(cache) -> None:
    texts = ["\ud800 lone surrogate", "emoji 🦜", "Ünïcödé", "a" * 100_000, "x\x00y"]
    cache.put_many(EP, "m", texts, vecs(len(texts)))
    assert set(cache.get_many(EP, "m", texts)) == set(texts)
    assert text_key("é") != text_key("e\u0301")  # no normalisation: different texts, different keys


def test_non_finite_vectors_are_refused_and_nothing_is_stored(cache) -> None:
    bad = vecs(2)
    bad[1, 3] = np.nan
    with pytest.raises(InputError, match="NaN or infinite"):
        cache.put_many(EP, "m", ["a", "b"], bad)
    assert cache.count(EP, "m") == 0


def test_damaged_row_is_a_miss(sqlite_cache: EmbeddingCache) -> None:
    cache = sqlite_cache
    cache.put_many(EP, "m", ["a", "b"], vecs(2))
    with sqlite3.connect(cache.path) as conn:
        conn.execute("UPDATE embeddings SET vector = x'0000' WHERE text_sha = ?", (text_key("a"),))
    assert set(cache.get_many(EP, "m", ["a", "b"])) == {"b"}


def test_persists_across_instances(location: str) -> None:
    with open_store(location) as c1:
        c1.put_many(EP, "m", ["a"], vecs(1))
    with open_store(location) as c2:
        np.testing.assert_array_equal(c2.get_many(EP, "m", ["a"])["a"], vecs(1)[0])


def test_location_from_env_and_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDCORE_CACHE_DIR", str(tmp_path / "envdir"))
    c = EmbeddingCache()
    assert c.path == tmp_path / "envdir" / CACHE_FILENAME
    assert c.path.exists()
    c.close()
    monkeypatch.delenv("EMBEDCORE_CACHE_DIR")
    import platformdirs

    expected = Path(platformdirs.user_cache_dir("embedcore", appauthor=False)) / CACHE_FILENAME
    assert default_cache_path() == expected


def test_unusable_location_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigurationError, match="EMBEDCORE_CACHE_DIR"):
        EmbeddingCache(blocker / "c.sqlite3")


def test_10k_vectors_round_trip_in_one_call(cache) -> None:
    # Timing is the benchmarks' job (`python -m bench cache`, `bench team`: ratios against a
    # peer in the same run); a wall-clock bound here failed whenever the machine was busy.
    texts = [f"sentence number {i}" for i in range(10_000)]
    v = vecs(10_000, d=384)
    cache.put_many(EP, "m", texts, v)
    got = cache.get_many(EP, "m", texts)
    assert len(got) == 10_000
    np.testing.assert_array_equal(np.stack([got[t] for t in texts]), v)


def test_threads_share_one_cache(cache) -> None:
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for j in range(20):
                texts = [f"t{(k * 7 + j + i) % 60}" for i in range(10)]
                cache.put_many(EP, "m", texts, np.stack([_vec_for(t) for t in texts]))
                got = cache.get_many(EP, "m", texts)
                for t in texts:
                    np.testing.assert_array_equal(got[t], _vec_for(t))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert cache.stats()["entries"] == 60


def _vec_for(text: str) -> np.ndarray:
    # Test fixture only: a deterministic vector per text.
    return np.frombuffer(text_key(text)[:16], dtype=np.uint8).astype(np.float32)


def _process_writer(location: str, k: int) -> int:
    c = open_store(location)
    texts = [f"p{k}-{i}" for i in range(200)] + [f"shared-{i}" for i in range(50)]
    for start in range(0, len(texts), 25):
        chunk = texts[start : start + 25]
        c.put_many(EP, "m", chunk, np.stack([_vec_for(t) for t in chunk]))
    c.close()
    return len(texts)


def test_processes_share_one_store(location: str) -> None:
    open_store(location).close()
    # Plain child interpreters rather than multiprocessing: spawn re-runs the parent's
    # __main__, which under pytest may be an AppTest script left behind by another test.
    code = "import sys; sys.path.insert(0, sys.argv[1]); from test_cache import _process_writer; _process_writer(sys.argv[2], int(sys.argv[3]))"
    here = str(Path(__file__).parent)
    children = [subprocess.Popen([sys.executable, "-c", code, here, location, str(k)]) for k in range(3)]
    assert [child.wait(timeout=120) for child in children] == [0, 0, 0]
    with open_store(location) as c:
        assert c.stats()["entries"] == 3 * 200 + 50
        got = c.get_many(EP, "m", ["p2-199", "shared-49"])
        np.testing.assert_array_equal(got["shared-49"], _vec_for("shared-49"))
