"""The provider kinds, registered once, and the one way to make a provider by kind.

A provider kind is a class that answers :class:`embedcore.types.Provider` (``endpoint_id``,
``list_models()``, ``embed()``) plus one :func:`register` call with a :class:`ProviderKind`.
:func:`make_provider`, the command line (``python -m embedcore --provider``) and the dashboard's
sidebar read the kinds from here; no other module lists them.

Kinds from outside this package are registered by a module of their own that calls
:func:`register` when imported, named in ``$EMBEDCORE_PROVIDERS`` (comma-separated module
names): the registry imports them the first time it is asked for its kinds, in every process
that reads them — the command line, the dashboard, a notebook.

>>> from embedcore.providers.registry import make_provider
>>> provider = make_provider("local", cache=False)   # the bundled models
>>> provider.endpoint_id
'local:'
>>> client = make_provider("custom", base_url="http://127.0.0.1:8000/v1", api_key="", cache=False)
>>> client.endpoint_id
'http://127.0.0.1:8000/v1'

A token belongs to its endpoint (:mod:`embedcore.providers.endpoints`): ``$IONOS_API_TOKEN`` is
only ever sent to the endpoint it was configured for, never to some other server by accident.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from embedcore.errors import ConfigurationError
from embedcore.providers import catalog
from embedcore.providers.endpoints import TOKEN_ENV
from embedcore.types import ModelInfo, Provider

if TYPE_CHECKING:
    from embedcore.stores.protocols import VectorCache

__all__ = [
    "PLUGINS_ENV",
    "ProviderKind",
    "default_cache",
    "kind_at",
    "kind_names",
    "make_provider",
    "provider_kind",
    "provider_kinds",
    "register",
]

#: Comma-separated modules to import for the provider kinds they register (see the module doc).
PLUGINS_ENV = "EMBEDCORE_PROVIDERS"
#: The name of the bundled-models kind (the default everywhere it can run).
LOCAL = "local"
#: Where the command line reads a custom endpoint's token. Not IONOS_API_TOKEN: a token belongs
#: to its endpoint.
CUSTOM_TOKEN_ENV = "EMBEDCORE_API_KEY"


@dataclass(frozen=True)
class ProviderKind:
    """One registered kind of provider: what the CLI and the sidebar need to offer it.

    Attributes
    ----------
    name : str
        The value of ``--provider`` and of :func:`make_provider`'s ``kind``.
    display_name : str
        The sidebar's label.
    summary : str
        One phrase for ``--help``.
    create : callable
        ``create(base_url, api_key, cache, **options) -> Provider``: ``base_url`` is the URL
        given (``None`` when none was), ``cache`` a store or ``None`` for no cache. Raises
        :class:`ConfigurationError` for options it does not take.
    default_base_url : str, optional
        The endpoint a hosted API has (``--base-url`` may still name another).
    needs_base_url : bool
        The user must give the endpoint (an OpenAI-compatible server anywhere).
    needs_token : bool
        The endpoint refuses requests without a token.
    token_env : str, optional
        Where the command line reads the token; ``IONOS_API_TOKEN`` is read by the client
        itself, and only for the endpoint it belongs to.
    token_help : str
        What ``--help`` says about the token, after ``token_env``.
    token_howto : str
        Where a person gets a token, said in the sidebar beside the token field.
    default_model : str, optional
        The model the command line uses when none is named (``None``: ``--model`` is required).
    preferred_models : tuple of str
        Tried in this order when the sidebar has no model chosen yet (else the first served).
    catalogue : callable, optional
        ``catalogue() -> list[ModelInfo]``: how the models are listed when no token is given
        yet (a hosted API that refuses an anonymous listing); ``None``: ask the provider.
    available : callable, optional
        ``available() -> bool``: whether it can run on this install (the bundled models need
        PyTorch); ``None``: always.
    """

    name: str
    display_name: str
    summary: str
    create: Callable[..., Provider]
    default_base_url: str | None = None
    needs_base_url: bool = False
    needs_token: bool = False
    token_env: str | None = None
    token_help: str = ""
    token_howto: str = ""
    default_model: str | None = None
    preferred_models: tuple[str, ...] = ()
    catalogue: Callable[[], list[ModelInfo]] | None = None
    available: Callable[[], bool] | None = None

    @property
    def takes_url(self) -> bool:
        """Whether it talks to an endpoint (False: it runs on this machine)."""
        return self.needs_base_url or self.default_base_url is not None

    def is_available(self) -> bool:
        return self.available is None or bool(self.available())


def kind_at(url: str | None) -> ProviderKind | None:
    """The registered hosted API whose endpoint is at ``url``'s origin, or None.

    Examples
    --------
    >>> kind_at("https://openai.inference.de-txl.ionos.com/v1/").name
    'ionos'
    >>> kind_at("http://127.0.0.1:8000/v1") is None
    True
    """
    from embedcore.providers.endpoints import same_origin

    return next(
        (k for k in provider_kinds() if k.default_base_url and same_origin(url, k.default_base_url)), None
    )


_KINDS: dict[str, ProviderKind] = {}
_KINDS_LOCK = threading.Lock()
_LOADED_PLUGINS: set[str] = set()


def register(kind: ProviderKind) -> ProviderKind:
    """Add (or replace) a provider kind; returns it.

    Examples
    --------
    >>> toy = register(ProviderKind("doc-toy", "A toy", "for this example", create=lambda *a, **k: None))
    >>> "doc-toy" in kind_names()
    True
    >>> unregister("doc-toy")
    """
    if not kind.name or not kind.name.replace("-", "").replace("_", "").isalnum():
        raise ConfigurationError(
            f"A provider kind needs a plain name (letters, digits, - or _), not {kind.name!r}."
        )
    with _KINDS_LOCK:
        _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (tests and examples register toys and take them away again)."""
    with _KINDS_LOCK:
        _KINDS.pop(name, None)


