"""Embedding Explorer — the Streamlit entrypoint: page config, shared state, sidebar, router.

Run with ``streamlit run app.py`` (or ``make run``). Each page lives in ``pages/`` and is
registered in ``ui.common.navigation.PAGES``; a page whose file does not exist yet is simply left out.
"""

from __future__ import annotations

import streamlit as st

from ui.common.access import render_account, require_access
from ui.common.cached import warm_up
from ui.common.connection import render_cache_panel, render_connection_panel
from ui.common.navigation import app_pages, draw_page_links, run_page
from ui.common.state import init_state

st.set_page_config(page_title="Embedding Explorer", page_icon=":material/hub:", layout="wide")
# First: a wrong setting (sign-in, access, budget, cache cap), sign-in and the access rules stop
# the run here, before any of the app: one message, never an app open without what was asked for.
require_access()
init_state()
warm_up()  # the bundled model and UMAP, in the background, once per process
pages = app_pages()
if not pages:  # only while the project is being assembled
    st.error("No pages found in pages/.")
    st.stop()
# Hidden: Streamlit's own sidebar menu is switched off (see ui.common.navigation for why); ours is
# drawn by draw_page_links.
navigation = st.navigation(pages, position="hidden")
draw_page_links(pages)
render_account()
render_connection_panel()
try:
    run_page(navigation)
finally:  # also after a page's st.stop(): the panel counts what the page just embedded
    render_cache_panel()
