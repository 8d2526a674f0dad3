"""Where requests go, and where a token may go: one URL parser decides both.

A base URL is read once, by :func:`normalize_base_url` (the address every request of a client
goes to) and :func:`origin` (scheme, host and port — what a token is bound to); both go through
the same parse, so the two answers can never disagree about which host a URL names.

The rule, written here and nowhere else: **a configured token is sent only to the origin of the
endpoint it was configured for.** ``$IONOS_API_TOKEN`` belongs to ``$EMBEDCORE_BASE_URL`` (by
default the IONOS AI Model Hub); the dashboard binds the operator's token to the ``base_url`` of
its secrets the same way (:func:`token_for`). A token a person types for a URL is theirs to send.
"""

from __future__ import annotations

import os
from urllib.parse import SplitResult, urlsplit

from embedcore.errors import ConfigurationError
from embedcore.providers.catalog import IONOS_BASE_URL

__all__ = [
    "BASE_URL_ENV",
    "TOKEN_ENV",
    "configured_base_url",
    "environment_token",
    "host",
    "normalize_base_url",
    "origin",
    "same_origin",
    "token_for",
]

#: The operator's token, bound to :func:`configured_base_url`.
TOKEN_ENV = "IONOS_API_TOKEN"
#: The endpoint the operator configured (default: the IONOS AI Model Hub).
BASE_URL_ENV = "EMBEDCORE_BASE_URL"

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _parse(url: str) -> tuple[SplitResult, str, int]:
    """``(parts, scheme, port)`` of an http(s) URL; ``ValueError`` for anything else."""
    parts = urlsplit(url.strip())
    port = parts.port  # raises ValueError for a malformed port
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"not http(s): {scheme or '(none)'}")
    return parts, scheme, port if port is not None else _DEFAULT_PORTS[scheme]


def origin(url: str | None) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an http(s) URL, lower-cased, default port filled in; else None.

    >>> origin("https://OpenAI.inference.de-txl.ionos.com/v1")
    ('https', 'openai.inference.de-txl.ionos.com', 443)
    """
    if not url:
        return None
    try:
        parts, scheme, port = _parse(url)
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port


def host(url: str | None) -> str:
    """The host name of an http(s) URL, lower-cased (for labels), or ``""``."""
    found = origin(url)
    return found[1] if found else ""


def same_origin(url_a: str | None, url_b: str | None) -> bool:
    """True when both URLs are http(s) with the same scheme, host and port (the unit a token is bound to)."""
    a = origin(url_a)
    return a is not None and a == origin(url_b)


def normalize_base_url(url: str) -> str:
    """``scheme://host[:port]/path`` without a trailing slash; refuse anything else.

    Scheme and host are lower-cased and a default port dropped, so that equal endpoints
    share one cache namespace. A pasted ``…/embeddings`` or ``…/models`` is cut off.

    Raises
    ------
    ConfigurationError
        Not http(s), no host, a bad port, credentials, a query string or a fragment.
    """
    text = (url or "").strip()
    try:
        parts, scheme, port = _parse(text)
    except ValueError as exc:
        if urlsplit(text).scheme.lower() in _DEFAULT_PORTS:  # the port was the problem
            raise ConfigurationError(f"The base URL {text!r} is not a valid URL ({exc}).") from None
        raise ConfigurationError(
            f"The base URL must start with http:// or https:// (got {text!r}), e.g. {IONOS_BASE_URL}."
        ) from None
    if not parts.hostname:
        raise ConfigurationError(f"The base URL {text!r} has no host name.")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            "The base URL must not contain a user name or password; give the token as the API key."
        )
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ConfigurationError(
            "The base URL must not contain '?' or '#'; give the token as the API key, never in the URL."
        )
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    for suffix in ("/embeddings", "/models"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return f"{scheme}://{host}{path}"


def configured_base_url() -> str:
    """The endpoint the environment configures: ``$EMBEDCORE_BASE_URL``, else the IONOS AI Model Hub."""
    return os.environ.get(BASE_URL_ENV, "").strip() or IONOS_BASE_URL


def token_for(url: str | None, token: str | None, bound_to: str | None) -> str:
    """The configured ``token`` if ``url`` is on the origin of ``bound_to``, else ``""`` (send none).

    Parameters
    ----------
    url : str
        Where the requests would go.
    token : str or None
        A token configured by whoever runs the program (environment, secrets), never one a person
        typed for ``url`` (that one is theirs to send).
    bound_to : str
        The endpoint the token was configured for.
    """
    return (token or "") if same_origin(url, bound_to) else ""


def environment_token(url: str | None) -> str:
    """``$IONOS_API_TOKEN`` when ``url`` is on its endpoint (:func:`configured_base_url`), else ``""``."""
    return token_for(url, os.environ.get(TOKEN_ENV, ""), configured_base_url())
