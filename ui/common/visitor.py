"""Who is using the app now: the signed-in email, else the client address, else the browser session.

The budget on the operator's token (``[budget]`` in secrets) counts per visitor, and the Usage
page lists visitors by this identity. Sign-in (``[auth]`` in secrets, Streamlit's ``st.login``)
makes it an email; on an open demo it is the client's address as Streamlit sees it (behind a
proxy, the proxy's unless the proxy forwards it), and where even that is unknown (AppTest, some
proxies) a random id kept for the browser session.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import streamlit as st

from ui.common.settings import access_rules

#: Session key of the fallback id (a browser session without email or address).
_SESSION_ID = "_visitor_session_id"


@dataclass(frozen=True)
class Visitor:
    """The identity a visitor's spending is counted under.

    Attributes
    ----------
    id : str
        ``email:<lower-cased address>``, ``ip:<address>`` or ``session:<random hex>``.
    label : str
        What the sidebar and the Usage page show (the email, the address, or "this browser session").
    email : str or None
        Only when signed in.
    """

    id: str
    label: str
    email: str | None = None


def signed_in_email() -> str | None:
    """The signed-in user's email, lower-cased, or None (no sign-in configured, or not signed in)."""
    try:
        user = st.user
        if not user.get("is_logged_in", False):
            return None
        email = user.get("email")
    except Exception:  # st.user outside a script run, or without [auth]: nobody is signed in
        return None
    return str(email).strip().lower() if email else None


def client_address() -> str | None:
    """The client's IP address as Streamlit sees it, or None where it is unknown."""
    try:
        address = st.context.ip_address
    except Exception:
        return None
    # Only a real address: outside a server (AppTest) Streamlit answers with a stand-in object
    # whose text changes from run to run, which would make every run a new visitor.
    return address if isinstance(address, str) and address else None


def current_visitor() -> Visitor:
    """The visitor of this script run (cheap; read on every run)."""
    email = signed_in_email()
    if email:
        return Visitor(id=f"email:{email}", label=email, email=email)
    address = client_address()
    if address:
        return Visitor(id=f"ip:{address}", label=address)
    session_id = st.session_state.setdefault(_SESSION_ID, uuid.uuid4().hex)
    return Visitor(id=f"session:{session_id}", label="this browser session")


def is_admin(visitor: Visitor | None = None) -> bool:
    """True for a signed-in visitor whose email is in ``[access].admins``; never without sign-in."""
    visitor = visitor or current_visitor()
    return visitor.email is not None and access_rules().is_admin(visitor.email)
