"""Session-state keys shared by the pages, and their defaults.

Shared settings live under the plain keys below; a page's own widgets use keys
prefixed with the page name (``embed_…``, ``explorer_…``) so pages never
trample each other's state.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

#: :class:`embedcore.io.TextTable` — the texts every page works on.
TEXTS = "texts"
#: ``{"kind": "sample"|"paste"|"upload"|"table", "name": str}`` — where :data:`TEXTS` came from.
TEXTS_ORIGIN = "texts_origin"
#: The last pasted text (kept so the paste box survives page switches).
TEXTS_PASTE = "texts_paste"
#: ``"local"`` (bundled offline model), ``"ionos"`` (IONOS AI Model Hub) or ``"custom"`` (any URL).
PROVIDER_KIND = "provider_kind"
#: Base URL typed for the ``"custom"`` provider.
BASE_URL = "base_url"
#: The selected model id (``None`` until the connection panel picks the provider's default).
MODEL = "model"
#: ``{result_key: EmbeddingResult}`` — recent results, so page switches and errors lose nothing.
RESULTS = "results"

DEFAULT_SAMPLE = "topics"


#: ``{base key: generation}`` of the widgets :func:`reset_widget` started afresh.
_WIDGET_GENERATIONS = "_widget_generations"


def widget_key(base: str) -> str:
    """The key a resettable widget is drawn with now: ``base``, then ``base-1``, ``base-2`` …

    A file uploader keeps its file chips in the browser for as long as its key lives; setting
    its session state is refused. A new key is the one way to empty it from the server.
    """
    generation = st.session_state.get(_WIDGET_GENERATIONS, {}).get(base, 0)
    return f"{base}-{generation}" if generation else base


def reset_widget(base: str) -> None:
    """Draw widget ``base`` afresh on the next run: empty, with its default value."""
    st.session_state.pop(widget_key(base), None)
    generations = st.session_state.setdefault(_WIDGET_GENERATIONS, {})
    generations[base] = generations.get(base, 0) + 1


def seed(key: str, value: Any) -> None:
    """Give a widget its starting value through session state (no ``value=``/``default=``).

    Setting both a default and session state makes Streamlit warn; seeding once keeps the
    user's choice afterwards.
    """
    if key not in st.session_state:
        st.session_state[key] = value


def seed_within(key: str, value: int, low: int, high: int) -> None:
    """:func:`seed`, then keep a remembered value inside ``[low, high]``.

    The bounds of some inputs depend on the texts (at most n results). Streamlit resets a
    value outside the bounds to the minimum (15 pairs would become 1 on a 3-text set); the
    nearest allowed value is what the user meant.
    """
    seed(key, value)
    current = st.session_state[key]
    if isinstance(current, (int, float)) and not low <= current <= high:
        st.session_state[key] = min(max(current, low), high)


def follow_default(key: str, value: Any) -> None:
    """:func:`seed`, and keep following ``value`` while the user has not changed it.

    For a default that depends on the texts (HDBSCAN's smallest cluster grows with them): a
    value the user set stays; one they never touched moves with the data.
    """
    auto_key = f"{key}__default"
    ss = st.session_state
    if key not in ss or ss[key] == ss.get(auto_key):
        ss[key] = value
    ss[auto_key] = value
