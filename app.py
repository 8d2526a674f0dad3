"""Embedding Explorer — the Streamlit entrypoint: page config, shared state, sidebar, router.

Run with ``streamlit run app.py`` (or ``make run``). Each page lives in ``pages/`` and
is registered below; a page whose file does not exist yet is simply left out.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui.cached import warm_up
from ui.connection import render_cache_panel, render_connection_panel
from ui.state import init_state

HERE = Path(__file__).parent

#: (file, title, icon, default). Adding a page is one line; missing files are skipped.
PAGES = [
    ("pages/models.py", "Models", ":material/view_list:", False),
    ("pages/embed.py", "Embed texts", ":material/data_array:", False),
    ("pages/explorer.py", "Similarity explorer", ":material/scatter_plot:", True),
    ("pages/search.py", "Semantic search", ":material/search:", False),
    ("pages/compare.py", "Compare models", ":material/compare_arrows:", False),
    ("pages/languages.py", "Across languages", ":material/translate:", False),
]


def _pages() -> list:
    existing = [row for row in PAGES if (HERE / row[0]).is_file()]
    has_default = any(default for *_, default in existing)
    return [
        st.Page(
            str(HERE / path),
            title=title,
            icon=icon,
            url_path=Path(path).stem,
            default=default or (not has_default and i == 0),
        )
        for i, (path, title, icon, default) in enumerate(existing)
    ]


st.set_page_config(page_title="Embedding Explorer", page_icon=":material/hub:", layout="wide")
init_state()
warm_up()  # the bundled model and UMAP, in the background, once per process
pages = _pages()
if not pages:  # only while the project is being assembled
    st.error("No pages found in pages/.")
    st.stop()
navigation = st.navigation(pages)
render_connection_panel()
try:
    navigation.run()
finally:  # also after a page's st.stop(): the panel counts what the page just embedded
    render_cache_panel()
