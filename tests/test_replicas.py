"""Replicas never pay twice: processes sharing one cache claim the texts they fetch.

Every test runs once per store (``store_kind``): one SQLite file shared by the processes of a
machine, and one PostgreSQL database shared by replicas. Each replica is a real process with
its own :class:`embedcore.EmbeddingClient`, talking over HTTP to the fake API on 127.0.0.1
(tests/fake_openai.py), which counts what it is sent. Processes start at one shared moment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from embedcore.providers.pipeline import BatchOutput, embed_with_cache
from embedcore.stores.cache import EmbeddingCache, PostgresEmbeddingCache
from tests.fake_openai import fixture_vectors

HERE = Path(__file__).parent
MODEL = "BAAI/bge-m3"
MARK = "REPLICA_RESULT "


def open_store(location: str, **options):
    if location.startswith("postgresql://"):
        return PostgresEmbeddingCache(location, **options)
    return EmbeddingCache(location, **options)


def replica(location: str, api_url: str, texts: list[str], start_at: float, options: dict) -> None:
    """Child process: embed ``texts`` at ``start_at`` and print what happened as one JSON line."""
    from embedcore import EmbeddingClient

    cache = open_store(location, claim_ttl=options.get("claim_ttl", 30.0))
    client = EmbeddingClient(
        api_url,
        "not-a-secret",
        batch_size=options["batch_size"],
        max_concurrency=options["max_concurrency"],
        requests_per_second=None,
        cache=cache,
    )
    seen: list[int] = []
    time.sleep(max(0.0, start_at - time.time()))
    print("STARTED", flush=True)
    result = client.embed(texts, MODEL, progress=lambda done, total: seen.append(done))
    np.save(options["out"], result.vectors)
    print(
        MARK + json.dumps({"requests": result.requests, "fetched": result.fetched, "progress": seen}),
        flush=True,
    )


def _spawn(location: str, api_url: str, texts: list[str], start_at: float, options: dict) -> subprocess.Popen:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from tests.test_replicas import replica; "
        "replica(**json.loads(sys.argv[2]))"
    )
    args = {
        "location": location,
        "api_url": api_url,
        "texts": texts,
        "start_at": start_at,
        "options": options,
    }
    return subprocess.Popen(
        [sys.executable, "-c", code, str(HERE.parent), json.dumps(args)],
        cwd=HERE.parent,
        stdout=subprocess.PIPE,
        text=True,
    )


def _result(child: subprocess.Popen) -> dict:
    out, _ = child.communicate(timeout=180)
    line = next((x for x in out.splitlines() if x.startswith(MARK)), None)
    assert line is not None, f"replica exited with {child.returncode}: {out[-2000:]}"
    return json.loads(line[len(MARK) :])


@pytest.fixture
def location(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if store_kind == "postgres":
        return request.getfixturevalue("database_url")
    return str(tmp_path / "shared.sqlite3")


def test_three_replicas_at_once_send_each_text_once(location: str, fake_openai, tmp_path: Path) -> None:
    api = fake_openai()
    api.delay = 0.05  # an API takes time: the replicas' batches overlap
    texts = [f"replica text number {i}" for i in range(300)]
    open_store(location).close()  # the schema exists before the race (as on a running team)
    start_at = time.time() + 4.0  # every child imported and connected before the start
    # One replica sends a batch at a time (the calling thread), two keep several in flight.
    concurrency = [1, 4, 2]
    children = [
        _spawn(
            location,
            api.url,
            texts,
            start_at,
            {"batch_size": 20, "max_concurrency": c, "out": str(tmp_path / f"r{i}.npy")},
        )
        for i, c in enumerate(concurrency)
    ]
    results = [_result(child) for child in children]

    sent = Counter(api.embedded)
    assert len(api.served_inputs) <= len(texts) // 20 + 1  # what one replica alone needs, + 1
    assert set(sent) == set(texts) and set(sent.values()) == {1}  # each text paid for once in all
    assert sum(r["requests"] for r in results) == len(api.served_inputs)
    assert sum(r["fetched"] for r in results) == len(texts)
    expected = fixture_vectors(texts, 1024)
    for i, result in enumerate(results):
        np.testing.assert_array_equal(np.load(tmp_path / f"r{i}.npy"), expected)
        assert result["progress"][-1] == len(texts)
        assert result["progress"] == sorted(result["progress"])
    # A replica that fetched little waited for the others' vectors, and said so as they came.
    waiter = min(results, key=lambda r: r["fetched"])
    assert waiter["fetched"] < len(texts)
    assert len(set(waiter["progress"])) > waiter["requests"] + 1


def _claims(location: str) -> list[tuple[str, float]]:
    """(owner, expires) of every claim in the store, expiry in this machine's wall-clock time."""
    if location.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(location) as conn:
            return conn.execute("SELECT owner, expires FROM embedcore_claims").fetchall()
    import sqlite3

    with sqlite3.connect(location) as conn:
        return conn.execute("SELECT owner, expires FROM claims").fetchall()


