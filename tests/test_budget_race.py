"""Concurrent actions cannot overspend: 3 processes x 8 threads race for one 10,000-token budget.

Every process and thread starts at one shared moment (an epoch timestamp handed to all of them)
against a real HTTP API on 127.0.0.1, on the SQLite file and on PostgreSQL.

The bound: tokens the API reports as served <= the budget + the estimate error of the actions
in flight, sum(max(0, reported - estimated)). Here the server counts every text at exactly our
estimate's bound (:func:`embedcore.providers.budget.estimate_tokens`: UTF-8 bytes + 3) — the worst case the
estimate allows — so the error is 0 and the test asserts served <= 10,000: one racer too many
admitted by a non-atomic check would cost another ~230 tokens and fail it. Lower, the budget
must also be used up to within one action, so reservations are released as actions settle.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest

from embedcore.providers.budget import (
    BudgetGuard,
    BudgetSettings,
    PostgresLedger,
    SQLiteLedger,
    estimate_tokens,
)
from tests.budget_racer import BUDGET, MODEL, TEXTS_PER_ACTION, texts_for

REPO = Path(__file__).resolve().parent.parent
PROCESSES, THREADS = 3, 8


@pytest.mark.slow
def test_racing_processes_and_threads_never_overspend(fake_openai, store_kind, tmp_path, request) -> None:
    fake = fake_openai()
    fake.count_tokens = lambda text: estimate_tokens([text], MODEL)[0]
    store = (
        request.getfixturevalue("database_url") if store_kind == "postgres" else str(tmp_path / "b.sqlite3")
    )
    if store_kind == "postgres":
        from embedcore.stores.database import Database

        Database(store).close()  # schema first, so the racers' start is the race and not the migration
    start = time.time() + 8.0  # every interpreter is up and imported by then (checked below)
    racers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.budget_racer", fake.url, store, str(start), str(THREADS), f"p{n}"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    reports = []
    for racer in racers:
        out, _ = racer.communicate(timeout=300)
        assert racer.returncode == 0
        reports.append(json.loads(out.strip().splitlines()[-1]))

    served = fake.prompt_tokens
    one_action = max(
        sum(estimate_tokens(texts_for("p0", t, a), MODEL)) for t in range(THREADS) for a in range(60)
    )
    assert served <= BUDGET, f"served {served} tokens of a {BUDGET}-token budget"
    assert served >= BUDGET - one_action, f"only {served} of {BUDGET} tokens were usable"
    # No racer failed otherwise; every one ran into the limit; every process was ready before the
    # shared start, so all 24 threads started at the same moment; and processes were served
    # interleaved, not one after another.
    assert [r["errors"] for r in reports] == [[], [], []]
    assert all(r["refused"] == THREADS for r in reports), reports
    assert all(r["ready"] < start for r in reports), (start, reports)
    order = [_tag(r) for r in fake.requests]
    switches = sum(1 for a, b in pairwise(order) if a != b)
    assert len(set(order)) >= 2 and switches >= 2, order
    assert sum(r["done"] for r in reports) * TEXTS_PER_ACTION == len(fake.embedded)
    # The ledger agrees with the API, and nothing is left reserved.
    if store_kind == "postgres":
        from embedcore.stores.database import Database

        ledger = PostgresLedger(Database(store))
    else:
        ledger = SQLiteLedger(store)
    guard = BudgetGuard(ledger, BudgetSettings(BUDGET, BUDGET), "ip:203.0.113.1")
    assert guard.status(fake.url).used == served
    (record,) = ledger.usage()
    assert (record.tokens, record.texts) == (served, len(fake.embedded))


def _tag(record: dict) -> str:
    return record["body"]["input"][0].split("/")[0].split()[1]
