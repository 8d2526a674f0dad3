"""Several visitors at once on one server: heavy work queues, the queued visitor is told, all are served."""

from __future__ import annotations

import csv
import os
import time

import pytest
from streamlit_browser import assert_healthy, new_session, open_page, serve_app, wait_until_idle

from embedcore import io as eio

pytestmark = pytest.mark.slow

VISITORS = 3
TEXTS_EACH = 300


def _write_csv(path, texts) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text"])
        writer.writerows([t] for t in texts)


def test_visitors_at_once_queue_for_a_slot_see_it_and_all_get_their_map(browser, tmp_path):
    # Texts no cache has seen, a different set per visitor: the docs sample's sentences.
    docs = list(dict.fromkeys(eio.load_sample("docs").texts))
    files = []
    for i in range(VISITORS):
        path = tmp_path / f"visitor-{i}.csv"
        _write_csv(path, docs[i * TEXTS_EACH : (i + 1) * TEXTS_EACH])
        files.append(path)
    cache_dir = tmp_path / "cache"
    env = {**os.environ, "EMBEDCORE_CACHE_DIR": str(cache_dir), "EMBEDCORE_WORK_SLOTS": "1"}
    env.pop("IONOS_API_TOKEN", None)
    log_path = tmp_path / "server.log"
    with serve_app(env, log_path) as (url, _process):
        sessions = [new_session(browser, url) for _ in range(VISITORS)]
        try:
            for _, page in sessions:
                open_page(page)
                page.get_by_text("Upload", exact=True).click()
                wait_until_idle(page)
            # All at once: each hand-over returns at once, the server's runs overlap.
            for path, (_, page) in zip(files, sessions, strict=True):
                page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(path))
            told = 0
            deadline = time.monotonic() + 240
            done: set[int] = set()
            while len(done) < VISITORS and time.monotonic() < deadline:
                for i, (_, page) in enumerate(sessions):
                    if page.get_by_text("is queued behind", exact=False).count():
                        told += 1
                    if page.get_by_text(f"UMAP of {TEXTS_EACH} texts").count():
                        done.add(i)
                time.sleep(0.05)
            assert done == set(range(VISITORS)), f"visitors served: {sorted(done)}"
            assert told, "no visitor was told that their work waits behind another's"
            for _, page in sessions:
                wait_until_idle(page)
                assert_healthy(page)
                assert page.get_by_text("is queued behind", exact=False).count() == 0
        finally:
            for context, _ in sessions:
                context.close()
    assert "Traceback" not in log_path.read_text(errors="replace")
