"""The provider behind a connection, the models it serves, and why nothing can be embedded yet.

The shared provider objects themselves are cached in :mod:`ui.common.cached` (one per kind,
endpoint, token fingerprint and storage); this module picks which one and lists its models.
"""

from __future__ import annotations

import time

import streamlit as st

from embedcore.errors import APIConnectionError, AuthenticationError, EmbedcoreError
from embedcore.providers.registry import kind_at
from embedcore.types import ModelInfo, Provider
from ui.common import cached
from ui.common.provider_choice import Connection, current_connection, kind_available
from ui.common.storage import cache_max_mb, current_storage

#: Seconds a failed listing is shown again before the endpoint is asked again.
LISTING_RETRY_AFTER = 20.0
#: ``{(endpoint_id, key fingerprint): (when, error)}`` of this session's failed listings.
LISTING_FAILURES = "_conn_listing_failures"


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
    if not conn.spec.takes_url:
        return cached.local_provider(storage.key, cap, _storage=storage, kind=conn.kind)
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
    spec = conn.spec
    if spec.catalogue is not None and not conn.api_key:
        # A hosted API that refuses a listing without a token (401): describe its models from
        # the catalogue instead of greeting a first-time visitor with an error.
        return spec.catalogue()
    provider = get_provider(conn)
    if not spec.takes_url:  # only what can run here, never a failing offer
        return [m for m in provider.list_models() if m.served]
    failures: dict = st.session_state.setdefault(LISTING_FAILURES, {})
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

    A hosted API that needs a token (IONOS) answers every request without one with 401; any
    other endpoint is known to want one once it refused this session's model listing with 401.
    Pages disable their Embed buttons with this message instead of letting a click retry into
    an error.
    """
    conn = connection or current_connection()
    if not conn.spec.takes_url:
        return None
    if not conn.base_url:
        return "**Type the base URL of the API** in the sidebar (e.g. `http://localhost:8000/v1`) to embed with it."
    unreachable = _unreachable(conn)
    if unreachable:
        return unreachable
    if conn.api_key:
        return None
    hosted = kind_at(conn.base_url)
    if hosted is not None and hosted.needs_token:
        where = f" ({hosted.token_howto})" if hosted.token_howto else ""
        return (
            f"**Embedding with the {hosted.display_name} needs an API token.** Paste it in the sidebar under "
            f'**API token**{where}, or put `{hosted.token_env} = "…"` in `.streamlit/secrets.toml` — '
            "or set it in the environment — and restart the app."
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
    failed = st.session_state.get(LISTING_FAILURES, {}).get((endpoint_id, conn.key_fingerprint))
    return None if failed is None else failed[1]


def _unreachable(conn: Connection) -> str | None:
    """Why Embed is off while this session's last listing of ``conn``'s endpoint could not reach it."""
    if isinstance(_last_listing_failure(conn), APIConnectionError):
        return (
            "**The endpoint cannot be reached**, so there is nothing to embed with: the sidebar says why. "
            "Fix the base URL there, then press **Test connection**."
        )
    return None


def check_connection(connection: Connection | None = None) -> tuple[float, list[ModelInfo]]:
    """``(latency_seconds, served models)`` — one uncached round trip."""
    provider = get_provider(connection)
    if hasattr(provider, "check_connection"):
        return provider.check_connection()
    start = time.perf_counter()
    models = provider.list_models()
    return time.perf_counter() - start, list(models)


def can_list(conn: Connection) -> bool:
    """Whether ``conn``'s models can be asked for now (a kind on this machine must be able to run)."""
    return conn.spec.takes_url or kind_available(conn.spec)
