"""How a link names the texts in use, and whether texts a visitor typed are kept for it.

A link never carries texts (:mod:`ui.common.links`): a sample set is named
(``data=sample:topics``), vectors on the server by their folder, a file of vectors by its name;
texts a visitor pasted, uploaded or edited — *typed texts* here — are stored in the view store
under their digest and named by it (``data=texts:<sha256>``). The operator's ``link_texts``
(:func:`embedcore.settings.check_link_texts`) says when that happens:

- ``always`` (the default): on every run, so the address bar always reopens what is shown;
- ``on_request``: only for texts this session asked a link for (:func:`ask`: the explorer's
  "Make a link to these texts", or Save view); until then the URL carries the settings alone;
- ``never``: typed texts are never stored for a link, and views are saved or imported only for
  the sample sets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from embedcore import io
from embedcore.errors import EmbedcoreError
from embedcore.stores.view_rules import check_texts, texts_digest
from ui.common import cached, state
from ui.common.settings import setting
from ui.common.storage import view_store

logger = logging.getLogger(__name__)

ALWAYS, ON_REQUEST, NEVER = "always", "on_request", "never"

_STORED = "_links_stored"  # {(id(table), len(table)): digest} of the typed texts stored last
_ASKED = "_links_asked"  # digests of typed texts this session asked a link for (on_request)
_DIGEST = "_links_digest"  # ((id(table), len(table)), digest): the texts on screen, hashed once


def mode() -> str:
    """The operator's ``link_texts``: ``"always"``, ``"on_request"`` or ``"never"``."""
    return setting("link_texts")


def _typed_table() -> io.TextTable | None:
    """The texts on screen when they are the visitor's and a link would name them by digest."""
    ss = st.session_state
    origin = ss.get(state.TEXTS_ORIGIN) or {}
    table = ss.get(state.TEXTS)
    if origin.get("kind") in ("sample", "folder") or table is None or not len(table):
        return None
    return None if table.vectors is not None else table


def visitor_texts() -> bool:
    """Whether the texts on screen are the visitor's own (neither a sample set nor the server's vectors)."""
    origin = st.session_state.get(state.TEXTS_ORIGIN) or {}
    table = st.session_state.get(state.TEXTS)
    return origin.get("kind") not in ("sample", "folder") and table is not None and len(table) > 0


def _digest(table: io.TextTable) -> str:
    key = (id(table), len(table))
    known = st.session_state.get(_DIGEST)
    if known is None or known[0] != key:
        known = (key, texts_digest(*check_texts(table.texts, table.labels)))
        st.session_state[_DIGEST] = known
    return known[1]


def _asked_for(table: io.TextTable) -> bool:
    asked = st.session_state.get(_ASKED)
    try:
        return bool(asked) and _digest(table) in asked
    except (EmbedcoreError, ValueError):  # texts the store would refuse: never asked for
        return False


def data_reference() -> str | None:
    """How a link names the texts in use (``sample:topics``, ``texts:<digest>``), storing them when needed.

    None when typed texts are not to be named (``link_texts``: not asked for yet, or never) or
    cannot be stored (the database is down): the link then carries the settings alone, and a
    failure is logged, never shown on every run.
    """
    ss = st.session_state
    origin = ss.get(state.TEXTS_ORIGIN) or {}
    kind = origin.get("kind")
    if kind in ("sample", "folder"):
        return f"{kind}:{origin.get('name')}"
    table = ss.get(state.TEXTS)
    if table is None or not len(table):
        return None
    if table.vectors is not None:  # a file of texts *with vectors*: a link cannot carry those
        return f"file:{origin.get('name')}"
    policy = mode()
    if policy == NEVER:
        return None
    if origin.get("digest"):  # opened from a link: stored already
        return f"texts:{origin['digest']}"
    key = (id(table), len(table))
    stored = ss.setdefault(_STORED, {})
    if key not in stored:
        if policy == ON_REQUEST and not _asked_for(table):
            return None
        try:
            stored.clear()  # one table at a time: the one on screen
            stored[key] = view_store().put_texts(table.texts, table.labels)
        except (EmbedcoreError, ValueError) as exc:
            logger.warning("texts for a link not stored: %s", type(exc).__name__)
            return None
    return f"texts:{stored[key]}"


def awaits_request() -> bool:
    """True on ``on_request`` while typed texts are on screen that no link names yet."""
    return mode() == ON_REQUEST and _typed_table() is not None and data_reference() is None


def ask() -> str | None:
    """The visitor asked for a link to the typed texts on screen (or saves them): remember their
    digest and store them; their reference, or None (``never``, none on screen, not stored)."""
    table = _typed_table()
    if table is None or mode() == NEVER:
        return None
    try:
        digest = _digest(table)
    except (EmbedcoreError, ValueError):
        return None
    st.session_state.setdefault(_ASKED, set()).add(digest)
    return data_reference()


def sample_view(view_state: Mapping[str, Any], texts: Sequence[str]) -> bool:
    """Whether a view (an imported file's state and texts) shows a sample set, or a part of one."""
    kind, _, name = str(view_state.get("data") or "").partition(":")
    if kind != "sample" or name not in io.SAMPLES:
        return False
    return set(texts) <= set(cached.sample_table(name).texts)


def whole_sample(name: str, texts: Sequence[str], labels: Sequence | None) -> bool:
    """Whether ``texts`` and ``labels`` are all of the sample set ``name`` as this version ships it."""
    if name not in io.SAMPLES:
        return False
    sample = cached.sample_table(name)
    ours = None if sample.labels is None else [str(x) for x in sample.labels]
    theirs = None if labels is None else [str(x) for x in labels]
    return list(sample.texts) == list(texts) and ours == theirs


__all__ = [
    "ALWAYS",
    "NEVER",
    "ON_REQUEST",
    "ask",
    "awaits_request",
    "data_reference",
    "mode",
    "sample_view",
    "visitor_texts",
    "whole_sample",
]
