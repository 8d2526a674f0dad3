"""The semantic-search page behind a link: what its URL says, and a link's settings put back.

The page's part of a link (:mod:`ui.common.links` carries the shared part: texts, provider,
model) is the selected collection, the map's projection method and — only once a search was
made — the query, how many results it asked for and, when it is not the best one, the result
read in full (``hit``: its rank; 0 when none is)::

    /search?collection=Sample%3A+five+topics&method=umap&q=football&k=4&hit=2

Only the *last search* of the collection is in the URL, never the form's unsubmitted text:
the URL says what the page shows, and a link reopens exactly that. Opening such a link selects
the collection, fills the form and runs the query once, through the page's own Search path
(its embedding comes from the shared cache), so the results and the outlined points are there
without a click. A query longer than :data:`INLINE_QUERY` characters is stored beside the
views and named by its digest (``q=~<sha256>``), so the URL stays short — only when the
operator's ``link_texts`` is ``always``: otherwise such a query (and its ``k``) is left out.

The page calls :func:`restore` before its widgets are drawn, :func:`take_search` where the
Search button is read, and :func:`follow` (or :func:`stop`) when its run ends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import streamlit as st

from embedcore.errors import EmbedcoreError, ViewDataMissingError
from ui.common import link_texts, links
from ui.common.cached import cached_projection
from ui.common.errors import friendly_errors
from ui.common.format import md_escape
from ui.common.methods import scalable_methods
from ui.search import keys, results

if TYPE_CHECKING:
    import numpy as np

    from embedcore.stores.collections import CollectionInfo

logger = logging.getLogger(__name__)

#: The page's name in links (its URL path).
PAGE = "search"
#: The page's query parameters.
COLLECTION, QUERY, K, METHOD, HIT = "collection", "q", "k", "method", "hit"
#: A longer query (or one that starts with ``~``) is stored and named by digest in the URL.
INLINE_QUERY = 300
#: The form's bounds for the number of results (a link's ``k`` is held to them).
MIN_K, MAX_K = 1, 50


# --- the page's state <-> its URL ---------------------------------------------------------------


def _query_reference(query: str) -> str | None:
    """``query`` as the URL carries it: itself, or ``~<digest>`` when long (None: cannot be stored)."""
    if len(query) <= INLINE_QUERY and not query.startswith("~"):
        return query
    if link_texts.mode() != link_texts.ALWAYS:  # a typed text: this page has no "make a link"
        return None
    stored = st.session_state.setdefault(keys.LINK_QUERIES, {})
    if query not in stored:
        try:
            digest = links.view_store().put_texts([query])
        except (EmbedcoreError, ValueError) as exc:  # the database is down: no q, logged once
            logger.warning("a long query for a link not stored: %s", type(exc).__name__)
            return None
        stored.clear()  # only the query on screen
        stored[query] = digest
    return "~" + stored[query]


def page_state(
    info: CollectionInfo | None, method: str | None = None, shown: int | None = 0
) -> dict[str, Any]:
    """The page's part of its link: the collection, the map's method, its last search's query, k
    and the result ``shown`` in full (a position, best first; None: none)."""
    if info is None:
        return {}
    found: dict[str, Any] = {COLLECTION: info.name, METHOD: method}
    last = results.last_search(info)
    if last is not None:
        query = _query_reference(last[0].query)
        if query is not None:
            found.update({QUERY: query, K: last[1]})
            if shown != 0:  # the best hit is what a new grid shows anyway
                found[HIT] = 0 if shown is None else shown + 1
    return found


def linked_query(text: object) -> str | None:
    """A link's ``q`` as the form's text: itself, or the stored query ``~<digest>`` names.

    Raises
    ------
    ViewDataMissingError
        The stored query is gone (pruned, or stored on another deployment).
    """
    if text is None or str(text) == "":
        return None
    text = str(text)
    if not text.startswith("~"):
        return text
    digest = text[1:]
    try:
        texts, _labels = links.view_store().texts(digest)
    except ViewDataMissingError as exc:
        raise ViewDataMissingError(
            f"The query this link searched for (digest {digest[:12]}…) is no longer stored here: "
            "deleted, or the link was made on another deployment. The rest of the link is open.",
            what="texts",
            digest=digest,
        ) from exc
    return str(texts[0]) if texts else None


def linked_k(text: object) -> int | None:
    """A link's ``k`` as the form's number, held to ``MIN_K..MAX_K``; None when it is no number."""
    try:
        return min(MAX_K, max(MIN_K, int(str(text))))
    except ValueError:
        return None


def linked_hit(text: object) -> int | None:
    """A link's ``hit`` (a rank, 1 the best; 0: none read in full) as the grid's row; the first when
    it is no number."""
    try:
        rank = int(str(text))
    except ValueError:
        return 0
    return None if rank <= 0 else rank - 1


def linked_method(text: object) -> str | None:
    """A link's ``method`` when the map offers it here, else None."""
    return str(text) if text is not None and str(text) in scalable_methods(fast_first=True) else None


