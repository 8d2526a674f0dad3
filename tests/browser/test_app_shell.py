"""The app shell in a real browser: a deep link on a fresh server, embedding, a real download.

Needs its own server process: the bug it guards against (Streamlit running a page file
without app.py) only shows on the first visit after the server starts.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit_browser import assert_healthy, new_session, rerun, serve_app, wait_for_text, wait_until_idle

OPERATOR_TOKEN = "operator-token-that-must-never-show-4711"


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    env = {
        **os.environ,
        "EMBEDCORE_CACHE_DIR": str(tmp_path_factory.mktemp("shell-cache")),
        "EMBEDCORE_WARM_UP": "0",
        # Configured but bound to IONOS: it must appear neither on the page nor in exports.
        "IONOS_API_TOKEN": OPERATOR_TOKEN,
    }
    env.pop("EMBEDCORE_BASE_URL", None)
    log_path = tmp_path_factory.mktemp("shell-logs") / "streamlit.log"
    with serve_app(env, log_path) as (url, _process):
        yield url
    assert "Traceback" not in log_path.read_text(errors="replace")


@pytest.mark.slow
def test_deep_link_on_a_fresh_server_runs_the_router_and_exports(browser, fresh_server, tmp_path):
    context, page = new_session(browser, fresh_server)
    try:
        # The very first request of this server process is a deep link to the Embed page.
        page.goto(f"{fresh_server}/embed")
        wait_until_idle(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        # app.py ran: the connection panel is there. Polled: on a server's first visit the
        # browser may still be fetching the widgets' code when the script run has ended.
        wait_for_text(sidebar, "Embeddings from", timeout=30_000)
        assert "Embed texts" in page.locator("h1").first.inner_text()

        with rerun(page):
            page.get_by_role("button", name="Embed", exact=True).click()
        page.get_by_role("button", name="CSV", exact=True).wait_for()
        metrics = page.locator('[data-testid="stMetric"]').all_inner_texts()
        assert any("Dimensions" in m and "384" in m for m in metrics), metrics

        with page.expect_download() as download:
            page.get_by_role("button", name="CSV", exact=True).click()
        data = Path(download.value.path()).read_text(encoding="utf-8")
        assert data.startswith('"text","label","dim_0"') or data.startswith("text,label,dim_0")
        assert len(data.splitlines()) == 101
        assert OPERATOR_TOKEN not in data
        assert OPERATOR_TOKEN not in page.content()
        assert_healthy(page)
    finally:
        context.close()