def test_a_killed_replica_holds_others_up_only_until_its_claims_expire(
    location: str, fake_openai, tmp_path: Path
) -> None:
    api = fake_openai()
    release = threading.Event()
    # The first request hangs: replica A holds its claims, mid-request, when it is killed.
    api.script = [lambda request: release.wait(60) and None]
    texts = [f"killed replica text {i}" for i in range(30)]
    open_store(location).close()
    ttl = 3.0
    options = {"batch_size": 30, "max_concurrency": 1, "claim_ttl": ttl}
    a = _spawn(location, api.url, texts, time.time(), {**options, "out": str(tmp_path / "a.npy")})
    try:
        deadline = time.monotonic() + 60
        while not api.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert api.requests, "replica A never sent its request"
        claims = _claims(location)
        assert len(claims) == len(texts)
        os.kill(a.pid, signal.SIGKILL)
        a.wait(timeout=10)
        time.sleep(0.2)
        # No renewal after death: the last expiry written is the one that frees the texts.
        expires = max(e for _, e in _claims(location))
        b = _spawn(location, api.url, texts, time.time(), {**options, "out": str(tmp_path / "b.npy")})
        result = _result(b)
    finally:
        release.set()
        if a.poll() is None:
            a.kill()
    second = api.requests[1]
    sent_at = time.time() - (time.monotonic() - second["t"])  # the request's arrival, wall clock
    assert expires - 0.3 <= sent_at <= expires + 2.5  # waited for the expiry, and no longer (1 s polls)
    assert (result["requests"], result["fetched"]) == (1, len(texts))
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), fixture_vectors(texts, 1024))
    assert _claims(location) == []  # B released its claims once the vectors were stored


# --- claims within one process: the rules, and what happens on errors ----------------------------


EP = "https://api.example.test/v1"


def test_claim_rules(location: str) -> None:
    with open_store(location, claim_ttl=0.5) as cache:
        first = cache.claim(EP, "m", ["a", "b", "c"], owner="one", limit=2)
        assert (first.claimed, first.free) == (["a", "b"], ["c"])
        second = cache.claim(EP, "m", ["a", "b", "c", "d"], owner="two", limit=5)
        assert (second.busy, second.claimed) == (["a", "b"], ["c", "d"])
        cache.put_many(EP, "m", ["a"], np.ones((1, 4), dtype=np.float32))
        cache.release(EP, "m", "one", ["a"])
        third = cache.claim(EP, "m", ["a", "b"], owner="three", limit=0)  # limit 0 only looks
        assert (third.stored, third.busy, third.claimed) == (["a"], ["b"], [])
        assert cache.claim(EP, "other-model", ["b"], owner="three", limit=1).claimed == ["b"]
        time.sleep(0.6)  # "one"'s claim on b expired
        assert cache.claim(EP, "m", ["b"], owner="three", limit=1).claimed == ["b"]
        assert cache.renew("three") == 2
        assert cache.release(EP, "m", "two") == 2


def test_claims_are_released_when_a_batch_fails(location: str) -> None:
    def failing(batch: list[str]) -> BatchOutput:
        if "t7" in batch:
            raise ConnectionError("the API went away")
        return BatchOutput(vectors=np.ones((len(batch), 4), dtype=np.float32))

    texts = [f"t{i}" for i in range(12)]
    with open_store(location) as cache:
        with pytest.raises(ConnectionError):
            embed_with_cache(
                texts, "m", endpoint_id=EP, cache=cache, send_batch=failing, batch_size=4, max_concurrency=2
            )
        # Nothing is left claimed: another caller may take every text that was not stored.
        after = cache.claim(EP, "m", texts, owner="next", limit=len(texts))
        assert after.busy == []
        assert sorted(after.stored + after.claimed) == sorted(texts)
        assert "t7" in after.claimed
