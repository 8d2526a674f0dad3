"""The explorer's "Share" box: the link to this view, and "Save view" (issue 22).

The address bar already follows the view (:mod:`ui.explorer.links`); the box shows that address
to copy, and saves the view under a name: its texts (the part shown, when some are isolated),
settings, selection and the map's coordinates as drawn, so whoever opens it sees this picture.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui.common import links
from ui.common import state as state_keys
from ui.common.errors import friendly_errors
from ui.common.format import md_escape
from ui.common.visitor import signed_in_email
from ui.explorer import isolation as iso
from ui.explorer import keys
from ui.explorer import selection_state as selstate
from ui.explorer.links import explorer_state, follow

NAME = f"{keys.P}_view_name"
SAVE = f"{keys.P}_save_view"
#: Session key: ``(view id, name)`` of the view saved last (its link is shown once more).
_SAVED = f"{keys.P}_saved_view"
VIEWS_PAGE = "pages/views.py"


def _save(view: iso.MapView, name: str) -> None:
    drawn = st.session_state.get(keys.DRAWN_MAP)
    if drawn is None or drawn["dataset"] != view.dataset:
        st.warning(
            "Open the **Map** tab first: a saved view keeps the map as it is drawn.", icon=":material/map:"
        )
        return
    state = {**links.shared_state(), **explorer_state(view), "page": "explorer"}
    state.pop("isolated")  # the view keeps the texts shown: an isolated part is all of its texts
    # The saved views list names the data set: the sample's or file's name, as the panel says it.
    origin = st.session_state.get(state_keys.TEXTS_ORIGIN) or {}
    state["dataset"] = str(origin.get("name") or "texts") + (" (isolated part)" if view.isolated else "")
    state["selection"] = selstate.selection(view.dataset) or None
    with friendly_errors():
        view_id = links.view_store().save(
            {k: v for k, v in state.items() if v is not None},
            drawn["texts"],
            drawn["labels"],
            drawn["coords"],
            name=name,
            author=signed_in_email(),
        )
        st.session_state[_SAVED] = (view_id, name or "Untitled view")
        links.name_saved_view(*st.session_state[_SAVED])
        follow(view)  # the address bar names the saved view from now on, while nothing changes


def share_box(view: iso.MapView) -> None:
    """A "Share" popover: the address to copy and "Save view"."""
    with st.popover("Share this view", icon=":material/share:", width="stretch"):
        st.caption(
            "The address bar follows what you see: texts, model, map settings, Find and the selection. "
            "Copy it to show a colleague the same view on this app."
        )
        st.code(links.page_url(st.query_params.to_dict()), language=None, wrap_lines=True)
        name = st.text_input("Name", key=NAME, max_chars=100, placeholder="e.g. Complaints by cluster")
        if st.button("Save view", key=SAVE, icon=":material/bookmark_add:", type="primary", width="stretch"):
            _save(view, name.strip())
        saved = st.session_state.get(_SAVED)
        if saved is not None:
            st.success(
                f"Saved **{md_escape(saved[1])}** with its map as drawn. Its link:",
                icon=":material/bookmark_added:",
            )
            with st.container(key=f"{keys.P}_saved_link"):
                st.code(links.page_url({links.VIEW: saved[0]}), language=None, wrap_lines=True)
        root = Path(__file__).resolve().parents[2]
        if (root / VIEWS_PAGE).is_file():
            st.page_link(VIEWS_PAGE, label="All saved views", icon=":material/bookmarks:")