def _load_plugins() -> None:
    names = [n.strip() for n in os.environ.get(PLUGINS_ENV, "").split(",") if n.strip()]
    for name in names:
        if name in _LOADED_PLUGINS:
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigurationError(
                f"{PLUGINS_ENV} names {name!r}, which cannot be imported ({exc}); "
                "name a module on the Python path that registers provider kinds."
            ) from None
        _LOADED_PLUGINS.add(name)


def provider_kinds() -> tuple[ProviderKind, ...]:
    """Every registered kind, in registration order (the built-in ones first).

    Examples
    --------
    >>> [kind.name for kind in provider_kinds()][:3]
    ['local', 'ionos', 'custom']
    """
    _load_plugins()
    with _KINDS_LOCK:
        return tuple(_KINDS.values())


def kind_names() -> tuple[str, ...]:
    """The names of :func:`provider_kinds`.

    Examples
    --------
    >>> kind_names()[:3]
    ('local', 'ionos', 'custom')
    """
    return tuple(kind.name for kind in provider_kinds())


def provider_kind(name: str) -> ProviderKind:
    """The registered kind called ``name``.

    Examples
    --------
    >>> provider_kind("ionos").needs_token
    True
    >>> provider_kind("nope")
    Traceback (most recent call last):
    ...
    embedcore.errors.ConfigurationError: Unknown provider 'nope'; choose one of: local, ionos, custom.
    """
    names = kind_names()
    with _KINDS_LOCK:
        kind = _KINDS.get(name)
    if kind is None:
        raise ConfigurationError(f"Unknown provider {name!r}; choose one of: {', '.join(names)}.")
    return kind


def default_cache() -> VectorCache:
    """The process-wide embedding cache the environment chooses (:func:`embedcore.stores.storage.shared_stores`).

    ``$EMBEDCORE_DATABASE_URL`` set: the shared PostgreSQL cache (:class:`DatabaseUnavailableError`
    when it cannot be used — never a fallback to SQLite); otherwise the SQLite file in
    ``$EMBEDCORE_CACHE_DIR`` or the user cache dir. Read on every call: a changed environment
    gets its own store; one store per location is opened per process.
    """
    from embedcore.stores.storage import shared_stores

    return shared_stores().cache


