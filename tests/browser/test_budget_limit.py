"""A visitor reaches the budget on the operator's token, in chromium against the fake API.

The server runs as ``make run`` starts it, with its secrets in a temporary file
(``--secrets.files``; the repository's ``.streamlit/`` is never written): the operator's token
for a fake OpenAI-compatible API on 127.0.0.1, the endpoint locked, and a ``[budget]`` small
enough that the built-in sample (100 texts) does not fit. The visitor switches to the
configured endpoint, sees "used today / left", embeds three pasted texts (counted), then clicks
Embed for the sample and reads the one message: how much is left, when it resets, and that their
own token lifts the limit. Nothing more reaches the API.
With ``EMBEDCORE_UPDATE_DOCS=1`` the screenshot also goes to ``docs/budget-limit.png``.
"""

from __future__ import annotations

import os

import pytest
from streamlit_browser import (
    assert_healthy,
    element,
    new_session,
    open_page,
    rerun,
    save_doc_screenshot,
    screenshot,
    serve_app,
    wait_for_text,
)

from tests.fake_openai import TOKEN

pytestmark = pytest.mark.slow

BUDGET = 2_000


@pytest.fixture
def budget_server(fake_openai, tmp_path):
    api = fake_openai(token=TOKEN)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        f'IONOS_API_TOKEN = "{TOKEN}"\nbase_url = "{api.url}"\nlock_endpoint = true\n\n'
        f"[budget]\ntokens_per_visitor_per_day = {BUDGET}\ntokens_per_day = 100000\n"
        "max_texts_per_request = 2000\n"
    )
    cache_dir = tmp_path / "cache"
    env = {**os.environ, "EMBEDCORE_CACHE_DIR": str(cache_dir), "EMBEDCORE_WARM_UP": "0"}
    for name in (
        "IONOS_API_TOKEN",
        "EMBEDCORE_BASE_URL",
        "EMBEDCORE_DATABASE_URL",
        "EMBEDCORE_LOCK_ENDPOINT",
    ):
        env.pop(name, None)
    log_path = tmp_path / "streamlit.log"
    with serve_app(env, log_path, extra_args=("--secrets.files", str(secrets))) as (url, _process):
        yield url, api
    log = log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]


def test_a_visitor_at_the_limit_reads_what_is_left_and_nothing_is_sent(browser, budget_server):
    url, api = budget_server
    context, page = new_session(browser, url, width=1280, height=720)
    try:
        open_page(page, "embed")
        sidebar = page.get_by_test_id("stSidebar")
        with rerun(page):
            sidebar.get_by_text("Configured endpoint (127.0.0.1)").click()
        wait_for_text(sidebar, f"Today: 0 tokens used · {BUDGET:,} left")

        # Good input first: three pasted texts fit, and the sidebar counts what the API reported.
        main = page.get_by_test_id("stMain")
        with rerun(page):
            main.get_by_text("Paste", exact=True).click()
        area = element(page, "embed_paste").locator("textarea")
        area.fill("A budget on the operator's token\nUsed today and left\nResets at midnight UTC")
        with rerun(page):
            area.press("Control+Enter")
        with rerun(page):
            element(page, "embed_run").get_by_role("button").click()
        spent = api.prompt_tokens
        assert spent > 0 and len(api.embedded) == 3
        wait_for_text(sidebar, f"Today: {spent:,} tokens used · {BUDGET - spent:,} left")

        # Then the built-in sample: 100 texts do not fit in what is left.
        with rerun(page):
            main.get_by_text("Sample set", exact=True).click()
        with rerun(page):
            element(page, "embed_run").get_by_role("button").click()
        alert = page.get_by_test_id("stAlertContentError")
        wait_for_text(alert, "tokens left today")
        shown = alert.inner_text()
        for part in (
            f"{BUDGET - spent:,} of your {BUDGET:,} tokens left today",
            "resets at midnight UTC",
            "Your own API token is not limited by it",
            "Paste your own token in the sidebar",
        ):
            assert part in shown, shown
        assert TOKEN not in page.content()
        assert_healthy(page)
        assert len(api.embedded) == 3  # nothing more was sent

        # The message and the sidebar's count in view, as a visitor sees them.
        alert.scroll_into_view_if_needed()
        sidebar.get_by_text("tokens used").scroll_into_view_if_needed()
        shot = screenshot(page, "budget-limit", full=False)
        if os.environ.get("EMBEDCORE_UPDATE_DOCS") == "1":
            save_doc_screenshot(shot, "budget-limit", max_bytes=150_000)
    finally:
        context.close()
