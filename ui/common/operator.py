"""What whoever runs the app configured: the token, the endpoint it belongs to, the lock.

Read from ``st.secrets`` first, then the environment, on every run (cheap). A token from the
operator is bound to the endpoint it was configured for (``base_url`` in secrets /
``EMBEDCORE_BASE_URL``, default the IONOS AI Model Hub): embedcore's rule
(:func:`embedcore.providers.endpoints.token_for`). ``lock_endpoint = true`` in secrets (or
``EMBEDCORE_LOCK_ENDPOINT=1``) pins the endpoint for hosted use.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from embedcore.errors import ConfigurationError
from embedcore.providers import catalog
from embedcore.providers.endpoints import TOKEN_ENV
from embedcore.providers.registry import kind_at
from ui.common.settings import setting


def app_secret(name: str) -> Any:
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
        """What "OpenAI-compatible URL" starts from: the configured endpoint, "" when that is a
        hosted API with an entry of its own (IONOS).

        Pre-filled here, IONOS's URL greeted the user with IONOS's errors.
        """
        return "" if kind_at(self.base_url) is not None else self.base_url


def operator_settings() -> OperatorSettings:
    """Read the operator's token, endpoint and lock flag; cheap, read on every run."""
    token, source = app_secret(TOKEN_ENV), "secrets"
    if not token:
        token, source = os.environ.get(TOKEN_ENV), "env"
    if not token or not offers_operator_token():  # [budget] tokens_per_visitor_per_day = 0
        token, source = None, None
    base_url = app_secret("base_url") or os.environ.get("EMBEDCORE_BASE_URL") or catalog.IONOS_BASE_URL
    lock = app_secret("lock_endpoint")
    if lock is None:
        lock = app_secret("EMBEDCORE_LOCK_ENDPOINT")
    if lock is None:
        lock = os.environ.get("EMBEDCORE_LOCK_ENDPOINT", "")
    return OperatorSettings(
        token=str(token) if token else None,
        token_source=source,
        base_url=str(base_url).strip(),
        lock_endpoint=_truthy(lock),
    )


def fingerprint(secret: str | None) -> str:
    """A short SHA-256 fingerprint of a key, safe to put in cache keys and logs.

    Examples
    --------
    >>> fingerprint(None)
    'none'
    >>> len(fingerprint("a token")), fingerprint("a token") == fingerprint("a token")
    (16, True)
    """
    if not secret:
        return "none"
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def offers_operator_token() -> bool:
    """False when a ``[budget]`` says visitors may not use the operator's token (a 0, or broken
    settings; the start-of-run check names what is broken)."""
    try:
        budget = setting("budget")
    except ConfigurationError:
        return False
    return budget is None or budget.offered
