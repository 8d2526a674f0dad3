"""A destructive action asked about once more: "Yes, delete it" or "Cancel" under a warning."""

from __future__ import annotations

import streamlit as st


def delete_confirmed(question: str, *, key: str, confirm_key: str) -> bool:
    """Ask ``question`` (markdown); True in the run where "Yes, delete it" was pressed.

    "Cancel" forgets ``confirm_key`` (the session key that keeps the question open) and reruns.
    Buttons are keyed ``f"{key}_yes"`` and ``f"{key}_no"``.
    """
    st.warning(question, icon=":material/delete_forever:")
    yes, no = st.columns(2)
    pressed = yes.button("Yes, delete it", key=f"{key}_yes", type="primary", width="stretch")
    if no.button("Cancel", key=f"{key}_no", width="stretch"):
        st.session_state.pop(confirm_key, None)
        st.rerun()
    return pressed