# --- opening a link -----------------------------------------------------------------------------------


def restore(store) -> None:
    """Put the link just opened (if any) into the page's widgets; call before they are drawn.

    The collection is selected the way an action selects one (``keys.PENDING``, see
    :func:`ui.search.widgets.start_run`), the form and the radio are seeded, and a linked query
    is searched once on this run (:func:`take_search`). A collection that is not here is said
    once, and the page opens as usual.
    """
    links.show_notice()
    pending = links.take_pending(PAGE)
    if pending is None:
        return
    with friendly_errors():
        _restore(store, pending.get("state") or {}, pending)


def _restore(store, linked: Mapping[str, Any], pending: Mapping[str, Any]) -> None:
    ss = st.session_state
    try:
        query = linked_query(linked.get(QUERY))
    except ViewDataMissingError as exc:
        query = None
        st.info(md_escape(str(exc)), icon=":material/link_off:")
    k, method = linked_k(linked.get(K)), linked_method(linked.get(METHOD))
    if query is not None:
        ss[keys.QUERY] = query
    if k is not None:
        ss[keys.K] = k
    if method is not None:
        ss[keys.PROJECTION] = method
    name = linked.get(COLLECTION)
    if not name:
        return
    name = str(name)
    if not store.exists(name):
        st.info(
            f"This link's collection **{md_escape(name)}** is not here: it was deleted, or made on "
            "another deployment."
            # The form is drawn only beside a collection: its query waits there when there is one.
            + (
                " Its query is in the box below; choose a collection and press Search."
                if query and store.list()
                else ""
            ),
            icon=":material/link_off:",
        )
        return
    ss[keys.PENDING] = name
    if query is not None:
        ss[keys.LINK_SEARCH] = name
        if linked.get(HIT) is not None:
            ss[keys.LINK_HIT] = {"row": linked_hit(linked[HIT])}
    coordinates = pending.get("coordinates")
    if coordinates is not None and method is not None:
        ss[keys.LINK_MAP] = {"collection": name, "method": method, "coordinates": coordinates}


def take_search(info: CollectionInfo) -> bool:
    """Whether a link's query is to be searched now, in ``info`` (once: the request is dropped)."""
    return st.session_state.pop(keys.LINK_SEARCH, None) == info.name


def take_hit() -> int | None:
    """The result a link reads in full (a row of the grid its search draws; None: none), once."""
    kept = st.session_state.pop(keys.LINK_HIT, None)
    return 0 if kept is None else kept["row"]


def map_coordinates(info: CollectionInfo, method: str, vectors: np.ndarray) -> np.ndarray:
    """The map's coordinates: a saved view's own while its collection and method are on screen,
    else the projection (cached across sessions)."""
    kept = st.session_state.get(keys.LINK_MAP)
    if kept is not None:
        coordinates = kept["coordinates"]
        shape = getattr(coordinates, "shape", ())
        if kept["collection"] == info.name and kept["method"] == method and shape == (len(vectors), 2):
            return coordinates
        st.session_state.pop(keys.LINK_MAP, None)  # something else is on screen now: for good
    return cached_projection(vectors, method)


# --- following the page -------------------------------------------------------------------------------


def follow(info: CollectionInfo | None, method: str | None = None, shown: int | None = 0) -> None:
    """Make the address bar say what the page shows (written only when it changed)."""
    # A saved view just opened is named by the URL until something is changed (ui.common.links).
    links.follow(PAGE, {**links.shared_state(), **page_state(info, method, shown)})


def stop(info: CollectionInfo | None = None) -> NoReturn:
    """:func:`follow`, then end the run (the page has nothing more to draw)."""
    follow(info)
    st.stop()
