"""Semantic search: named document collections, embedded once and kept on disk, searched by meaning.

Top to bottom: the collection and model, making collections, the selected collection, the query
(one call to :func:`embedcore.analysis.search.search`), its hits, and the map of the collection. What
happens between reruns (an action selects the collection it made and says so once) is in
:mod:`ui.search.widgets`; what a link opens and what the URL says, in :mod:`ui.search.links`.
"""

from __future__ import annotations

import streamlit as st

from embedcore.analysis import search
from embedcore.figures.scatter import scatter_figure
from ui.common.errors import friendly_errors
from ui.common.methods import method_radio
from ui.common.models_picker import options_or_stop, provider_for
from ui.common.navigation import ensure_routed
from ui.search import keys, results
from ui.search import links as sl
from ui.search import widgets as sw
from ui.search.collection_store import collection_store, load_collection

ensure_routed()  # first: Streamlit may have run this file without app.py (ui.common.navigation)

st.title("Semantic search", anchor=False)
st.caption(
    "Upload documents, split them into chunks and embed them once; then search them by meaning. "
    "Collections are kept (on disk, or in the team database): reopening one costs no embedding calls."
)

store = None
with friendly_errors():
    store = collection_store()
if store is None:
    st.stop()
sl.restore(store)  # a link just opened: its collection, query and method, before the widgets
sw.start_run()
infos = store.list()
options = options_or_stop()
info, option = sw.pick_collection(infos, options)

with st.expander("New collection", icon=":material/library_add:", expanded=not infos):
    sw.new_collection(store, option, sample_exists=any(i.name == search.SAMPLE_COLLECTION for i in infos))
if info is None:
    sl.stop()

sw.collection_panel(store, info, options)
provider, mismatch = None, False
with friendly_errors():
    provider = provider_for(option)
    mismatch = sw.model_mismatch(store, info, option, options)
if provider is None:
    sl.stop(info)

# --- searching ----------------------------------------------------------------------------------

chunks, vectors = [], None
with friendly_errors():
    chunks, vectors = load_collection(info)

# The default through the state, not value=: a link may have set it (ui.search.links).
st.session_state.setdefault(keys.K, keys.DEFAULT_K)
with st.form("search_form", border=False):
    q_col, k_col, go_col = st.columns([6, 2, 1], vertical_alignment="bottom")
    query = q_col.text_input("Query", key=keys.QUERY, placeholder="What are you looking for?")
    k = k_col.number_input("Results", min_value=sl.MIN_K, max_value=sl.MAX_K, key=keys.K)
    asked = go_col.form_submit_button(
        "Search", key="search_go", type="primary", disabled=mismatch, width="stretch"
    )
if sl.take_search(info) and not mismatch:
    asked = True  # a link's query: searched once, as the button would
if asked:
    with friendly_errors():
        found = search.search(
            provider, option.model, query, chunks, vectors, k=int(k), info=info, store=store
        )
        results.remember_result(info, found, int(k))

result, shown = results.last_result(info), 0
first = sl.take_hit()  # the result a link reads in full (once: a new grid's selection)
if result is not None:
    shown = results.show_result(result, info, in_database=store.searches_in_database, selected=first)
hits = result is not None and bool(result.hits)

# --- the map -------------------------------------------------------------------------------------

method = None
if vectors is not None and len(chunks):
    st.subheader("Map of the collection", anchor=False)
    method = method_radio(
        keys.PROJECTION,
        fast_first=True,
        help="PCA is instant; UMAP shows neighbourhoods better (a few seconds the first time).",
    )
    coords = None
    with friendly_errors():
        coords = sl.map_coordinates(info, method, vectors)
    if coords is not None:
        figure = scatter_figure(
            coords,
            [c.text for c in chunks],
            color=[c.source for c in chunks],
            color_title="document",
            highlight=result.rows.tolist() if hits else None,
            query_point=(search.query_position(coords, result.rows, result.scores), result.query)
            if hits
            else None,
            uirevision=f"{info.name}-{method}",
            height=results.map_height(len(chunks)),
        )
        st.plotly_chart(figure, key="search_map", width="stretch", theme=None)
        if hits:
            st.caption(
                "Outlined: the query's results. The star sits among them (weighted by score); the map "
                "itself does not move between queries."
            )

sl.follow(info, method, shown)  # the address bar says what the page shows
