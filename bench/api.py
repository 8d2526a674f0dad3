"""Targets 2 and 3 — embedding through a rate-limited API, and the cache.

The server is :mod:`bench.fake_api` in its own process: 50 ms per request, 5 requests/s,
bursts of 10, 429 + Retry-After beyond. Its vectors are derived from the texts' hashes
(it measures transport, not meaning — see that module). The texts are real sentences
from :mod:`bench.corpus`; the model id is ``BAAI/bge-m3`` (1,024 dims, as served by IONOS).

Three ways to embed N texts, each starting from a full server bucket:

* the naive loop: one ``requests.post`` per text, sleeping ``Retry-After`` on a 429.
  At 5 requests/s that is N / 5 seconds (2,000 s for 10,000 texts), so it runs on a
  subset and the 10k figure is **extrapolated** from its measured rate;
* the official ``openai`` SDK: ``client.embeddings.create`` with the same batches of
  ``BATCH`` texts, one after another (``max_retries=5``, as our client, rather than its
  default 2, which can give up under this limit);
* :class:`embedcore.EmbeddingClient` with its defaults (batch 64, 4 in flight, 5 rps /
  burst 10 pacing) and an empty cache file.

The bound: with R = ceil(N / BATCH) requests, the server allows the first ``burst`` at
once and the rest at ``rate`` per second, so no client can finish before
``(R - burst) / rate + latency`` seconds; the fraction of the bound is that over the
measured time (steady state: rate × batch = 320 texts/s).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from .common import RESULTS, Row, fmt_s, log, run_fresh
from .corpus import load_texts
from .fake_api import FakeAPIProcess

MODEL = "BAAI/bge-m3"
RATE, BURST, LATENCY = 5.0, 10, 0.05
BATCH = 64
API_KEY = "bench-not-a-secret"
CACHE_FILE = RESULTS / "api_cache.sqlite3"
FIRST_CALL_FILE = RESULTS / "api_first_call.json"


def bound_seconds(n_texts: int, batch: int, rate: float = RATE, burst: int = BURST) -> float:
    """Least wall time any client can take for ``n_texts`` under the server's token bucket."""
    requests = math.ceil(n_texts / batch)
    return max(0, requests - burst) / rate + LATENCY


def naive_loop(url: str, texts: list[str]) -> dict:
    """One request per text, as a first script would do it (honouring Retry-After)."""
    import requests

    session = requests.Session()
    vectors, rate_limited = [], 0
    start = time.perf_counter()
    for text in texts:
        for _ in range(50):
            response = session.post(
                f"{url}/embeddings",
                json={"model": MODEL, "input": text, "encoding_format": "float"},
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=30,
            )
            if response.status_code == 429:
                rate_limited += 1
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            response.raise_for_status()
            vectors.append(response.json()["data"][0]["embedding"])
            break
    elapsed = time.perf_counter() - start
    assert len(vectors) == len(texts)
    return {"seconds": elapsed, "rate_limited_seen": rate_limited}


def openai_sdk(url: str, texts: list[str]) -> dict:
    """The official SDK, the same batches one after another."""
    import openai

    client = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=5)
    start = time.perf_counter()
    out = []
    for i in range(0, len(texts), BATCH):
        response = client.embeddings.create(input=texts[i : i + BATCH], model=MODEL)
        out.append(np.asarray([d.embedding for d in response.data], dtype=np.float32))
    vectors = np.concatenate(out)
    elapsed = time.perf_counter() - start
    client.close()
    assert vectors.shape[0] == len(texts)
    return {"seconds": elapsed}


def embedcore_client(url: str, texts: list[str], cache_path: Path | None) -> dict:
    from embedcore import EmbeddingCache, EmbeddingClient

    cache = EmbeddingCache(cache_path) if cache_path is not None else None
    with EmbeddingClient(url, API_KEY, batch_size=BATCH, cache=cache) as client:
        start = time.perf_counter()
        result = client.embed(texts, MODEL)
        elapsed = time.perf_counter() - start
    assert result.vectors.shape == (len(texts), 1024), result.vectors.shape
    return {
        "seconds": elapsed,
        "requests": result.requests,
        "retries": result.retries,
        "cached": result.cached,
    }


def _measure(api: FakeAPIProcess, name: str, call) -> dict:
    api.reset()  # a full bucket and zeroed counters for every contender
    figures = call()
    stats = api.stats()
    figures.update(
        server_requests=stats["requests"], rate_limited=stats["rate_limited"], max_batch=stats["max_batch"]
    )
    figures["max_in_flight"] = stats["max_in_flight"]
    log(f"{name}: {figures}")
    time.sleep(1.0)  # let the bucket and sockets settle before the next contender
    return figures


