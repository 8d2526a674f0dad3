"""Target 4 — ``LocalModel.embed`` against sentence-transformers called directly.

Same process, same texts, batch 64, our cache disabled (``cache=None``). The two
alternate (ABBA BAAB ...) so that neither always runs on a warmer or a busier machine;
each is warmed up once before timing. Throughput is texts over the median round time.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from .common import Row, log
from .corpus import load_texts, model_path


def rows(quick: bool = False) -> list[Row]:
    n, rounds = (500, 2) if quick else (2_000, 4)
    texts, _ = load_texts(n)

    from sentence_transformers import SentenceTransformer

    from embedcore import LocalModel
    from embedcore.providers.catalog import MINILM_ID

    direct = SentenceTransformer(model_path(), device="cpu")
    ours = LocalModel(cache=None, batch_size=64)

    def run_direct() -> np.ndarray:
        return direct.encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)

    def run_ours() -> np.ndarray:
        return ours.embed(texts, MINILM_ID).vectors

    # Warm-up: model load, tokenizer, first forward pass (not timed).
    direct.encode(texts[:64], batch_size=64, show_progress_bar=False)
    ours.embed(texts[:64], MINILM_ID)

    times: dict[str, list[float]] = {"direct": [], "ours": []}
    order = []
    for r in range(rounds):
        order += ["direct", "ours"] if r % 2 == 0 else ["ours", "direct"]
    outputs = {}
    for name in order:
        start = time.perf_counter()
        outputs[name] = run_direct() if name == "direct" else run_ours()
        times[name].append(time.perf_counter() - start)
        log(f"{name}: {n / times[name][-1]:.0f} texts/s")
    # Same model, same texts: the vectors must agree (a fast wrong answer is no win).
    agree = float(np.abs(outputs["direct"] - outputs["ours"]).max())
    direct_rate = n / statistics.median(times["direct"])
    ours_rate = n / statistics.median(times["ours"])
    return [
        Row(
            f"Local model: MiniLM throughput ({n} texts, batch 64)",
            "sentence-transformers encode() directly, same process",
            f"{ours_rate:.0f} texts/s",
            f"{direct_rate:.0f} texts/s",
            f"{ours_rate / direct_rate:.2f}x speed",
            "≥ 0.95x",
            ours_rate >= 0.95 * direct_rate,
            [
                f"{rounds} rounds each, alternating; median of rounds; cache disabled; "
                f"max |difference| of the vectors {agree:.1e}"
            ],
        )
    ]
