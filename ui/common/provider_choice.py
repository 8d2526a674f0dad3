"""Which provider kind and endpoint this run uses: the kinds offered, and the connection in effect.

The kinds come from :mod:`embedcore.providers.registry` and nothing here names one: a kind
that runs on this machine (no URL) is offered where it can run, a hosted API at its own
endpoint, an OpenAI-compatible kind at the URL typed. With a locked endpoint (hosted use) the
kinds on this machine and that one endpoint are offered, nothing else.

Keys never enter a cache key, a repr or the page: :class:`Connection` keeps the key out of its
repr and offers :attr:`Connection.key_fingerprint` for keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import streamlit as st

from embedcore.memo import Memo
from embedcore.providers.endpoints import host, token_for
from embedcore.providers.registry import (
    LOCAL,
    ProviderKind,
    kind_at,
    kind_names,
    provider_kind,
    provider_kinds,
)
from ui.common import state
from ui.common.format import md_escape
from ui.common.operator import OperatorSettings, fingerprint, operator_settings

#: Where a typed key is kept between runs (this session only; never rendered).
TYPED_KEY = "_conn_typed_api_key"
#: The sidebar's model select (its value lives on under :data:`ui.common.state.MODEL`).
MODEL_WIDGET = "conn_model"

#: Seconds a check of what can run here is trusted: asked a dozen times a run (~1 ms each: file
#: and package lookups); packages change with a restart only, and a static model built meanwhile
#: shows up on the next check.
INSTALL_CHECK_TTL = 5.0
#: ``(what, name, time bucket)`` -> the answer; one bucket's answers at most.
_INSTALL = Memo(maxsize=16)


def forget_install_checks() -> None:
    """Check again what can run here on the next question (tests that remove packages call it)."""
    _INSTALL.clear()


def _install_check(what: str, name: str, compute):
    bucket = int(time.monotonic() // INSTALL_CHECK_TTL)
    return _INSTALL.get_or_compute((what, name, bucket), compute)


def local_models() -> list[str]:
    """The bundled models that can run here (:meth:`embedcore.LocalModel.runnable_models`).

    The one rule for every page and the sidebar: a bundled model not in this list is not
    offered. Empty on an API-only install (``requirements.txt`` alone: no PyTorch).
    """

    def runnable() -> list[str]:
        try:
            from embedcore.providers.local import LocalModel

            return LocalModel().runnable_models()
        except Exception:  # a broken install offers no local model rather than failing every page
            return []

    return list(_install_check("models", LOCAL, runnable))


def local_available() -> bool:
    """Can any bundled model run here (:func:`local_models`)?"""
    return bool(local_models())


def kind_available(kind: ProviderKind) -> bool:
    """Whether ``kind`` can run on this install (the bundled models: :func:`local_available`)."""
    if kind.name == LOCAL:
        return local_available()

    def check() -> bool:
        try:
            return kind.is_available()
        except Exception:  # a kind that cannot tell is not offered rather than failing every page
            return False

    return bool(_install_check("kind", kind.name, check))


def kind_or_default(name: str | None) -> ProviderKind:
    """The registered kind ``name``, else the first registered (a session may hold a kind no longer offered)."""
    return provider_kind(name) if name in kind_names() else provider_kinds()[0]


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

    @property
    def spec(self) -> ProviderKind:
        """The registered kind (:class:`embedcore.providers.registry.ProviderKind`)."""
        return provider_kind(self.kind)


def locked_kinds(settings: OperatorSettings) -> tuple[str, ...]:
    """With a locked endpoint: the kinds on this machine, then the one kind for that endpoint."""
    here = [k.name for k in provider_kinds() if not k.takes_url]
    hosted = kind_at(settings.base_url)
    any_url = next((k for k in provider_kinds() if k.needs_base_url), None)
    endpoint = hosted or any_url
    return tuple(here + ([endpoint.name] if endpoint is not None else []))


def allowed_kinds(settings: OperatorSettings | None = None) -> tuple[str, ...]:
    """Provider kinds offered: with a locked endpoint, the kinds on this machine and that endpoint only.

    A kind on this machine only where it can run (:func:`kind_available`): an API-only install
    (Streamlit Community Cloud) offers its API alone.
    """
    settings = settings or operator_settings()
    kinds = locked_kinds(settings) if settings.lock_endpoint else kind_names()
    return tuple(k for k in kinds if kind_available(provider_kind(k)))


def offered_kind(kind: str | None, kinds: tuple[str, ...]) -> str:
    """``kind`` when it is offered, else the kind to fall back on: a kind on this machine for one, else an API."""
    if kind in kinds:
        return kind
    if not kind or (kind in kind_names() and not provider_kind(kind).takes_url):
        return kinds[0]
    return next((k for k in kinds if provider_kind(k).takes_url), kinds[0])


def current_connection() -> Connection:
    """Resolve provider kind, URL and key from session state and the operator's settings."""
    settings = operator_settings()
    ss = st.session_state
    kind = offered_kind(ss.get(state.PROVIDER_KIND, LOCAL), allowed_kinds(settings))
    spec = provider_kind(kind)
    if not spec.takes_url:
        return Connection(kind=kind, base_url=None)

    if settings.lock_endpoint:
        url = settings.base_url
    elif not spec.needs_base_url:
        url = spec.default_base_url
    else:
        url = str(ss.get(state.BASE_URL) or "").strip()

    typed = ss.get(TYPED_KEY) or None
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


def default_model(model_ids: list[str], kind: str) -> str | None:
    """The model to start with for a provider kind, given what it serves: its first preferred one served, else the first."""
    if not model_ids:
        return None
    return next((m for m in kind_or_default(kind).preferred_models if m in model_ids), model_ids[0])


def current_model() -> str:
    """The selected model id (the provider's first preferred model until the user picks one)."""
    model = st.session_state.get(state.MODEL)
    if model:
        return model
    preferred = kind_or_default(st.session_state.get(state.PROVIDER_KIND, LOCAL)).preferred_models
    return preferred[0] if preferred else ""


def set_model(model_id: str) -> None:
    """Choose ``model_id`` for every page; safe in a widget callback (``on_change=``).

    Outside a callback, call it before the sidebar is drawn (Streamlit refuses to change a
    drawn widget's value in the same run).
    """
    st.session_state[state.MODEL] = model_id
    st.session_state[MODEL_WIDGET] = model_id


def init_state() -> None:
    """Fill in the shared defaults once per session; later calls change nothing.

    A new user starts on the bundled offline model (or the first hosted API the registry names
    when the model is not installed here) with the ``topics`` sample set loaded, so every page
    shows something before anything is typed.
    """
    from ui.common.cached import sample_table

    ss = st.session_state
    if state.PROVIDER_KIND not in ss:
        hosted = next((k.name for k in provider_kinds() if k.default_base_url), LOCAL)
        ss[state.PROVIDER_KIND] = LOCAL if local_available() else hosted
    if state.BASE_URL not in ss:
        ss[state.BASE_URL] = operator_settings().custom_url
    ss.setdefault(state.MODEL, None)
    ss.setdefault(state.RESULTS, {})
    ss.setdefault(state.TEXTS_PASTE, "")
    if state.TEXTS not in ss:
        ss[state.TEXTS] = sample_table(state.DEFAULT_SAMPLE)
        ss[state.TEXTS_ORIGIN] = {"kind": "sample", "name": state.DEFAULT_SAMPLE}
