"""Semantic search behind a link (issue 22): the URL follows the page, another browser reopens it.

Context A builds (or opens) the sample collection, searches, and switches the map to UMAP; the
address bar then names all of it. A fresh context B — another browser, no shared session —
opens that address and must show the same collection, the same query in the box, the same
results in the same order, the same result read in full (A picked the second), and the same map: every point where it was in A (read from Plotly's
own ``_fullData`` in the DOM), the same points outlined and the query's star in the same place.
A reload of A shows the same again.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit_browser import (
    assert_healthy,
    element,
    new_session,
    open_page,
    open_sample_collection,
    plot,
    rerun,
    screenshot,
    wait_for_text,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

QUERY = "a goalkeeper stopped a penalty kick"

#: Every marker of the map by row, the outlined rows and the query's star, from Plotly's traces.
_MAP = """(g) => {
  const arr = (a) => Array.from(a || []);
  const row = (c) => (Array.isArray(c) || ArrayBuffer.isView(c)) ? Number(c[0]) : Number(c);
  const out = {points: {}, outlined: [], query: null};
  for (const t of g._fullData) {
    const x = arr(t.x), y = arr(t.y), rows = arr(t.customdata).map(row);
    if (t.name === 'neighbours') out.outlined = rows;
    else if (t.name === 'query') out.query = [x[0], y[0], t.hovertext ? String(arr(t.hovertext)[0]) : ''];
    else if (t.customdata) rows.forEach((r, i) => { out.points[r] = [x[i], y[i]]; });
  }
  return out;
}"""

#: The result grid's rows as its accessibility table lists them: ``[[cell, ...], ...]``.
_ROWS = """(t) => Array.from(t.querySelectorAll('tbody tr'))
  .map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent.trim()))"""


def _params(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def _collection(page) -> str:
    """The selected collection as the selectbox shows it."""
    return element(page, "search_collection").get_by_role("combobox").input_value()


def _view(page) -> dict:
    """What a visitor sees of the search: the collection, the form, the results, the map."""
    results = page.locator('[data-testid="stDataFrame"]').last
    wait_for_text(results, "goalkeeper")
    results.locator("table").first.wait_for(state="attached")
    graph = plot(page, "search_map")
    checked = element(page, "search_projection").locator("label:has(input:checked)")
    return {
        "collection": _collection(page),
        "query": element(page, "search_query").locator("input").input_value(),
        "k": element(page, "search_k").locator("input").input_value(),
        "method": checked.inner_text().strip(),
        "results": results.locator("table").first.evaluate(_ROWS),
        # The result read in full under the grid (ui.common.tables.text_table's detail).
        "detail": page.locator('[class*="st-key-search_results"][class*="_detail"]').first.inner_text(),
        "map": graph.evaluate(_MAP),
    }


def _pick_result(page, rank: int) -> None:
    """Select the result of ``rank`` (1: the best) in the grid: a click on its row's selection box."""
    grid = page.locator('[data-testid="stDataFrame"]').last
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    # Rows of ui.common.tables.WRAP_ROW_HEIGHT (78 px) under a 38 px header; the box at the left.
    with rerun(page):
        page.mouse.click(box["x"] + 18, box["y"] + 38 + 78 * (rank - 1) + 39)


def _search(page, query: str, k: int) -> None:
    element(page, "search_query").locator("input").fill(query)
    element(page, "search_k").locator("input").fill(str(k))
    with rerun(page):
        page.get_by_test_id("stBaseButton-primaryFormSubmit").filter(has_text="Search").click()


def _same(seen: dict, expected: dict) -> None:
    for key in ("collection", "query", "k", "method", "results", "detail"):
        assert seen[key] == expected[key], (key, seen[key], expected[key])
    got, want = seen["map"], expected["map"]
    assert got["points"].keys() == want["points"].keys()
    for row, xy in want["points"].items():
        assert got["points"][row] == pytest.approx(xy, abs=1e-6), row
    assert got["outlined"] == want["outlined"]
    assert got["query"][:2] == pytest.approx(want["query"][:2], abs=1e-6)
    assert got["query"][2] == want["query"][2]


def test_a_search_link_reopens_the_same_results_and_map_in_another_browser(page, browser):
    open_page(page, "search")
    open_sample_collection(page)
    plot(page, "search_map")
    collection = _collection(page)
    assert "Sample: five topics" in collection, collection
    before = _params(page)
    assert before.get("collection", "").startswith("Sample: five topics"), before
    assert "q" not in before, before  # nothing searched yet

    # Typing into the form is not a search: the address bar stays as it was.
    element(page, "search_query").locator("input").fill("half typed")
    page.wait_for_timeout(1500)
    assert _params(page) == before

    _search(page, QUERY, 4)
    with rerun(page):
        element(page, "search_projection").get_by_text("UMAP", exact=True).click()
    _pick_result(page, 2)
    seen = _view(page)
    assert seen["detail"].startswith("2."), seen["detail"]
    assert_healthy(page)
    assert len(seen["results"]) == 4 and "goalkeeper saved a penalty" in " ".join(seen["results"][0])
    assert seen["map"]["outlined"] and len(seen["map"]["points"]) > 20
    params = _params(page)
    assert params["q"] == QUERY and params["k"] == "4" and params["method"] == "umap", params
    assert params["hit"] == "2", params
    assert params["collection"] == before["collection"], params
    url = page.url
    assert len(url) < 2000

    # Another browser: a fresh context, a new session, only the address.
    context_b, other = new_session(browser, page.app_url)
    try:
        other.goto(url)
        wait_until_idle(other)
        assert_healthy(other)
        _same(_view(other), seen)
        screenshot(other, "search-link-opened")
        assert _params(other) == params  # the page's own run wrote back what it opened
    finally:
        context_b.close()

    # A reload of A: the same again.
    page.reload()
    wait_until_idle(page)
    assert_healthy(page)
    _same(_view(page), seen)
