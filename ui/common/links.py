"""Links that reopen a view: the URL follows what a visitor sees, and saved views open the same way.

A page's *state* is a small dict of settings (which ones is the page's business:
:mod:`ui.explorer.links`, :mod:`ui.search.links`). The same dict is what the address bar's query
string carries (:func:`to_query` / :func:`from_query`) and what a saved view stores
(:class:`embedcore.stores.protocols.Views`), so a link and a saved view open through one path:

- every page run ends with :func:`follow`: the URL is rewritten to the state (only when it
  changed: no extra rerun, no history entry per click);
- the first run of a page whose URL says something new (a link pasted in a fresh browser, a
  reload, "Open" on the saved views page) calls :func:`open_incoming` from the shell, before
  the sidebar is drawn: the shared part (texts, provider, model) is applied at once, the page's
  part waits for the page (:func:`take_pending`), which knows its own widgets.

Texts are never in a URL. Sample sets are named (``data=sample:topics``); texts a visitor pasted,
uploaded or edited are stored server-side under their content digest (the view store: SQLite
beside the cache, or the team's PostgreSQL) and named by it (``data=texts:<sha256>``) — when the
operator's ``link_texts`` allows (:mod:`ui.common.link_texts`: always, on request, never). Long row
lists (a selection of 5,000 points) are stored too (``sel=~<sha256>``), so a URL stays short
whatever is selected. A saved view (``?view=<id>``, 192 random bits) also keeps the map's
coordinates: whoever opens it sees the same picture, not a recomputation.

With sign-in enabled every link is behind it too: :func:`ui.common.access.require_access` runs
before anything here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import streamlit as st

from embedcore import io
from embedcore.errors import EmbedcoreError, ViewDataMissingError
from embedcore.stores.view_rules import ROW_KEYS, check_rows, rows_digest
from embedcore.stores.views import INLINE_ROWS
from ui.common import cached, state
from ui.common.errors import friendly_errors
from ui.common.format import md_escape
from ui.common.link_texts import data_reference, whole_sample
from ui.common.storage import view_store

logger = logging.getLogger(__name__)

#: The query parameter naming a saved view.
VIEW = "view"
#: Query parameters every page shares: where the texts come from, the provider kind and model.
DATA, PROVIDER, MODEL = "data", "provider", "model"
#: Prefix of a setting of the chosen method (``p.n_neighbors=15``), kept in ``state["params"]``.
PARAM_PREFIX = "p."
#: Row lists (the store's ``ROW_KEYS``): in the URL as ``1.5.9`` (dots need no escaping), or
#: ``~<digest>`` when longer than the store's ``INLINE_ROWS`` (stored as ``shorten`` stores them).

_WRITTEN = "_links_written"  # {page: the query parameters written or handled last}
_PENDING = "_links_pending"  # {"page", "state", "coordinates", "view"}: waits for the page
_OPENED = "_links_opened_view"  # {"id", "name", "query"}: the saved view on screen, while unchanged
_NAME_NEXT = "_links_name_next"  # {"id", "name"}: the saved view the next follow() names
_STORED_ROWS = "_links_stored_rows"  # the digest of the long row list this session stored last
_NOTICE = "_links_notice"  # a sentence for the page about what the link could not restore
_OPENINGS = "_links_openings"  # links this session opened: ``origin["opened"]`` (text panels re-seed)
#: The sidebar's provider radio (``ui.common.connection``): dropped so it is drawn from the link's kind.
PROVIDER_WIDGET = "conn_provider"


# --- the state <-> the query string -----------------------------------------------------------


def _rows_text(rows: list[int]) -> str:
    if len(rows) <= INLINE_ROWS:
        return ".".join(str(int(r)) for r in rows)
    # Every run ends by writing its URL: a selection stored once is not written again each rerun.
    digest = rows_digest(rows)
    if st.session_state.get(_STORED_ROWS) != digest:
        view_store().put_selection(check_rows(rows))
        st.session_state[_STORED_ROWS] = digest
    return "~" + digest


def to_query(page_state: Mapping[str, Any]) -> dict[str, str]:
    """The query parameters of a state: strings, settings flattened, long row lists stored.

    >>> to_query({"method": "umap", "params": {"n_neighbors": 15}, "regex": True, "find": None,
    ...           "selection": [3, 1]})
    {'method': 'umap', 'p.n_neighbors': '15', 'regex': '1', 'selection': '3.1'}
    """
    query: dict[str, str] = {}
    for key, value in page_state.items():
        if value is None or value == "" or value == []:
            continue
        if key == "params":
            query.update({f"{PARAM_PREFIX}{k}": str(v) for k, v in value.items() if v is not None})
        elif key in ROW_KEYS:
            query[key] = _rows_text(list(value))
        elif isinstance(value, bool):
            query[key] = "1" if value else "0"
        else:
            query[key] = str(value)
    return query


def parse_rows(text: str) -> list[int]:
    """``"3.1"`` -> ``[3, 1]``; ``"~<digest>"`` -> the stored list.

    Raises
    ------
    ViewDataMissingError
        The stored list is gone (pruned, or stored on another deployment).
    ValueError
        Not row numbers.
    """
    text = str(text).strip()
    if text.startswith("~"):
        return list(view_store().selection(text[1:]))
    return [int(part) for part in text.split(".") if part != ""]


def from_query(query: Mapping[str, str]) -> dict[str, Any]:
    """The state a query string describes (values stay strings; the page converts its own).

    Row lists that do not parse are dropped (a mangled link still opens its settings).

    >>> from_query({"method": "umap", "p.n_neighbors": "15", "selection": "3.1", "sel": "x"})
    {'method': 'umap', 'params': {'n_neighbors': '15'}, 'selection': [3, 1], 'sel': 'x'}
    """
    found: dict[str, Any] = {}
    for key, value in query.items():
        if key.startswith(PARAM_PREFIX):
            found.setdefault("params", {})[key[len(PARAM_PREFIX) :]] = value
        elif key in ROW_KEYS:
            try:
                found[key] = parse_rows(value)
            except ValueError:
                logger.info("a link's %s is not a row list; ignored", key)
        else:
            found[key] = value
    return found


# --- the shared part: texts, provider, model ----------------------------------------------------


def _set_linked_texts(table: io.TextTable, origin: dict) -> None:
    ss = st.session_state
    ss[_OPENINGS] = ss.get(_OPENINGS, 0) + 1
    ss[state.TEXTS] = table
    ss[state.TEXTS_ORIGIN] = {**origin, "opened": ss[_OPENINGS]}


def _apply_data(reference: str | None, texts: tuple[list, list | None] | None, name: str) -> None:
    if not reference and texts is None:
        return
    kind, _, value = str(reference or "").partition(":")
    if texts is not None and kind == "sample" and whole_sample(value, *texts):
        # A saved view of a sample set opens as that set, not as a visitor's texts: the texts
        # panel shows the sample, and link_texts (which limits visitors' texts) does not apply.
        _set_linked_texts(cached.sample_table(value), {"kind": "sample", "name": value})
    elif texts is not None:
        table = io.TextTable(texts=list(texts[0]), labels=texts[1], source=name)
        digest = value if kind == "texts" else None
        _set_linked_texts(table, {"kind": "link", "name": name, "digest": digest})
    elif kind == "sample" and value in io.SAMPLES:
        _set_linked_texts(cached.sample_table(value), {"kind": "sample", "name": value})
    elif kind == "folder":
        _set_linked_texts(st.session_state[state.TEXTS], {"kind": "folder", "name": value})
    elif kind == "texts":
        stored = view_store().texts(value)
        _apply_data(reference, stored, "texts from a link")
    elif kind == "file":
        notice(
            f"This link was made on the vectors of the file **{md_escape(value)}**; a link cannot carry "
            "a file's vectors. Upload the file to see its map; the settings below are the link's."
        )
    else:
        notice("This link names texts this app does not know; the settings below are the link's.")


def _apply_provider(page_state: Mapping[str, Any]) -> None:
    from ui.common.provider_choice import MODEL_WIDGET, allowed_kinds

    ss = st.session_state
    kind, model = page_state.get(PROVIDER), page_state.get(MODEL)
    if kind:
        if kind not in allowed_kinds():
            notice(
                f"This link was made with the provider **{md_escape(kind)}**, which this app does not "
                "offer here; the sidebar's provider is used instead."
            )
            return
        ss[state.PROVIDER_KIND] = kind
        ss.pop(PROVIDER_WIDGET, None)  # the sidebar's radio: drawn afresh from the kind above
    if model:
        ss[state.MODEL] = str(model)
        ss[MODEL_WIDGET] = str(model)


def notice(text: str) -> None:
    """Say ``text`` once on the page (:func:`show_notice`): what a link could not restore."""
    st.session_state[_NOTICE] = text


def show_notice() -> None:
    """What the last link could not restore, said once, on the page that opened it."""
    text = st.session_state.pop(_NOTICE, None)
    if text:
        st.info(text, icon=":material/link_off:")


# --- opening a link -----------------------------------------------------------------------------


def open_incoming(page: str) -> None:
    """Apply what the URL says, once, when it says something new (a pasted link, a reload, Open).

    Called by the shell before the sidebar is drawn. A link whose data is gone says exactly that
    and opens its settings without it; a link to no view says so; neither shows a traceback.
    """
    ss = st.session_state
    query = st.query_params.to_dict()
    written = ss.setdefault(_WRITTEN, {})
    if not query or written.get(page) == query:
        return
    written[page] = query
    ss.pop(_OPENED, None)
    with friendly_errors():
        try:
            if VIEW in query:
                _open_saved(page, query[VIEW])
            else:
                page_state = from_query(query)
                _apply_provider(page_state)
                _apply_data(page_state.get(DATA), None, "texts from a link")
                ss[_PENDING] = {"page": page, "state": page_state, "coordinates": None, "view": None}
        except ViewDataMissingError as exc:
            # The settings without the data: the message says what is gone and why.
            kept = dict(exc.state or from_query({k: v for k, v in query.items() if k != VIEW}))
            kept.pop(DATA, None)
            for key in ROW_KEYS:
                kept.pop(key, None)
            _apply_provider(kept)
            ss[_PENDING] = {"page": page, "state": kept, "coordinates": None, "view": None}
            notice(f"{md_escape(str(exc))} The link's settings are applied to the texts shown instead.")


def _open_saved(page: str, view_id: str) -> None:
    view = view_store().open(view_id)
    page_state = dict(view.state)
    _apply_provider(page_state)
    _apply_data(page_state.get(DATA), (view.texts, view.labels), f"saved view “{view.name}”")
    st.session_state[_PENDING] = {
        "page": page,
        "state": page_state,
        "coordinates": view.coordinates,
        "view": {"id": view.id, "name": view.name},
    }


def take_pending(page: str) -> dict | None:
    """The page's part of the link just opened — ``{"state", "coordinates", "view"}`` — once."""
    pending = st.session_state.get(_PENDING)
    if not pending or pending.get("page") != page:
        return None
    if pending.get("view") is not None:  # the page's next follow() names it (name_saved_view)
        name_saved_view(pending["view"]["id"], pending["view"]["name"])
    return st.session_state.pop(_PENDING)


