"""Uploaders that never leave a refused file looking accepted.

Streamlit's uploader keeps its file chips in the browser for as long as its key lives, and a
``type=`` filter makes the browser keep a file of another type as a red chip the app never hears
of. So no uploader here has a type filter — embedcore reads the file and says what is wrong —
and a refused file empties the uploader (a new key, :func:`ui.common.state.reset_widget`) while the
reason stays on screen until another file comes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import streamlit as st

from embedcore import io
from embedcore.errors import InputError
from ui.common import cached, state
from ui.common.format import md_escape

if TYPE_CHECKING:
    import pandas as pd

#: ``{uploader base key: [reasons]}``: why the files last given to that uploader were refused.
_REFUSED = "uploads_refused"
#: ``{uploader base key: (frame, file name)}``: the last file each uploader accepted.
_KEPT = "uploads_kept"


def refuse(base: str, reasons: list[str], *, name: str | None = None, kept: str | None = None) -> NoReturn:
    """Empty uploader ``base`` (its chips looked accepted), keep ``reasons`` on screen, run the page again.

    Parameters
    ----------
    name : str, optional
        The refused file's name, put before a reason that does not say it.
    kept : str, optional
        What is still in use instead (the previous file's name): said with the reason, so a bad
        file after a good one is as clear as a first one, and the good texts are known to stay.
    """
    said = [reason if not name or name in reason else f"{name}: {reason}" for reason in reasons]
    if kept and said:
        said[-1] += f" The texts of {kept} are kept."
    st.session_state.setdefault(_REFUSED, {})[base] = said
    state.reset_widget(base)
    st.rerun()


def show_refused(base: str) -> bool:
    """Show why the files last given to uploader ``base`` were refused; True when there was a reason."""
    reasons = st.session_state.get(_REFUSED, {}).get(base, [])
    for reason in reasons:
        st.warning(md_escape(reason), icon=":material/description:")
    return bool(reasons)


def forget_refused(*bases: str) -> None:
    """A new file came (or the work is done): the old reasons go."""
    refused: dict = st.session_state.get(_REFUSED, {})
    for base in bases:
        refused.pop(base, None)


def uploaded_table(base: str, label: str, *, require_text: bool = False) -> tuple[pd.DataFrame, str] | None:
    """A single-file uploader of a table or text file: ``(frame, file name)`` once one is read, else None.

    Parameters
    ----------
    base : str
        The uploader's key (drawn as :func:`ui.common.state.widget_key` of it).
    label : str
    require_text : bool
        Refuse a table without a column of text as well (:func:`embedcore.io.require_text_columns`).

    Returns
    -------
    (DataFrame, str) or None
        None while no file is given; a refused one (:class:`~embedcore.errors.InputError` from
        :func:`embedcore.io.read_upload`) is said by :func:`show_refused` and never returned.
    """
    upload = st.file_uploader(label, key=state.widget_key(base))
    kept = st.session_state.setdefault(_KEPT, {})
    if upload is None:
        if show_refused(base) and base in kept:
            return kept[base]  # a bad file after a good one: the good one stays in use
        # Not forgotten here: a file replacing another reaches the app as a run without a file
        # first, and the good one must still be known when the bad one is refused.
        return None
    forget_refused(base)
    try:
        frame = cached.read_upload(upload.getvalue(), upload.name)
        if require_text:
            io.require_text_columns(frame)
    except InputError as exc:
        refuse(base, [str(exc)], name=upload.name, kept=kept[base][1] if base in kept else None)
    kept[base] = (frame, upload.name)
    return frame, upload.name


def refused(base: str) -> bool:
    """Whether uploader ``base`` last refused a file (its reason is on screen)."""
    return bool(st.session_state.get(_REFUSED, {}).get(base))
