"""Issue 22 in a real browser: the explorer's URL follows the view, and a link or a saved view opened
in a fresh browser context (a colleague) shows the same texts, points, highlights and selection."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit_browser import (
    assert_healthy,
    box_select,
    element,
    map_positions,
    marked_rows,
    new_session,
    plot,
    rerun,
    screenshot,
    wait_until_idle,
)

from embedcore import io as eio

pytestmark = pytest.mark.slow

_MATCHES = """(g) => g._fullData.filter((t) => (t.name || '').startsWith('matches')).flatMap((t) =>
  Array.from(t.customdata, (c) => Array.isArray(c) || ArrayBuffer.isView(c) ? Number(c[0]) : Number(c)))
  .sort((a, b) => a - b)"""


def _view(page) -> dict:
    graph = plot(page, "explorer_map")
    return {
        "positions": map_positions(graph),
        "marked": marked_rows(graph),
        "matches": graph.evaluate(_MATCHES),
        "find": element(page, "explorer_find").locator("input").input_value(),
    }


def _open(browser, url: str):
    context, page = new_session(browser, url.split("/?")[0], width=1280, height=720)
    page.goto(url)
    wait_until_idle(page)
    assert_healthy(page)
    return context, page


def test_a_link_and_a_saved_view_reopen_the_same_map_in_another_browser(page, browser):
    page.goto(f"{page.app_url}/")  # the explorer is the default page: the app's root
    wait_until_idle(page)
    page.get_by_text("UMAP of 100 texts").first.wait_for()
    topics = eio.load_sample("topics")
    # Find highlights some texts; a box selection selects ten.
    box = element(page, "explorer_find").locator("input")
    box.fill("guitar")
    with rerun(page):
        box.press("Enter")
    with rerun(page):
        picked = box_select(page, plot(page, "explorer_map"), rows_wanted=10)
    page.get_by_role("heading", name=f"{len(picked)} selected").wait_for()
    wait_until_idle(page)
    mine = _view(page)
    assert mine["marked"] == picked and len(mine["positions"]) == 100
    assert mine["matches"] == [i for i, t in enumerate(topics.texts) if "guitar" in t.lower()]

    url = page.url
    query = parse_qs(urlsplit(url).query)
    assert query["data"] == ["sample:topics"] and query["find"] == ["guitar"], query
    assert query["selection"] == [".".join(map(str, picked))], query
    assert len(url) < 2000

    # A colleague opens the link in a fresh browser: the same texts, points, Find and selection.
    context, theirs = _open(browser, url)
    try:
        theirs.get_by_text("UMAP of 100 texts").first.wait_for()
        assert _view(theirs) == mine
        theirs.get_by_role("heading", name=f"{len(picked)} selected").wait_for()
        screenshot(theirs, "explorer-link-opened")
    finally:
        context.close()

    # "Share this view" -> "Save view": a link to the view with its stored coordinates.
    page.get_by_role("button", name="Share this view").click()
    element(page, "explorer_view_name").locator("input").fill("Guitars and the rest")
    with rerun(page):
        page.get_by_role("button", name="Save view", exact=True).click()
    page.get_by_text("Saved Guitars and the rest").first.wait_for()
    screenshot(page, "explorer-view-saved", full=False)
    saved_url = element(page, "explorer_saved_link").locator("code").inner_text().strip()
    assert "view=" in saved_url and "find" not in saved_url
    assert parse_qs(urlsplit(page.url).query).keys() == {"view"}  # the URL names the view now

    context, theirs = _open(browser, saved_url)
    try:
        theirs.get_by_text("the map as it was saved").first.wait_for()
        assert _view(theirs) == mine
        # Changing a setting leaves the saved view: the URL describes the view again.
        assert parse_qs(urlsplit(theirs.url).query).keys() == {"view"}
    finally:
        context.close()

    # A reload of the first browser shows the same again.
    page.reload()
    wait_until_idle(page)
    page.get_by_text("the map as it was saved").first.wait_for()
    assert _view(page) == mine


def test_a_view_saved_on_one_server_opens_on_another_sharing_its_postgresql(
    browser, tmp_path_factory, database_url
):
    """Two replicas on one PostgreSQL database: saved on A, the link opens on B, same picture."""
    from streamlit_browser import running_streamlit

    from tests.browser.conftest import server_env

    env = {**server_env(tmp_path_factory), "EMBEDCORE_DATABASE_URL": database_url}
    logs = tmp_path_factory.mktemp("replicas")
    with (
        running_streamlit(env, logs / "a.log") as a,
        running_streamlit(
            {**env, "EMBEDCORE_CACHE_DIR": str(tmp_path_factory.mktemp("replica-b-cache"))}, logs / "b.log"
        ) as b,
    ):
        context, page = new_session(browser, a, width=1440, height=900)
        try:
            page.goto(f"{a}/?method=pca&find=space")
            wait_until_idle(page)
            page.get_by_text("PCA of 100 texts").first.wait_for()
            mine = _view(page)
            page.get_by_role("button", name="Share this view").click()
            element(page, "explorer_view_name").locator("input").fill("From replica A")
            with rerun(page):
                page.get_by_role("button", name="Save view", exact=True).click()
            view_id = parse_qs(urlsplit(page.url).query)["view"][0]
        finally:
            context.close()
        context, theirs = _open(browser, f"{b}/?view={view_id}")
        try:
            theirs.get_by_text("the map as it was saved").first.wait_for()
            assert _view(theirs) == mine
        finally:
            context.close()
