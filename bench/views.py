"""A saved view of 20,000 texts opened in chromium, beside building the same map from cached texts.

Issue 22's size goal: a view of 20,000 texts opens within 1.5x the time of building that map from
an already-cached upload. Three server processes in turn, as ``make run`` starts them
(``scripts/serve.py``), on one cache folder:

1. **warm the cache**: a link to the 20,000 texts (stored by digest, as a link stores an upload)
   with the static bundled model and PCA: every vector is embedded and cached.
2. **peer**: a fresh server (no map in memory); the same link with UMAP: texts from the store,
   every vector from the cache, the UMAP computed — what a visitor waits for after uploading a
   file embedded before. Timed from ``page.goto`` to the final UMAP map drawn with every point.
   Then "Share this view" → "Save view" keeps that map.
3. **ours**: another fresh server; the saved view's link: timed from ``page.goto`` to its stored
   map drawn with every point.

The texts are 20,000 real sentences (:mod:`bench.large_data`).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from .common import Row, fmt_s, log

N = 20_000
GOAL_RATIO = 1.5
TIMEOUT_MS = 900_000


def _until_drawn(page, url: str, caption: str, drawn: str, idle: str) -> float:
    """Open ``url``; seconds until its map of ``N`` points and ``caption`` are drawn (then idle)."""
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function(drawn, arg=[".st-key-explorer_map .js-plotly-plot", N, True], timeout=TIMEOUT_MS)
    page.get_by_text(caption).first.wait_for(timeout=TIMEOUT_MS)
    seconds = time.perf_counter() - t0
    page.wait_for_function(idle, timeout=TIMEOUT_MS, polling=100)
    return seconds


def _open(browser, url: str, caption: str, drawn: str, idle: str) -> float:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        return _until_drawn(context.new_page(), url, caption, drawn, idle)
    finally:
        context.close()


def _save(browser, url: str, drawn: str, idle: str) -> str:
    """Open ``url`` (its map is in the server's memory by now), save the view; its link."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        _until_drawn(page, url, f"UMAP of {N:,} texts", drawn, idle)
        page.get_by_role("button", name="Share this view").click()
        page.locator(".st-key-explorer_view_name input").fill("bench: 20k")
        page.get_by_role("button", name="Save view", exact=True).click()
        link = page.locator(".st-key-explorer_saved_link code")
        link.wait_for(timeout=TIMEOUT_MS)
        return link.inner_text().strip()
    finally:
        context.close()


def measure() -> dict:
    from playwright.sync_api import sync_playwright

    from embedcore.providers.catalog import MINILM_STATIC_ID
    from embedcore.stores.views import ViewStore
    from tests.browser.chromium import launch_chromium

    from .first_visit import _IDLE, _MAP_DRAWN, _start, _stop
    from .large_data import load_texts

    texts, labels = load_texts(N)
    serve = [sys.executable, "scripts/serve.py"]
    with tempfile.TemporaryDirectory(prefix="bench-views-") as cache, sync_playwright() as pw:
        digest = ViewStore(Path(cache) / "views.sqlite3").put_texts(texts, labels)
        link = f"data=texts:{digest}&provider=local&model={MINILM_STATIC_ID}&colour=label"
        browser = launch_chromium(pw)
        times: dict[str, float] = {}
        for step in ("warm", "peer", "ours"):
            process, url, _ = _start(serve, cache, Path(cache) / f"{step}.log")
            try:
                if step == "warm":
                    times[step] = _open(
                        browser, f"{url}/?{link}&method=pca", f"PCA of {N:,} texts", _MAP_DRAWN, _IDLE
                    )
                elif step == "peer":
                    times[step] = _open(
                        browser, f"{url}/?{link}&method=umap", f"UMAP of {N:,} texts", _MAP_DRAWN, _IDLE
                    )
                    saved = _save(browser, f"{url}/?{link}&method=umap", _MAP_DRAWN, _IDLE)
                else:
                    query = saved.split("?", 1)[1]
                    times[step] = _open(
                        browser, f"{url}/?{query}", "the map as it was saved", _MAP_DRAWN, _IDLE
                    )
            finally:
                _stop(process)
            log(f"{step}: {times[step]:.1f} s")
        browser.close()
    return times


def rows(quick: bool = False) -> list[Row]:
    times = measure()
    ours, peer = times["ours"], times["peer"]
    return [
        Row(
            f"a saved view of {N:,} texts opens in chromium (fresh server)",
            "the same map built from the same texts, every vector cached (fresh server, UMAP computed)",
            fmt_s(ours),
            fmt_s(peer),
            f"{ours / peer:.2f}x time",
            f"≤ {GOAL_RATIO}x",
            ours <= GOAL_RATIO * peer,
            [
                f"embedding the 20,000 texts first (static model, PCA map): {times['warm']:.1f} s, not in either figure"
            ],
        )
    ]
