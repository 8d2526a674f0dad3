"""Saved views: the maps people saved in the Similarity explorer, to open, rename, delete, export or import.

Top to bottom: the views (newest first) and the one chosen, its actions (:mod:`ui.views.widgets`),
then importing an exported file. What a view holds and the rules for it are the store's
(:mod:`embedcore.stores.views`).
"""

from __future__ import annotations

import streamlit as st

from ui.common.errors import friendly_errors
from ui.common.links import view_store
from ui.common.navigation import ensure_routed
from ui.views import widgets as vw

ensure_routed()  # first: Streamlit may have run this file without app.py (ui.common.navigation)

st.title("Saved views", anchor=False)
st.caption(
    "Views saved from the Similarity explorer: their texts and the map exactly as it was drawn. Open "
    "one to see the same picture, or download it as a file to import on another deployment."
)

store = None
with friendly_errors():
    store = view_store()
if store is None:
    st.stop()
vw.start_run()
infos, signed_in = [], False
with friendly_errors() as listing:
    infos, signed_in = vw.listed(store)
if listing.failed:
    st.stop()
info = vw.pick(infos, signed_in)
if info is not None:
    vw.actions(store, info)
st.divider()
vw.import_panel(store)
