"""Session-state keys shared by the pages, and their defaults.

Shared settings live under the plain keys below; a page's own widgets use keys
prefixed with the page name (``embed_…``, ``explorer_…``) so pages never
trample each other's state.
"""

from __future__ import annotations

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


def init_state() -> None:
    """Fill in the shared defaults once per session; later calls change nothing.

    A new user starts on the bundled offline model (or the API when the model is not
    installed here) with the ``topics`` sample set loaded, so every page shows
    something before anything is typed.
    """
    # Imported here: ui.common.connection imports this module for the key names.
    from ui.common import connection

    ss = st.session_state
    if PROVIDER_KIND not in ss:
        ss[PROVIDER_KIND] = "local" if connection.local_available() else "ionos"
    if BASE_URL not in ss:
        ss[BASE_URL] = connection.operator_settings().custom_url
    ss.setdefault(MODEL, None)
    ss.setdefault(RESULTS, {})
    ss.setdefault(TEXTS_PASTE, "")
    if TEXTS not in ss:
        from ui.common.cached import sample_table

        ss[TEXTS] = sample_table(DEFAULT_SAMPLE)
        ss[TEXTS_ORIGIN] = {"kind": "sample", "name": DEFAULT_SAMPLE}


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
