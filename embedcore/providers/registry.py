"""One way to get a provider by kind, for the command line, notebooks and the dashboard.

>>> from embedcore.providers.registry import make_provider
>>> provider = make_provider("local")                 # the bundled model, shared cache
>>> provider = make_provider("ionos")                 # token from $IONOS_API_TOKEN
>>> provider = make_provider("custom", base_url="http://127.0.0.1:8000/v1", api_key="")

A token belongs to its endpoint (:mod:`embedcore.providers.endpoints`): ``$IONOS_API_TOKEN`` is only ever
sent to the endpoint it was configured for, never to some other server by accident.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Literal

from embedcore.errors import ConfigurationError
from embedcore.providers import catalog
from embedcore.types import Provider

if TYPE_CHECKING:
    from embedcore.stores.cache import EmbeddingCache, PostgresEmbeddingCache

__all__ = ["PROVIDER_KINDS", "default_cache", "make_provider"]

ProviderKind = Literal["local", "ionos", "custom"]
PROVIDER_KINDS: tuple[str, ...] = ("local", "ionos", "custom")

_CACHES: dict[str, EmbeddingCache | PostgresEmbeddingCache] = {}
_CACHES_LOCK = threading.Lock()


def default_cache() -> EmbeddingCache | PostgresEmbeddingCache:
    """The process-wide embedding cache the environment chooses.

    ``$EMBEDCORE_DATABASE_URL`` set: the shared :class:`PostgresEmbeddingCache` in that database
    (:class:`DatabaseUnavailableError` when it cannot be used — never a fallback to SQLite).
    Otherwise the :class:`EmbeddingCache` at the default location (``$EMBEDCORE_CACHE_DIR`` or
    the user cache dir). Both are read on every call, so a changed environment variable gets
    its own store; one store per location is opened per process.
    """
    from embedcore.stores import storage
    from embedcore.stores.cache import EmbeddingCache, PostgresEmbeddingCache, default_cache_path

    url = storage.configured_url()
    if url is not None:
        database = storage.shared_database(url)
        with _CACHES_LOCK:
            cached = _CACHES.get(repr(database))
            if not isinstance(cached, PostgresEmbeddingCache) or cached.database is not database:
                cached = _CACHES[repr(database)] = PostgresEmbeddingCache(database)
            return cached
    path = str(default_cache_path())
    with _CACHES_LOCK:
        cache = _CACHES.get(path)
        if cache is None:
            cache = _CACHES[path] = EmbeddingCache(path)
        return cache


def make_provider(
    kind: ProviderKind,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    cache: EmbeddingCache | Literal[False] | None = None,
    **client_kwargs: Any,
) -> Provider:
    """A provider of the given kind.

    Parameters
    ----------
    kind : {"local", "ionos", "custom"}
        ``local``: the bundled models (:class:`embedcore.providers.local.LocalModel`).
        ``ionos``: IONOS AI Model Hub; ``custom``: any OpenAI-compatible endpoint
        (:class:`embedcore.providers.client.EmbeddingClient` for both).
    base_url : str, optional
        Required for ``custom``; for ``ionos`` defaults to :data:`catalog.IONOS_BASE_URL`;
        refused for ``local``.
    api_key : str, optional
        ``None``: ``$IONOS_API_TOKEN``, but only to the endpoint it belongs to
        (:func:`embedcore.providers.endpoints.environment_token`; never to some other custom server).
        ``""``: no token at all. Ignored by ``local``.
    cache : EmbeddingCache, None or False
        ``None``: the shared :func:`default_cache`; ``False``: no cache.
        With ``$EMBEDCORE_DATABASE_URL`` set, the API kinds also keep to their rate limit
        through that database, together with every other process using it (even without a cache).
    **client_kwargs
        Passed on: for ``local`` ``device`` and ``batch_size``; for the API kinds any keyword of
        :class:`EmbeddingClient` (``timeout``, ``max_retries``, ``batch_size``, ...).

    Raises
    ------
    ConfigurationError
        An unknown kind, ``custom`` without a URL, ``ionos`` with ``api_key=None`` and no token
        for its URL in the environment, or options the kind does not take.
    """
    if kind not in PROVIDER_KINDS:
        raise ConfigurationError(f"Unknown provider {kind!r}; choose one of: {', '.join(PROVIDER_KINDS)}.")
    store = default_cache() if cache is None else (None if cache is False else cache)

    if kind == "local":
        if base_url:
            raise ConfigurationError(
                "The local provider runs on this machine and takes no base URL; "
                "use the custom provider for a server."
            )
        unknown = sorted(set(client_kwargs) - {"device", "batch_size", "models_dir"})
        if unknown:
            raise ConfigurationError(f"The local provider does not take: {', '.join(unknown)}.")
        from embedcore.providers.local import LocalModel

        return LocalModel(cache=store, **client_kwargs)

    from embedcore.providers.client import EmbeddingClient
    from embedcore.providers.endpoints import TOKEN_ENV, configured_base_url, environment_token

    if kind == "ionos":
        base_url = base_url or catalog.IONOS_BASE_URL
        if api_key is None:
            api_key = environment_token(base_url)
            if not api_key.strip():
                import os

                raise ConfigurationError(
                    f"{TOKEN_ENV} belongs to {configured_base_url()} and is not sent to {base_url}; "
                    "pass the token for that endpoint as api_key."
                    if os.environ.get(TOKEN_ENV, "").strip()
                    else f"IONOS AI Model Hub needs an API token: set the environment variable {TOKEN_ENV}."
                )
    elif not base_url:
        raise ConfigurationError(
            "The custom provider needs the endpoint's base URL, e.g. http://127.0.0.1:8000/v1."
        )
    from embedcore.stores import storage

    if storage.configured_url() is not None and "rate_limit_database" not in client_kwargs:
        client_kwargs["rate_limit_database"] = storage.shared_database()
    return EmbeddingClient(base_url, api_key, cache=store, **client_kwargs)