def make_provider(
    kind: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    cache: VectorCache | Literal[False] | None = None,
    **options: Any,
) -> Provider:
    """A provider of a registered kind (:func:`kind_names`).

    Parameters
    ----------
    kind : str
        Built in: ``local``, the bundled models (:class:`embedcore.providers.local.LocalModel`);
        ``ionos``, the IONOS AI Model Hub; ``custom``, any OpenAI-compatible endpoint
        (:class:`embedcore.providers.client.EmbeddingClient` for both).
    base_url : str, optional
        Required for ``custom``; for ``ionos`` defaults to :data:`catalog.IONOS_BASE_URL`;
        refused for ``local``.
    api_key : str, optional
        ``None``: ``$IONOS_API_TOKEN``, but only to the endpoint it belongs to
        (:func:`embedcore.providers.endpoints.environment_token`; never to some other custom server).
        ``""``: no token at all. Ignored by ``local``.
    cache : VectorCache, None or False
        ``None``: the shared :func:`default_cache`; ``False``: no cache; else the store to use
        (the dashboard passes the one its storage settings chose, or an ``UnavailableCache``
        that raises the team database's error on first use).
    **options
        Passed on: for ``local`` ``device``, ``batch_size`` and ``models_dir``; for the API kinds
        any keyword of :class:`EmbeddingClient` (``timeout``, ``max_retries``, ``batch_size``,
        ``rate_limit_database``, ...).

    Raises
    ------
    ConfigurationError
        An unknown kind, ``custom`` without a URL, ``ionos`` with ``api_key=None`` and no token
        for its URL in the environment, or options the kind does not take.

    Examples
    --------
    >>> make_provider("local", base_url="http://127.0.0.1:8000/v1")
    Traceback (most recent call last):
    ...
    embedcore.errors.ConfigurationError: The local provider runs on this machine and takes no base URL; use the custom provider for a server.
    """
    spec = provider_kind(kind)
    store = default_cache() if cache is None else (None if cache is False else cache)
    if base_url and not spec.takes_url:
        raise ConfigurationError(
            f"The {spec.name} provider runs on this machine and takes no base URL; "
            "use the custom provider for a server."
        )
    if spec.needs_base_url and not base_url:
        raise ConfigurationError(
            f"The {spec.name} provider needs the endpoint's base URL, e.g. http://127.0.0.1:8000/v1."
        )
    return spec.create(base_url or spec.default_base_url, api_key, store, **options)


# --- the built-in kinds -----------------------------------------------------------------------


def _create_local(base_url: str | None, api_key: str | None, cache: Any, **options: Any) -> Provider:
    unknown = sorted(set(options) - {"device", "batch_size", "models_dir"})
    if unknown:
        raise ConfigurationError(f"The local provider does not take: {', '.join(unknown)}.")
    from embedcore.providers.local import LocalModel

    return LocalModel(cache=cache, **options)


def _local_available() -> bool:
    from embedcore.providers.local import LocalModel

    return bool(LocalModel().runnable_models())


def _create_client(base_url: str | None, api_key: str | None, cache: Any, **options: Any) -> Provider:
    from embedcore.providers.client import EmbeddingClient
    from embedcore.stores import storage

    if storage.configured_url() is not None and "rate_limit_database" not in options:
        options["rate_limit_database"] = storage.shared_database()
    return EmbeddingClient(base_url, api_key, cache=cache, **options)


def _create_ionos(base_url: str | None, api_key: str | None, cache: Any, **options: Any) -> Provider:
    from embedcore.providers.endpoints import configured_base_url, environment_token

    base_url = base_url or catalog.IONOS_BASE_URL
    if api_key is None:
        api_key = environment_token(base_url)
        if not api_key.strip():
            raise ConfigurationError(
                f"{TOKEN_ENV} belongs to {configured_base_url()} and is not sent to {base_url}; "
                "pass the token for that endpoint as api_key."
                if os.environ.get(TOKEN_ENV, "").strip()
                else f"IONOS AI Model Hub needs an API token: set the environment variable {TOKEN_ENV}."
            )
    return _create_client(base_url, api_key, cache, **options)


#: API models tried in this order when the user has not chosen one yet.
_PREFERRED_API_MODELS = (
    "BAAI/bge-m3",
    "sentence-transformers/paraphrase-multilingual-mpnet-base-v2",
    "BAAI/bge-large-en-v1.5",
)

register(
    ProviderKind(
        LOCAL,
        "Bundled offline model (all-MiniLM-L6-v2)",
        "the bundled model on this machine (default)",
        create=_create_local,
        default_model=catalog.MINILM_ID,
        preferred_models=(catalog.MINILM_ID,),
        available=_local_available,
    )
)
register(
    ProviderKind(
        "ionos",
        "IONOS AI Model Hub",
        "IONOS AI Model Hub",
        create=_create_ionos,
        default_base_url=catalog.IONOS_BASE_URL,
        needs_token=True,
        token_env=TOKEN_ENV,
        token_howto="IONOS Data Center Designer → Management → Token Manager",
        preferred_models=_PREFERRED_API_MODELS,
        catalogue=lambda: catalog.api_models(served=False),
    )
)
register(
    ProviderKind(
        "custom",
        "OpenAI-compatible URL",
        "any OpenAI-compatible endpoint (needs --base-url)",
        create=_create_client,
        needs_base_url=True,
        token_env=CUSTOM_TOKEN_ENV,
        token_help=f"(optional; {TOKEN_ENV} is never sent to a custom server)",
        preferred_models=_PREFERRED_API_MODELS,
    )
)
