"""``link_texts = "on_request"`` in a real browser: pasted texts stay out of the address until the
visitor presses "Make a link to these texts" in the Share box (tests/test_link_texts.py covers the
modes in AppTest)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit_browser import (
    assert_healthy,
    new_session,
    no_new_traceback,
    paste_texts,
    rerun,
    screenshot,
    wait_until_idle,
)

pytestmark = pytest.mark.slow

TEXTS = [
    "The cat sat on the mat.",
    "Stock markets fell sharply today.",
    "A recipe for tomato soup.",
    "The telescope observed a distant galaxy.",
    "Our team won the football match.",
    "Bake the bread for forty minutes.",
]


def _query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_on_request_a_link_to_pasted_texts_is_made_when_asked(browser, secrets_server):
    url, log = secrets_server('link_texts = "on_request"\n')
    with no_new_traceback(log):
        context, page = new_session(browser, url, width=1280, height=720)
        try:
            page.goto(f"{url}/?method=pca")
            wait_until_idle(page)
            page.get_by_text("PCA of 100 texts").first.wait_for()
            paste_texts(page, TEXTS)
            page.get_by_text(f"PCA of {len(TEXTS)} texts").first.wait_for()
            wait_until_idle(page)
            assert "data" not in _query(page) and _query(page)["method"] == ["pca"]

            page.get_by_role("button", name="Share this view").click()
            page.get_by_text("only when you ask for a link").wait_for()
            screenshot(page, "link-texts-on-request", full=False)
            with rerun(page):
                page.get_by_role("button", name="Make a link to these texts").click()
            page.wait_for_url(lambda u: parse_qs(urlsplit(u).query).get("data", [""])[0].startswith("texts:"))
            shown = page.get_by_test_id("stPopoverBody").locator("code").first
            shown.wait_for()
            screenshot(page, "link-texts-on-request-linked", full=False)
            assert "data=texts" in shown.inner_text()
            assert_healthy(page)
        finally:
            context.close()