def _digest(texts: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def rate_limit_rows(quick: bool = False) -> list[Row]:
    n = 2_000 if quick else 10_000
    n_naive = 30 if quick else 100
    texts, _ = load_texts(n)
    # Count and time bounds for the server: a little over what this run needs.
    budget = 3 * (n_naive + math.ceil(n / BATCH) * 3) + 100
    with FakeAPIProcess(rate=RATE, burst=BURST, latency=LATENCY, max_requests=budget, max_seconds=900) as api:
        url = api.url
        naive = _measure(api, f"naive loop ({n_naive} texts)", lambda: naive_loop(api.url, texts[:n_naive]))
        sdk = _measure(api, f"openai SDK ({n} texts)", lambda: openai_sdk(api.url, texts))
        CACHE_FILE.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(CACHE_FILE) + suffix).unlink(missing_ok=True)
        ours = _measure(
            api, f"EmbeddingClient ({n} texts)", lambda: embedcore_client(api.url, texts, CACHE_FILE)
        )
    # The cache benchmark reuses this first (uncached) call as its peer.
    # The cache is keyed by endpoint (the URL, port included), so the cache benchmark serves on this port.
    FIRST_CALL_FILE.write_text(
        json.dumps({"n": n, "digest": _digest(texts), "seconds": ours["seconds"], "url": url})
    )

    bound = bound_seconds(n, BATCH)
    ours_rate, sdk_rate = n / ours["seconds"], n / sdk["seconds"]
    naive_rate = n_naive / naive["seconds"]
    naive_full = n / naive_rate
    fraction = bound / ours["seconds"]
    sdk_fraction = bound / sdk["seconds"]
    size = f"{n // 1000}k"
    setting = f"{RATE:g} req/s, burst {BURST}, +{LATENCY * 1000:.0f} ms"
    return [
        Row(
            f"API embed {size} texts ({setting}): throughput",
            f"openai SDK, same batches of {BATCH} in sequence",
            f"{ours_rate:.0f} texts/s ({fmt_s(ours['seconds'])})",
            f"{sdk_rate:.0f} texts/s ({fmt_s(sdk['seconds'])})",
            f"{ours_rate / sdk_rate:.2f}x speed",
            "≥ 1.0x SDK",
            ours_rate >= sdk_rate,
            [
                f"EmbeddingClient: batch {BATCH}, 4 in flight, {ours['requests']} requests "
                f"({ours['retries']} retries); SDK: {sdk['server_requests']} requests",
            ],
        ),
        Row(
            f"API embed {size}: fraction of the rate bound",
            f"bound: {math.ceil(n / BATCH)} requests at {RATE:g}/s after a burst of {BURST} "
            f"= {fmt_s(bound)} ({n / bound:.0f} texts/s; steady {RATE * BATCH:.0f} texts/s)",
            f"{fraction:.2f}",
            f"{n / bound:.0f} texts/s (SDK reaches {sdk_fraction:.2f})",
            f"{fraction:.2f}x bound",
            "≥ 0.9",
            fraction >= 0.9,
        ),
        Row(
            f"API embed {size}: 429s provoked",
            "openai SDK",
            str(ours["rate_limited"]),
            str(sdk["rate_limited"]),
            "—",
            "0",
            ours["rate_limited"] == 0,
        ),
        Row(
            f"API embed {size}: vs one request per text",
            f"naive requests loop (measured on {n_naive} texts, extrapolated to {size})",
            fmt_s(ours["seconds"]),
            f"{fmt_s(naive_full)} ({naive_rate:.1f} texts/s, {naive['rate_limited']} 429s in the subset)",
            f"{naive_full / ours['seconds']:.0f}x faster",
            "—",
            None,
            [
                f"naive loop measured {fmt_s(naive['seconds'])} for {n_naive} texts; the {size} figure is extrapolated"
            ],
        ),
    ]


def second_call(url: str, n: int) -> dict:
    """Worker: a new process, a new client and cache object on the same file — an app restart."""
    texts, _ = load_texts(n)
    return embedcore_client(url, texts, CACHE_FILE)


def cache_rows(quick: bool = False) -> list[Row]:
    n = 2_000 if quick else 10_000
    texts, _ = load_texts(n)
    first = json.loads(FIRST_CALL_FILE.read_text()) if FIRST_CALL_FILE.exists() else {}
    reuse = first.get("n") == n and first.get("digest") == _digest(texts) and "url" in first
    reuse = reuse and CACHE_FILE.exists()
    port = int(first["url"].rsplit(":", 1)[1].split("/")[0]) if reuse else 0
    options = {"rate": RATE, "burst": BURST, "latency": LATENCY, "max_requests": 1_000, "max_seconds": 600}
    try:
        server = FakeAPIProcess(port, **options).start()
    except RuntimeError:  # that port is taken now: start afresh on any port
        reuse = False
        server = FakeAPIProcess(**options).start()
    with server as api:
        if not reuse:
            log("no cache from the rate_limit benchmark: making the first (uncached) call now")
            CACHE_FILE.unlink(missing_ok=True)
            done = _measure(api, "first call", lambda: embedcore_client(api.url, texts, CACHE_FILE))
            first = {"n": n, "digest": _digest(texts), "seconds": done["seconds"], "url": api.url}
            FIRST_CALL_FILE.write_text(json.dumps(first))
        api.reset()
        again = run_fresh("bench.api:second_call", {"url": api.url, "n": n})
        sent = api.stats()["requests"]
    log(f"second call: {again}, server saw {sent} requests")
    return [
        Row(
            f"Cache: the same {n // 1000}k texts again (new process)",
            "the first, uncached call",
            f"{fmt_s(again['seconds'])}, {sent} requests",
            fmt_s(first["seconds"]),
            f"{again['seconds'] / first['seconds']:.3f}x time",
            "≤ 1 s, 0 requests",
            again["seconds"] <= 1 and sent == 0 and again["requests"] == 0,
            ["new process, new EmbeddingClient and EmbeddingCache on the same SQLite file (an app restart)"],
        )
    ]
