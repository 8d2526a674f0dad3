"""Navigation on a server nobody has visited yet: only our page list, and deep links land on their page.

Streamlit treats an app with a folder named ``pages/`` beside its entrypoint as a legacy
multipage app until some session runs ``st.navigation``. Until then it draws its own page list
(the file names: "app", "compare", "embed", ...) and runs a deep-linked page file without
``app.py``. Both only show on the first visit after the server starts, so each test here
starts its own server.

The last test follows the deep-linked session across pages: the shared sidebar's state stays.

Every link label the page ever shows is recorded by a MutationObserver from the first byte,
so a list drawn for a fraction of a second and then replaced is caught too.
"""

from __future__ import annotations

import os
import time
from urllib.parse import urlsplit

import pytest
from streamlit_browser import (
    assert_healthy,
    go_to,
    new_session,
    rerun,
    run_log,
    serve_app,
    title,
    wait_for_text,
    wait_until_idle,
)

from ui.common.navigation import ADMIN_PAGES, PAGES

pytestmark = pytest.mark.slow

#: Our page titles, as the shell registers them (a visitor who is not an admin sees no admin page).
TITLES = {title for path, title, *_ in PAGES if path not in ADMIN_PAGES}

#: Every text a link to one of the app's own pages ever showed, from the first paint on.
_NAV_LABELS_SCRIPT = """
(() => {
  window.__navLabels = new Set();
  const record = () => {
    for (const link of document.querySelectorAll('a[href]')) {
      if (link.getAttribute('href').startsWith('#')) continue;  // "Skip to main content"
      if (new URL(link.href, location.href).origin !== location.origin) continue;
      // A page's icon is a ligature drawn from text ("view_list"): the label is the last line.
      const lines = (link.innerText || link.textContent || '').split('\\n').map((l) => l.trim());
      const label = lines.filter(Boolean).pop();
      if (label) window.__navLabels.add(label);
    }
  };
  const watch = () => new MutationObserver(record).observe(document.documentElement, {
    subtree: true, childList: true, characterData: true, attributes: true,
  });
  if (document.documentElement) watch(); else document.addEventListener('DOMContentLoaded', watch);
})();
"""


#: The labels of the links in the sidebar now.
_SIDEBAR_LABELS = """() => [...document.querySelectorAll('[data-testid="stSidebar"] a[href]')]
  .map((a) => (a.innerText || '').split('\\n').map((l) => l.trim()).filter(Boolean).pop())"""


def _nav_labels(page) -> set[str]:
    return set(page.evaluate("() => [...window.__navLabels]"))


@pytest.fixture
def fresh_server(tmp_path):
    """A new server process (as ``make run`` starts it) that no session has visited."""
    env = {**os.environ, "EMBEDCORE_CACHE_DIR": str(tmp_path / "cache"), "EMBEDCORE_WARM_UP": "0"}
    env.pop("IONOS_API_TOKEN", None)
    env.pop("EMBEDCORE_BASE_URL", None)
    log_path = tmp_path / "streamlit.log"
    with serve_app(env, log_path) as (url, _process):
        yield url
    log = log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]


def _visit(browser, base_url: str, path: str):
    context, page = new_session(browser, base_url)
    context.add_init_script(_NAV_LABELS_SCRIPT)
    page.goto(f"{base_url}/{path}")
    wait_until_idle(page)
    assert_healthy(page)
    return context, page


def _assert_only_our_navigation(page) -> None:
    seen = _nav_labels(page)
    assert seen, "no navigation link was ever drawn"
    assert seen <= TITLES, (
        f"links other than our pages were drawn: {sorted(seen - TITLES)}; runs {run_log(page)}"
    )
    # And our own list is what stays, in the sidebar, each page once (polled, like the panel).
    deadline = time.monotonic() + 30
    while sorted(shown := page.evaluate(_SIDEBAR_LABELS)) != sorted(TITLES) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sorted(shown) == sorted(TITLES), shown


def _assert_routed(page, expected_title: str) -> None:
    """The page ran inside app.py: its title, and the connection panel app.py draws in the sidebar."""
    assert title(page) == expected_title, run_log(page)
    # Polled: the sidebar may still be drawing when the script state turns idle.
    wait_for_text(page.locator('[data-testid="stSidebar"]'), "Embeddings from", timeout=30_000)


def test_the_first_visit_shows_only_our_navigation(browser, fresh_server):
    context, page = _visit(browser, fresh_server, "")
    try:
        _assert_routed(page, "Similarity explorer")
        _assert_only_our_navigation(page)
    finally:
        context.close()


def test_a_deep_link_as_the_first_visit_lands_on_its_page(browser, fresh_server):
    context, page = _visit(browser, fresh_server, "search")
    try:
        _assert_routed(page, "Semantic search")
        _assert_only_our_navigation(page)
    finally:
        context.close()
    # A second visitor on the same server, deep-linking to another page.
    context, page = _visit(browser, fresh_server, "models")
    try:
        _assert_routed(page, "Models")
        _assert_only_our_navigation(page)
    finally:
        context.close()


def test_a_deep_link_first_visit_keeps_its_session_across_pages(browser, fresh_server):
    """The lone first run (a deep link on a fresh server) and the runs after it are one session:
    a choice made in the shared sidebar on the deep-linked page is still there on the next page,
    reached through our page list, and the URL follows the page."""
    context, page = _visit(browser, fresh_server, "models")
    try:
        _assert_routed(page, "Models")
        sidebar = page.locator('[data-testid="stSidebar"]')
        with rerun(page):
            sidebar.get_by_text("IONOS AI Model Hub", exact=True).click()
        assert sidebar.get_by_role("radio", name="IONOS AI Model Hub").is_checked()
        go_to(page, "Semantic search")
        # (The query string follows the page's view: ui.common.links.)
        assert urlsplit(page.url).path.rstrip("/").endswith("/search"), page.url
        _assert_routed(page, "Semantic search")
        assert sidebar.get_by_role("radio", name="IONOS AI Model Hub").is_checked()  # state kept
        go_to(page, "Similarity explorer")
        assert title(page) == "Similarity explorer"
        assert sidebar.get_by_role("radio", name="IONOS AI Model Hub").is_checked()
        _assert_only_our_navigation(page)
    finally:
        context.close()
