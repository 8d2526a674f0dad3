"""The built-in large sample in a real browser: one choice in the explorer, a WebGL map of 10,000 points."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from streamlit_browser import (
    assert_healthy,
    element,
    open_page,
    plot,
    plot_state,
    screenshot,
    wait_until_idle,
)

from ui.common.texts import sample_title

pytestmark = pytest.mark.slow

#: Embedding 10,000 sentences with MiniLM when no install-time seed holds them (~1-3 min on two
#: busy cores), then a 10k UMAP: far above a normal run.
LARGE_RUN_TIMEOUT = 900_000
SCRIPT_STATE = "() => document.querySelector('[data-testid=stApp]').getAttribute('data-test-script-state')"


def test_the_large_sample_is_one_choice_away_and_drawn_with_webgl(page):
    open_page(page, "")
    chooser = element(page, "explorer_sample").get_by_role("combobox")
    option = page.get_by_role("option", name=sample_title("docs"))
    # Scrolled to first, and clicked again if the list did not open: a click that scrolls the
    # page can open the list and close it again (see streamlit_browser.choose).
    chooser.scroll_into_view_if_needed()
    for _ in range(3):
        chooser.click()
        try:
            option.wait_for(state="visible", timeout=5_000)
            break
        except PlaywrightTimeout:
            continue
    runs_before = page.evaluate("() => window.__stBusyCount || 0")
    option.click()
    # The run the choice starts (not the idle page before it): then, while anything is still
    # embedded, the page says how far it is (a progress bar with its stage).
    page.wait_for_function("(n) => (window.__stBusyCount || 0) > n", arg=runs_before, timeout=60_000)
    progress = page.locator('[data-testid="stProgress"]')
    seen_progress = []
    for _ in range(100):  # the first batch comes within seconds, if anything must be embedded
        if progress.count():
            seen_progress.append(progress.first.inner_text())
            break
        if page.evaluate(SCRIPT_STATE) == "notRunning":
            break
        page.wait_for_timeout(100)

    wait_until_idle(page, timeout=LARGE_RUN_TIMEOUT, settle=1500)
    assert_healthy(page)
    graph = plot(page, "explorer_map")
    traces = plot_state(graph)["traces"]
    points = sum(t["n"] for t in traces if t["type"] == "scattergl")
    assert points >= 10_000, traces
    assert {t["type"] for t in traces if t["n"] > 1} == {"scattergl"}, traces  # WebGL, not SVG
    # Coloured by source: the eleven documentation sources each have a legend entry.
    assert len({t["name"] for t in traces if t["type"] == "scattergl"}) == 11, traces
    assert page.get_by_text("UMAP of 10,000 texts").count(), "the final map is the UMAP, not the preview"
    if seen_progress:
        assert "10,000 texts" in seen_progress[0], seen_progress
    screenshot(page, "explorer-large-sample")
