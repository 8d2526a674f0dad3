"""The explorer's "Share" box: the link to this view, and "Save view" (issue 22).

The address bar already follows the view (:mod:`ui.explorer.links`); the box shows that address
to copy, and saves the view under a name: its texts (the part shown, when some are isolated),
settings, selection and the map's coordinates as drawn, so whoever opens it sees this picture.
The operator's ``link_texts`` (:mod:`ui.common.link_texts`) may keep typed texts out of the
address until the visitor asks ("Make a link to these texts"), or out of links altogether (Save
view is then off for them).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui.common import link_texts, links
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
#: "Make a link to these texts" (``link_texts = "on_request"``).
MAKE_LINK = f"{keys.P}_make_link"
#: Why Save view is off (``link_texts = "never"``, the visitor's own texts on screen).
NO_SAVE = "This app does not keep texts visitors type; views of a sample set can be saved."
#: Session key: True once "Make a link to these texts" could not store them (said once).
_LINK_FAILED = f"{keys.P}_link_failed"
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
    link_texts.ask()  # saving is asking: on "on_request" the URL names these texts from now on
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


def _make_link() -> None:
    """The "Make a link to these texts" button, before the run: the run then draws the address naming them."""
    if link_texts.ask() is None:  # the database is down: said once by the box
        st.session_state[_LINK_FAILED] = True


def _link_caption() -> bool:
    """Say what the address bar carries, and offer a link to typed texts that have none yet
    (``link_texts``); True when Save view is possible."""
    if link_texts.mode() == link_texts.NEVER and link_texts.visitor_texts():
        st.caption(
            "This app does not keep texts visitors type: the address carries the settings, and opens "
            "them on whatever texts your colleague has. Saved views are for the sample sets."
        )
        return False
    if st.session_state.pop(_LINK_FAILED, False):
        st.warning(
            "These texts could not be kept for a link just now; try again later.",
            icon=":material/link_off:",
        )
    if link_texts.awaits_request():
        st.caption(
            "This app keeps texts you type only when you ask for a link: until then, the address "
            "below carries the settings alone."
        )
        st.button(
            "Make a link to these texts",
            key=MAKE_LINK,
            icon=":material/link:",
            width="stretch",
            on_click=_make_link,
        )
        return True
    st.caption(
        "The address bar follows what you see: texts, model, map settings, Find and the selection. "
        "Copy it to show a colleague the same view on this app."
    )
    return True


def share_box(view: iso.MapView) -> None:
    """A "Share" popover: the address to copy and "Save view"."""
    with st.popover("Share this view", icon=":material/share:", width="stretch"):
        can_save = _link_caption()
        st.code(links.page_url(st.query_params.to_dict()), language=None, wrap_lines=True)
        name = st.text_input("Name", key=NAME, max_chars=100, placeholder="e.g. Complaints by cluster")
        if st.button(
            "Save view",
            key=SAVE,
            icon=":material/bookmark_add:",
            type="primary",
            width="stretch",
            disabled=not can_save,
            help=None if can_save else NO_SAVE,
        ):
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
