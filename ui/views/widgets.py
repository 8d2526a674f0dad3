"""Streamlit glue of the saved views page (``pages/views.py``): the list, one view's actions, importing.

The views are the store's (:class:`embedcore.stores.protocols.Views`, from
:func:`ui.common.links.view_store`); this module decides what happens between reruns. An action
that changes the list (rename, delete, import) says what it did once, at the top of the next run
(:func:`start_run`); an import also chooses the view it saved, and offers to open it for as long
as that view stays chosen. Opening is the explorer's business: it reads ``?view=<id>``
(:mod:`ui.common.links`).
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from embedcore.errors import InputError, ViewImportError
from embedcore.stores.view_rules import MAX_NAME_LENGTH, ViewInfo, read_export
from ui.common import link_texts, state, uploads
from ui.common.confirm import delete_confirmed
from ui.common.errors import friendly_errors
from ui.common.format import md_escape, plural
from ui.common.links import VIEW
from ui.common.visitor import signed_in_email
from ui.views import keys
from ui.views.table import choice_labels, file_name, shows_authors, views_frame

#: The page a saved view opens on (the contract: ``?view=<id>``).
EXPLORER = "pages/explorer.py"


def open_view(view_id: str) -> None:
    """Show the saved view in the explorer: its texts and its stored map (ends this run)."""
    st.switch_page(EXPLORER, query_params={VIEW: view_id})


def start_run() -> None:
    """Choose the view the previous run imported, and say what the previous run did (once)."""
    if keys.PENDING in st.session_state:
        st.session_state[keys.SELECT] = st.session_state.pop(keys.PENDING)
    notice = st.session_state.pop(keys.NOTICE, None)
    if notice:
        st.success(notice, icon=":material/check_circle:")


def _done(message: str) -> None:
    """Remember what happened (markdown) and run the page again."""
    st.session_state[keys.NOTICE] = message
    st.session_state.pop(keys.CONFIRM, None)
    st.session_state.pop(keys.IMPORTED, None)
    st.rerun()


# --- the list --------------------------------------------------------------------------------------


def listed(store) -> tuple[list[ViewInfo], bool]:
    """The views to show, newest first, and whether someone is signed in.

    With sign-in, an "Only mine" toggle keeps the views the visitor saved.
    """
    email = signed_in_email()
    mine = email is not None and st.toggle(
        "Only mine", key=keys.ONLY_MINE, help=f"Only the views saved by {email}."
    )
    return store.list(author=email if mine else None), email is not None


def explain_empty(filtered: bool) -> None:
    """Where saved views come from, for a page with none to show."""
    if filtered:
        st.info(
            "You have saved no views yet. Switch **Only mine** off to see everyone's.",
            icon=":material/bookmarks:",
        )
        return
    st.info(
        "No saved views yet. To save one, open the **Similarity explorer**, build a map, then choose "
        "**Share** → **Save view** and give it a name: it appears here, with its texts and the map as "
        "drawn, for you and your colleagues to reopen.",
        icon=":material/bookmarks:",
    )
    st.page_link(EXPLORER, label="Go to the Similarity explorer", icon=":material/scatter_plot:")


def pick(infos: Sequence[ViewInfo], signed_in: bool) -> ViewInfo | None:
    """The table of views and a chooser under it; the chosen view (None when there is none)."""
    if not infos:
        explain_empty(filtered=bool(st.session_state.get(keys.ONLY_MINE)))
        return None
    st.dataframe(
        views_frame(infos, with_author=shows_authors(infos, signed_in)),
        hide_index=True,
        width="stretch",
        column_config={
            "name": st.column_config.TextColumn(width="medium"),
            "texts": st.column_config.NumberColumn(format="%d"),
        },
    )
    by_id = {info.id: info for info in infos}
    if st.session_state.get(keys.SELECT) not in by_id:
        # Deleted here or in another session, or hidden by "Only mine": the newest instead.
        st.session_state.pop(keys.SELECT, None)
    labels = choice_labels(infos)
    chosen = st.selectbox("View", list(by_id), format_func=labels.__getitem__, key=keys.SELECT)
    return by_id[chosen]


# --- one view ---------------------------------------------------------------------------------------


def actions(store, info: ViewInfo) -> None:
    """Open, download, delete (asked first) and rename the chosen view."""
    imported = st.session_state.get(keys.IMPORTED)
    if imported and imported["id"] == info.id:
        st.success(imported["message"], icon=":material/file_download_done:")
    exported = None
    with friendly_errors():
        # Read here, not on the click: a view whose texts are gone says so before anyone clicks
        # (its settings still open in the explorer, which says the same).
        exported = store.export(info.id)
    open_col, download_col, delete_col = st.columns(3)
    if open_col.button(
        "Open", key="views_open", type="primary", icon=":material/open_in_new:", width="stretch"
    ):
        open_view(info.id)
    download_col.download_button(
        "Download as JSON",
        data=exported or "",
        file_name=file_name(info.name),
        mime="application/json",
        key="views_download",
        icon=":material/download:",
        on_click="ignore",
        disabled=exported is None,
        width="stretch",
    )
    if delete_col.button("Delete…", key="views_delete", icon=":material/delete:", width="stretch"):
        st.session_state[keys.CONFIRM] = info.id
    if st.session_state.get(keys.CONFIRM) == info.id:
        _confirm_delete(store, info)
    _rename_form(store, info)


def _confirm_delete(store, info: ViewInfo) -> None:
    question = (
        f"Delete the view **{md_escape(info.name)}**? This cannot be undone: links to it stop working "
        "(an exported file can still be imported)."
    )
    if delete_confirmed(question, key="views_delete", confirm_key=keys.CONFIRM):
        with friendly_errors():
            gone = store.delete(info.id)
            st.session_state.pop(keys.SELECT, None)
            said = "Deleted" if gone else "Someone else had already deleted"
            _done(f"{said} the view **{md_escape(info.name)}**.")


def _rename_form(store, info: ViewInfo) -> None:
    with st.form("views_rename_form", border=False):
        name_col, go_col = st.columns([5, 1], vertical_alignment="bottom")
        # Keyed by the view: choosing another view shows its own name to edit.
        name = name_col.text_input(
            "New name", value=info.name, key=f"views_rename_{info.id}", max_chars=MAX_NAME_LENGTH
        )
        renamed = go_col.form_submit_button(
            "Rename", key="views_rename", icon=":material/edit:", width="stretch"
        )
    if renamed and name.strip() == info.name:
        st.info(f"The view is already called **{md_escape(info.name)}**.", icon=":material/edit:")
    elif renamed:
        with friendly_errors():
            after = store.rename(info.id, name)
            _done(f"Renamed **{md_escape(info.name)}** to **{md_escape(after.name)}**.")


# --- importing ---------------------------------------------------------------------------------------


def import_panel(store) -> None:
    """An uploader for an exported view: saved here under a new id, chosen, and offered to open.

    A file that is not a view empties the uploader and says why (:mod:`ui.common.uploads`); the
    list above is drawn before and stays.
    """
    st.subheader("Import a view", anchor=False)
    st.caption(
        "A file saved with **Download as JSON**, here or on another deployment. It is saved as a new "
        "view (under your name when you are signed in)."
    )
    # No type= filter (ui.common.uploads says why): the store says what is wrong with a file.
    upload = st.file_uploader("An exported view (.json)", key=state.widget_key(keys.IMPORT))
    if upload is None:
        uploads.show_refused(keys.IMPORT)
        return
    uploads.forget_refused(keys.IMPORT)
    with friendly_errors():
        try:
            if link_texts.mode() == link_texts.NEVER:
                _sample_only(upload.getvalue())
            view_id = store.import_view(upload.getvalue(), author=signed_in_email())
        except InputError as exc:  # ViewImportError: the message names the field at fault
            uploads.refuse(keys.IMPORT, [str(exc)], name=upload.name)
        info = store.info(view_id)
        # Emptied: the file is a view now, and a file left in the uploader would import again.
        state.reset_widget(keys.IMPORT)
        st.session_state[keys.IMPORTED] = {"id": view_id, "message": imported_message(info, upload.name)}
        st.session_state[keys.PENDING] = view_id
        st.session_state.pop(keys.CONFIRM, None)
        st.rerun()


def _sample_only(payload: bytes) -> None:
    """Refuse a view of texts other than a sample set's (``link_texts = "never"``: none are kept)."""
    found = read_export(payload)
    if not link_texts.sample_view(found["state"], found["texts"]):
        raise ViewImportError(
            "This app does not keep texts visitors bring, so only views of its sample sets can be "
            "imported here."
        )


def imported_message(info: ViewInfo, source: str) -> str:
    """What an import saved, and what opening it does (markdown): the saved map, vectors from this cache."""
    model = f" with **{md_escape(info.model)}**" if info.model else ""
    return (
        f"Imported **{md_escape(info.name)}** ({plural(info.n_texts, 'text')}) from {md_escape(source)}. "
        f"**Open** shows the map as it was saved; its vectors come from this deployment's cache, so "
        f"texts never embedded here are embedded again{model}."
    )
