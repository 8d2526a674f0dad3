"""The app's shell: its pages, the sidebar every page shares, and the one-line page setup.

``app.py`` is one call, :func:`run_app`: the page config, the sign-in gate, shared state, the
sidebar (page list, account, connection panel, cache panel) and ``st.navigation`` choosing the
page from the URL. The pages stay in the customer's ``pages/`` folder.

Why every page also begins with :func:`ensure_routed`: with a folder named ``pages/`` beside
the entrypoint, Streamlit 1.67 starts as a *legacy* multipage app (its ``pages/`` discovery)
until some session runs ``st.navigation``: a deep link (``/search``) on a server nobody has
visited yet runs ``pages/search.py`` alone, without app.py; and ``AppTest`` starts every run
that way. :func:`ensure_routed` is the page's shared setup for that case: it calls
:func:`run_app` itself — a plain function call, nothing re-read or re-executed — which draws the
shell and runs this same page inside it, then ends the lone run (which has drawn nothing yet).
``run_app``'s ``st.navigation`` call also switches the legacy mode off for the whole process
("As soon as any session of your app executes ``st.navigation``, your app will ignore the
``pages/`` directory (across all sessions)", ``st.navigation``'s documentation), so on a server
this happens at most once per process. Running the shell in the same script run, rather than
``st.rerun()``, keeps the clicks and form submissions that started the run.

``client.showSidebarNavigation = false`` (``.streamlit/config.toml``) hides the legacy page list
(file names); it hides ``st.navigation``'s menu too, so :func:`draw_page_links` draws ours.

How to add a page: a file in ``pages/`` whose first statement is ``ensure_routed()``, and one
row in :data:`PAGES`. ``tests/browser/test_navigation.py`` checks the routing in chromium.
"""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

from ui.common.access import render_account, require_access
from ui.common.cached import warm_up
from ui.common.connection import render_cache_panel, render_connection_panel
from ui.common.hosted import sample_warm_up
from ui.common.links import open_incoming
from ui.common.provider_choice import init_state
from ui.common.visitor import is_admin

ROOT = Path(__file__).resolve().parents[2]

#: (file, title, icon, default). A new page is a file in pages/ and one line here.
PAGES = [
    ("pages/models.py", "Models", ":material/view_list:", False),
    ("pages/embed.py", "Embed texts", ":material/data_array:", False),
    ("pages/explorer.py", "Similarity explorer", ":material/scatter_plot:", True),
    ("pages/search.py", "Semantic search", ":material/search:", False),
    ("pages/views.py", "Saved views", ":material/bookmarks:", False),
    ("pages/compare.py", "Compare models", ":material/compare_arrows:", False),
    ("pages/languages.py", "Across languages", ":material/translate:", False),
    ("pages/evaluate.py", "Evaluate models", ":material/science:", False),
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


def page_name(page) -> str:
    """The file stem of a page ``st.navigation`` chose (``"explorer"``): the default page's URL path is empty."""
    return next((Path(path).stem for path, title, *_ in PAGES if title == page.title), page.url_path)


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


def run_app() -> None:
    """The whole app for one script run: what ``app.py`` does, and what :func:`ensure_routed` calls."""
    st.set_page_config(page_title="Embedding Explorer", page_icon=":material/hub:", layout="wide")
    # First: a wrong setting (sign-in, access, budget, cache cap), sign-in and the access rules stop
    # the run here, before any of the app: one message, never an app open without what was asked for.
    require_access()
    init_state()
    warm_up(sample_warm_up)  # the bundled model and UMAP, in the background, once per process
    pages = app_pages()
    if not pages:  # only while the project is being assembled
        st.error("No pages found in pages/.")
        st.stop()
    # Hidden: Streamlit's own sidebar menu is switched off (see the module docstring); ours is
    # drawn by draw_page_links.
    navigation = st.navigation(pages, position="hidden")
    # A link's texts, provider and model before the sidebar and the page draw their widgets.
    open_incoming(page_name(navigation))
    draw_page_links(pages)
    render_account()
    render_connection_panel()
    try:
        run_page(navigation)
    finally:  # also after a page's st.stop(): the panel counts what the page just embedded
        render_cache_panel()


def ensure_routed() -> None:
    """First call of every page: if Streamlit ran this page file on its own, run it inside the shell.

    :func:`run_app` chooses this same page from the URL and runs it (this call then returns at
    once, see :func:`run_page`); then ``st.stop()`` ends the lone run of the page file.
    """
    if getattr(_routed, "active", False):
        return
    run_app()
    st.stop()
