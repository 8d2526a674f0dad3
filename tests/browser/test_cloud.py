"""The app as Streamlit Community Cloud runs it: ``requirements.txt`` alone, an operator's token, IONOS.

Run by ``make test-cloud`` (and ``.ci/run``) in a virtualenv made from ``requirements.txt`` plus
the three test tools these tests need — no PyTorch, no bundled model — against
:mod:`bench.fake_api` answering as the IONOS AI Model Hub does (three models of 768/1024/1024
dimensions, MPNet's vectors not unit length, a bearer token required, 5 requests/s), with the
app started as Cloud starts it (``streamlit run app.py``) and secrets holding the token,
``lock_endpoint = true`` and the server's URL (:func:`bench.cloud.deployment`). The server
records the modules it imported and its peak RSS as it stops.

Deselected from the main run (``pyproject.toml``'s ``-m "not cloud"``): the full install has
torch, so "no local model offered" cannot hold there. In a venv with torch these tests fail
rather than skip.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from streamlit_browser import assert_healthy, metrics, new_session, screenshot, wait_until_idle

from bench.cloud import CLOUD_MEMORY_MB, FINAL_MAP, TOKEN, deployment, has_local_model, wait_map
from ui.common.navigation import ADMIN_PAGES, PAGES

pytestmark = pytest.mark.cloud

#: Words that offer a bundled model, or advice a hosted visitor cannot follow.
NOT_HERE = ("MiniLM", "bundled", "pip install", "embedcore prepare", "make run")
MPNET = "sentence-transformers/paraphrase-multilingual-mpnet-base-v2"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """One API-only deployment for the module, as a fresh Cloud container meets its first visitor."""
    if has_local_model(sys.executable):
        pytest.fail(
            "these tests need the API-only install (requirements.txt alone, no torch): run `make test-cloud`"
        )
    with deployment(tmp_path_factory.mktemp("cloud"), python=sys.executable) as app:
        yield app


def _session(browser, app, width=1400, height=1000):
    return new_session(browser, app.url, width=width, height=height)


def _options(page, box) -> list[str]:
    """The options a selectbox lists when opened (then closed again)."""
    for _ in range(3):  # a click right after another list closed may only focus this one
        box.get_by_role("combobox").click()
        with contextlib.suppress(PlaywrightTimeout):
            page.get_by_role("option").first.wait_for(timeout=5_000)
            break
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    page.get_by_role("option").first.wait_for(state="detached")
    return options


def _visit_explorer(browser, cloud, *, shot: str | None = None) -> None:
    """A new visitor opens the default page and waits for the final UMAP map of the sample."""
    context, page = _session(browser, cloud)
    try:
        page.goto(cloud.url)
        wait_map(page, FINAL_MAP, 100)
        wait_until_idle(page)
        assert_healthy(page)
        assert page.get_by_text("Press Embed").count() == 0
        assert metrics(page, "Texts")["Texts"] == "100"
        if shot:
            screenshot(page, shot)
    finally:
        context.close()


def test_first_visit_shows_the_sample_map_without_a_click(browser, cloud):
    # The server embedded the default sample through the operator's token as it started: the
    # first visitor gets the map (PCA at once, then UMAP) without pressing anything.
    _visit_explorer(browser, cloud, shot="cloud-first-visit")
    assert cloud.api.stats()["texts"] == 100  # the sample, once
    # A second visitor is answered from the cache: the API sees nothing more.
    _visit_explorer(browser, cloud)
    assert cloud.api.stats()["texts"] == 100


@pytest.mark.parametrize("size", [(1280, 720), (1440, 900)], ids=["1280x720", "1440x900"])
def test_every_page_renders_and_offers_no_local_model(browser, cloud, size):
    context, page = _session(browser, cloud, *size)
    try:
        # Every page a visitor can open (the admins' Usage page is not in their navigation).
        for path, title, _, default in (row for row in PAGES if row[0] not in ADMIN_PAGES):
            page.goto(f"{cloud.url}/{'' if default else Path(path).stem}")
            wait_until_idle(page)
            assert_healthy(page)
            assert page.locator("h1").first.inner_text().strip() == title
            shown = page.locator("[data-testid='stApp']").inner_text()
            for words in NOT_HERE:
                assert words.lower() not in shown.lower(), (title, words)
            # Every model chooser lists the API's three models and nothing else.
            boxes = page.locator("[data-testid='stSelectbox']").filter(has_text="Model")
            for i in range(boxes.count()):
                options = _options(page, boxes.nth(i))
                assert options and all("bge" in o or "mpnet" in o for o in options), (title, options)
            screenshot(page, f"cloud-{Path(path).stem}-{size[0]}x{size[1]}", full=False)
    finally:
        context.close()


def test_mpnet_keeps_its_norm_through_the_api_and_the_token_never_shows(browser, cloud):
    context, page = _session(browser, cloud)
    try:
        page.goto(f"{cloud.url}/models")
        wait_until_idle(page)
        page.locator(".st-key-models_try_model").get_by_role("combobox").click()
        page.get_by_role("option", name=MPNET).click()
        wait_until_idle(page)
        page.get_by_role("button", name="Embed it").click()
        shown = metrics(page, "Norm", "Dimensions")
        assert shown["Dimensions"] == "768"
        assert abs(float(shown["Norm"]) - 1.0) > 0.5  # not unit length, and not made so
        assert TOKEN not in page.content()
        assert_healthy(page)
    finally:
        context.close()
    assert TOKEN not in cloud.log_text()


def test_a_workload_that_would_not_fit_is_refused_before_anything_is_sent(browser, cloud):
    # 10,000 texts of 1024 dimensions need ~350 MB more than the sample: more than a 690 MB app
    # has left. Refused with the reason before a single request, and the map stays.
    sent = cloud.api.stats()["texts"]
    context, page = _session(browser, cloud)
    try:
        page.goto(cloud.url)
        wait_map(page, FINAL_MAP, 100)
        wait_until_idle(page)
        page.locator(".st-key-explorer_sample").click()
        page.get_by_role("option", name="docs").first.click()
        wait_until_idle(page)
        page.locator(".st-key-explorer_embed button").click()
        wait_until_idle(page)
        page.get_by_text("does not fit and was not started").first.wait_for()
        assert_healthy(page)
        screenshot(page, "cloud-refused", full=False)
    finally:
        context.close()
    assert cloud.api.stats()["texts"] == sent


def test_the_server_imported_no_torch_and_kept_under_690_mb(cloud, capsys):
    record = cloud.stop()
    heavy = sorted({m.split(".")[0] for m in record["modules"]} & {"torch", "sentence_transformers"})
    assert heavy == []
    with capsys.disabled():
        print(f"\nCloud app peak RSS: {record['peak_rss'] / 2**20:,.0f} MiB (limit {CLOUD_MEMORY_MB} MB)")
    assert record["peak_rss"] <= CLOUD_MEMORY_MB * 2**20
    assert "Traceback" not in cloud.log_text(), cloud.log_text()[-4000:]
