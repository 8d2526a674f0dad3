"""The app's pages, the page list in the sidebar, and the guard that keeps every page inside app.py.

Why this module exists: our page scripts live in a folder named ``pages/`` (the customer's
layout), and Streamlit 1.67 treats such an app as a *legacy* multipage app until some session
has run ``st.navigation``. Until then it (a) draws its own page list of file names in the
sidebar and (b) runs a deep-linked page file (``/search``) alone, without ``app.py`` — no
connection panel, no shared state. Streamlit offers no setting that turns the legacy mode off
(its own guidance is to name the folder something else, which the customer's layout rules
out), but two documented behaviours are enough, with public API only:

- ``client.showSidebarNavigation = false`` (``.streamlit/config.toml``) hides the legacy page
  list. It hides ``st.navigation``'s sidebar menu too, so app.py calls ``st.navigation`` with
  ``position="hidden"`` and :func:`draw_page_links` draws our list with ``st.page_link``.
- When Streamlit runs a page file on its own, :func:`ensure_routed` (the first call of every
  page) runs app.py right there, around a second run of the same page, and ends the lone run.
  app.py's ``st.navigation`` call also switches the legacy mode off for the whole process
  ("As soon as any session of your app executes ``st.navigation``, your app will ignore the
  ``pages/`` directory (across all sessions)", ``st.navigation``'s documentation). On a
  server that happens at most once per process (when its first visit is a deep link);
  ``AppTest`` re-detects the folder on every run, so there every run of a page takes this
  path. Running app.py in the same script run, rather than ``st.rerun()``, keeps the clicks
  and form submissions that started the run.

``tests/browser/test_navigation.py`` checks both on a fresh server in chromium.
"""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

from ui.common.visitor import is_admin

ROOT = Path(__file__).resolve().parents[2]
APP_SCRIPT = ROOT / "app.py"

#: (file, title, icon, default). A new page is a file in pages/ and one line here.
PAGES = [
    ("pages/models.py", "Models", ":material/view_list:", False),
    ("pages/embed.py", "Embed texts", ":material/data_array:", False),
    ("pages/explorer.py", "Similarity explorer", ":material/scatter_plot:", True),
    ("pages/search.py", "Semantic search", ":material/search:", False),
    ("pages/compare.py", "Compare models", ":material/compare_arrows:", False),
    ("pages/languages.py", "Across languages", ":material/translate:", False),
    ("pages/usage.py", "Usage", ":material/monitoring:", False),
]

#: Pages only admins see (``[access].admins``, signed in): left out of everyone else's navigation,
#: so neither the link nor the URL reaches them (the page checks again itself).
ADMIN_PAGES = {"pages/usage.py"}

#: Set by :func:`run_page` while app.py runs a page, in the script thread of that run.
_routed = threading.local()


def app_pages() -> list:
    """``st.Page`` objects for :data:`PAGES` whose files exist; URL paths are the file stems."""
    admin = is_admin()
    existing = [row for row in PAGES if (ROOT / row[0]).is_file() and (admin or row[0] not in ADMIN_PAGES)]
    has_default = any(default for *_, default in existing)
    return [
        st.Page(
            str(ROOT / path),
            title=title,
            icon=icon,
            url_path=Path(path).stem,
            default=default or (not has_default and i == 0),
        )
        for i, (path, title, icon, default) in enumerate(existing)
    ]


def draw_page_links(pages: list) -> None:
    """Our page list at the top of the sidebar (``st.navigation`` runs with ``position="hidden"``)."""
    with st.sidebar:
        for page in pages:
            st.page_link(page)
        st.divider()


def run_page(page) -> None:
    """Run the page ``st.navigation`` chose, marked as run through app.py (see :func:`ensure_routed`)."""
    _routed.active = True
    try:
        page.run()
    finally:
        _routed.active = False


def ensure_routed() -> None:
    """First call of every page: if Streamlit ran this page file without app.py, run it inside app.py.

    app.py runs here as Streamlit would run it (same globals: ``__name__ == "__main__"``,
    ``__file__``), chooses this same page from the URL and runs it; then ``st.stop()`` ends
    the lone run of the page file, which has drawn nothing yet.
    """
    if getattr(_routed, "active", False):
        return
    exec(
        compile(APP_SCRIPT.read_bytes(), str(APP_SCRIPT), "exec"),
        {"__name__": "__main__", "__file__": str(APP_SCRIPT)},
    )
    st.stop()