def keep_pending(pending: dict) -> None:
    """Put a link's part back for a later run (the page could not apply it yet: nothing embedded)."""
    st.session_state[_PENDING] = pending


# --- following the view -----------------------------------------------------------------------


def shared_state() -> dict[str, Any]:
    """The state every page's link carries: texts, provider kind, model."""
    from ui.common.provider_choice import current_connection, current_model

    return {DATA: data_reference(), PROVIDER: current_connection().kind, MODEL: current_model()}


def name_saved_view(view_id: str, name: str) -> None:
    """From the page's next :func:`follow` on, and while its state stays the same, the URL is
    ``?view=<id>``: a saved view just opened, or just saved."""
    st.session_state[_NAME_NEXT] = {"id": view_id, "name": name}


def follow(page: str, page_state: Mapping[str, Any]) -> dict[str, str]:
    """Make the address bar say ``page_state``; the query parameters written.

    Written only when they differ from the URL's (each write replaces the query string; an
    unchanged one is not sent again). While a saved view is on screen unchanged, the URL is
    ``?view=<id>``, so a reload shows its stored map.
    """
    ss = st.session_state
    try:
        query = to_query(page_state)
    except (EmbedcoreError, ValueError) as exc:  # a long selection not stored: the URL stays
        logger.warning("the URL does not follow the view: %s", type(exc).__name__)
        return st.query_params.to_dict()
    named = ss.pop(_NAME_NEXT, None)
    if named is not None:  # this state is the saved view's
        ss[_OPENED] = {**named, "query": query}
    opened = ss.get(_OPENED)
    if opened is not None:
        if opened["query"] == query:
            query = {VIEW: opened["id"]}
        else:
            ss.pop(_OPENED, None)
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
    ss.setdefault(_WRITTEN, {})[page] = query
    return query


def page_url(query: Mapping[str, str]) -> str:
    """The address of this page with ``query`` (for a link to copy); relative when the host is unknown."""
    return address_with(str(getattr(st.context, "url", "") or ""), query)


def address_with(url: str, query: Mapping[str, str]) -> str:
    """``url`` with its query string replaced by ``query``; the root keeps its slash, as a browser shows it.

    >>> address_with("http://127.0.0.1:8501", {"view": "abc"})
    'http://127.0.0.1:8501/?view=abc'
    >>> address_with("https://x.example/search?q=old#top", {"q": "a b"})
    'https://x.example/search?q=a+b'
    >>> address_with("", {"view": "abc"})
    '?view=abc'
    """
    from urllib.parse import urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    path = parts.path or ("/" if parts.netloc else "")
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(dict(query)), ""))


__all__ = [
    "DATA",
    "MODEL",
    "PROVIDER",
    "VIEW",
    "address_with",
    "data_reference",
    "follow",
    "from_query",
    "keep_pending",
    "name_saved_view",
    "notice",
    "open_incoming",
    "page_url",
    "parse_rows",
    "shared_state",
    "show_notice",
    "take_pending",
    "to_query",
    "view_store",
]
