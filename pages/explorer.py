"""Similarity explorer: a map, a heatmap, a query ranking and the most / least similar pairs.

The page reads the texts and their embeddings, then draws the open tab; each tab is a module of
``ui.explorer`` (``map``, ``heatmap``, ``query``, ``pairs``) over the caches in ``ui.common.cached``. Only the open tab runs (``st.tabs(on_change="rerun")``); widget values
persist for the session, and the map selection is kept in session state, so switching tabs loses
nothing.
"""

from __future__ import annotations

import streamlit as st

from ui.common import links
from ui.common.format import md_escape
from ui.common.navigation import ensure_routed
from ui.explorer import computed, isolation, keys
from ui.explorer import links as explorer_links
from ui.explorer.heatmap import heatmap_tab
from ui.explorer.map import map_tab
from ui.explorer.pairs import pairs_tab
from ui.explorer.query import query_tab
from ui.explorer.share import share_box
from ui.explorer.texts import embed_view, metrics

ensure_routed()  # first: Streamlit may have run this file without app.py (ui.common.navigation)

TABS = {"Map": map_tab, "Heatmap": heatmap_tab, "Query": query_tab, "Pairs": pairs_tab}

st.title("Similarity explorer", anchor=False)
st.caption(
    "How does the model see your texts? Points close on the map, red cells in the heatmap and "
    "top-ranked results are texts it finds similar (cosine similarity of their embeddings)."
)

# The texts, their summary and the map's controls in a column beside the tabs: the map is then
# the first thing under the title, whole on a 1440 x 900 window and mostly on a 1280 x 720 one
# (stacked above it, they pushed it below the bottom of the window).
notices = st.container()  # what a link just opened could not restore, said once (below)
pending = links.take_pending(explorer_links.PAGE)
side, main = st.columns([1, 2.6], gap="medium")
with side:
    view = embed_view()
    share = st.container()  # filled last, when the URL says this run's view
    tools = st.container()  # the open tab's controls (the map's), near the top of the column
    summary = st.container()
if view is None and pending is not None:
    links.keep_pending(pending)  # nothing to restore it on yet (the texts wait for Embed)
if view is not None:
    texts, labels, result, dataset = view
    digest = computed.digest_for(dataset, result.vectors)
    if pending is not None:
        explorer_links.apply(pending, dataset, len(texts), result.model, embedded_here=result.fetched)
with notices:
    links.show_notice()
if view is not None:
    with summary:
        metrics(texts, result)
    with main:
        for warning in result.warnings:
            st.warning(md_escape(warning), icon=":material/warning:")
        tabs = st.tabs(list(TABS), key=keys.TAB, on_change="rerun")
        for tab, (name, draw) in zip(tabs, TABS.items(), strict=True):
            # Only the open tab runs: a display change on the map never recomputes the others.
            if tab.open:
                with tab:
                    if name == "Map":
                        map_tab(texts, labels, result, dataset, digest, tools=tools)
                    else:
                        draw(texts, labels, result, dataset, digest)
    # The address bar follows the view; the Share box shows that address and saves the view.
    shown = isolation.current_view(texts, labels, result.vectors, dataset, digest)
    explorer_links.follow(shown)
    with share:
        share_box(shown)
