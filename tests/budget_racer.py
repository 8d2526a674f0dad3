"""One racing process of tests/test_budget_race.py: threads spending one visitor's budget at once.

Run as ``python -m tests.budget_racer BASE_URL STORE START THREADS TAG``: STORE is a SQLite file
or a PostgreSQL URL, START the epoch second every process and thread waits for (so all of them
start at the same moment, not one after another). Each thread embeds new texts, action after
action, until the budget refuses one; the process prints one JSON line: actions done and refused.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from embedcore.errors import BudgetExceededError
from embedcore.providers.budget import BudgetGuard, BudgetSettings, PostgresLedger, SQLiteLedger
from embedcore.providers.client import EmbeddingClient

MODEL = "BAAI/bge-m3"
#: The budget all racers share: one visitor's, which is also the endpoint's.
BUDGET = 10_000
#: Texts per action: about 230 tokens each, so the budget holds some 40 actions.
TEXTS_PER_ACTION = 5


def texts_for(tag: str, thread: int, action: int) -> list[str]:
    return [f"racer {tag}/{thread} action {action} text {i} about budgets" for i in range(TEXTS_PER_ACTION)]


def main(base_url: str, store: str, start: float, threads: int, tag: str) -> None:
    if store.startswith("postgresql://"):
        from embedcore.stores.database import Database

        ledger = PostgresLedger(Database(store))
    else:
        ledger = SQLiteLedger(store)
    settings = BudgetSettings(tokens_per_visitor_per_day=BUDGET, tokens_per_day=BUDGET)
    guard = BudgetGuard(ledger, settings, "ip:203.0.113.1")
    client = EmbeddingClient(base_url, "", cache=None, requests_per_second=None, max_retries=0)
    done = [0] * threads
    refused = [0] * threads
    errors: list[str] = []
    ready = time.time()

    def race(n: int) -> None:
        time.sleep(max(0.0, start - time.time()))
        action = 0
        while True:
            try:
                client.embed(texts_for(tag, n, action), MODEL, budget=guard)
            except BudgetExceededError:
                refused[n] += 1
                return
            except Exception as exc:  # reported to the test, which fails on any
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            done[n] += 1
            action += 1

    workers = [threading.Thread(target=race, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    report = {"tag": tag, "ready": ready, "done": sum(done), "refused": sum(refused), "errors": errors}
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
