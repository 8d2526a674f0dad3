"""The explorer's Find box in a real browser: matches stand out on the map, a click in the list selects."""

from __future__ import annotations

import pytest
from streamlit_browser import assert_healthy, element, open_page, plot, plot_state, rerun, screenshot

from embedcore import io as eio

pytestmark = pytest.mark.slow


def test_find_highlights_matches_and_a_row_click_selects_it_on_the_map(page):
    open_page(page, "")
    topics = eio.load_sample("topics")
    expected = [i for i, t in enumerate(topics.texts) if "guitar" in t.lower()]
    box = element(page, "explorer_find").locator("input")
    box.fill("guitar")
    with rerun(page):
        box.press("Enter")
    page.get_by_text(f"{len(expected)} match").first.wait_for()
    graph = plot(page, "explorer_map")
    traces = plot_state(graph)["traces"]
    assert [t["n"] for t in traces if t["name"].startswith("matches")] == [len(expected)], traces
    faded = graph.evaluate(
        "g => g._fullData.filter(t => !t.name.startsWith('matches')).map(t => t.marker.opacity)"
    )
    assert faded and max(faded) <= 0.25, faded
    screenshot(page, "explorer-find")

    # The list under the map: a click on the first row's selection box selects that text.
    grid = element(page, "explorer_find_table")
    grid.scroll_into_view_if_needed()
    box_ = grid.bounding_box()
    with rerun(page):
        page.mouse.click(box_["x"] + 18, box_["y"] + 35 + 17)
    page.get_by_role("heading", name="1 selected").wait_for()
    marked = plot(page, "explorer_map").evaluate(
        "g => g._fullData.flatMap(t => (t.selectedpoints || []).map(i => Number(t.customdata[i][0] ?? t.customdata[i])))"
    )
    assert expected[0] in marked, marked
    assert_healthy(page)
    screenshot(page, "explorer-find-selected")
