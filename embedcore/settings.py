"""The hosted app's settings sections (``[auth]``, ``[access]``, ...), checked before anything opens.

The dashboard reads these from Streamlit's secrets; nothing here needs Streamlit, so the same
checks run in a notebook, from the command line or in a unit test on a plain ``dict``.

One function per section, listed in :data:`SECTIONS`: ``check_<section>(section, secrets)``
gets the section's value (``None`` when it is absent) and the whole mapping (for rules that
span sections), and returns what the app needs from it or raises :class:`SettingsError`
naming the key. :func:`check_settings` runs them all. A wrong setting is never skipped: an
``[auth]`` the app could not use would otherwise leave the app open to anyone, silently.

Messages name keys and say what to write; they never repeat a value (``cookie_secret`` and
``client_secret`` are secrets).
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from importlib import metadata
from typing import Any
from urllib.parse import urlparse

from embedcore.errors import ConfigurationError, SettingsError
from embedcore.stores.cache_rules import CACHE_MAX_MB_ENV, parse_max_mb
from embedcore.stores.database import DATABASE_URL_ENV

__all__ = [
    "ENV_PREFIX",
    "LINK_TEXTS_ENV",
    "LINK_TEXTS_MODES",
    "SECTIONS",
    "AccessDecision",
    "AccessRules",
    "AuthSettings",
    "BudgetSettings",
    "authlib_version",
    "budget_from_env",
    "check_access",
    "check_auth",
    "check_budget",
    "check_cache_max_mb",
    "check_database_url",
    "check_link_texts",
    "check_section",
    "check_settings",
]

#: Environment alternative of the ``[budget]`` secrets: ``EMBEDCORE_BUDGET_TOKENS_PER_DAY``, ...
ENV_PREFIX = "EMBEDCORE_BUDGET_"

#: Streamlit's ``st.login`` needs this Authlib or newer (``streamlit.auth_util.is_authlib_installed``).
MIN_AUTHLIB = (1, 3, 2)
#: Every identity provider needs these three (Streamlit's ``validate_auth_credentials``).
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
#: Shorter cookie secrets are refused: Streamlit only logs a warning below 14 bytes, and a
#: guessable secret lets anyone forge the sign-in cookie. ``secrets.token_hex(32)`` gives 64.
MIN_COOKIE_SECRET = 32
#: Where Streamlit receives the provider's answer; ``redirect_uri`` must end with it.
CALLBACK_PATH = "/oauth2callback"
#: What ``[auth]`` itself may hold besides named provider sections.
_AUTH_OPTIONAL = ("client_kwargs", "expose_tokens")
ACCESS_KEYS = ("allowed_emails", "allowed_domains", "admins")

_GENERATE_SECRET = 'python -c "import secrets; print(secrets.token_hex(32))"'
_DETECT = object()


@functools.cache  # 0.6 ms a look-up, and the gate checks the settings on every script run
def authlib_version() -> str | None:
    """The installed Authlib's version, or None when it is not installed (looked up once per process)."""
    try:
        return metadata.version("Authlib")
    except metadata.PackageNotFoundError:
        return None


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


# --- [auth] ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthSettings:
    """A usable ``[auth]`` section: sign-in is required.

    Attributes
    ----------
    providers : tuple of str
        What ``st.login`` takes: ``"default"`` for the keys in ``[auth]`` itself, else the names
        of the ``[auth.<name>]`` sections, in the order they were written.
    """

    providers: tuple[str, ...]


def _text(value: Any, key: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(key, f"{key} in the app's secrets must be {what}.")
    return value.strip()


def _absolute_url(value: str, key: str, example: str) -> None:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(
            key, f"{key} in the app's secrets must be an absolute http(s) address, like {example}."
        )


def _check_provider(section: Mapping[str, Any], prefix: str) -> None:
    """``client_id``, ``client_secret`` and ``server_metadata_url`` of one provider."""
    missing = [name for name in PROVIDER_KEYS if name not in section]
    if missing:
        names = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} or {missing[-1]}"
        raise SettingsError(
            f"{prefix}.{missing[0]}",
            f"[{prefix}] in the app's secrets has no {names}: copy {'it' if len(missing) == 1 else 'them'} "
            "from the app's registration at your identity provider (server_metadata_url is the "
            "provider's discovery document, ending in /.well-known/openid-configuration).",
        )
    _text(section["client_id"], f"{prefix}.client_id", "the client id your identity provider issued")
    _text(
        section["client_secret"], f"{prefix}.client_secret", "the client secret your identity provider issued"
    )
    url = _text(section["server_metadata_url"], f"{prefix}.server_metadata_url", "an address")
    _absolute_url(
        url,
        f"{prefix}.server_metadata_url",
        "https://accounts.google.com/.well-known/openid-configuration",
    )


def check_auth(section: Any, secrets: Mapping[str, Any], *, authlib: Any = _DETECT) -> AuthSettings | None:
    """Check Streamlit's ``[auth]`` section; None when it is absent (the app stays open).

    Parameters
    ----------
    section : mapping or None
        ``secrets["auth"]``.
    secrets : mapping
        All settings (unused here; every section check takes them).
    authlib : str or None, optional
        The installed Authlib version; detected when not given (tests pass None for "missing").

    Raises
    ------
    SettingsError
        The first problem, naming its key: a missing ``redirect_uri``, ``cookie_secret`` or
        provider key, a ``redirect_uri`` that does not end in ``/oauth2callback``, a short
        cookie secret, no provider at all, or Authlib missing or too old.
    """
    if section is None:
        return None
    if not isinstance(section, Mapping):
        raise SettingsError(
            "auth",
            "auth in the app's secrets must be a section, [auth], holding redirect_uri, cookie_secret "
            "and the identity provider's client_id, client_secret and server_metadata_url.",
        )
    if "redirect_uri" not in section:
        raise SettingsError(
            "auth.redirect_uri",
            "[auth] in the app's secrets has no redirect_uri: set it to this app's address followed by "
            f"{CALLBACK_PATH}, like https://your-app.example.com{CALLBACK_PATH}.",
        )
    redirect = _text(section["redirect_uri"], "auth.redirect_uri", "this app's address")
    _absolute_url(redirect, "auth.redirect_uri", f"https://your-app.example.com{CALLBACK_PATH}")
    if not redirect.endswith(CALLBACK_PATH):  # Streamlit's own test (auth_util)
        raise SettingsError(
            "auth.redirect_uri",
            f"auth.redirect_uri in the app's secrets must end in {CALLBACK_PATH} (where Streamlit "
            f"receives the sign-in), like https://your-app.example.com{CALLBACK_PATH}; register the "
            "same address at your identity provider.",
        )
    if "cookie_secret" not in section:
        raise SettingsError(
            "auth.cookie_secret",
            "[auth] in the app's secrets has no cookie_secret: set it to a long random string "
            f"({_GENERATE_SECRET}); it signs the sign-in cookie.",
        )
    cookie_secret = _text(section["cookie_secret"], "auth.cookie_secret", "a long random string")
    if len(cookie_secret) < MIN_COOKIE_SECRET:
        raise SettingsError(
            "auth.cookie_secret",
            f"auth.cookie_secret in the app's secrets is shorter than {MIN_COOKIE_SECRET} characters, "
            f"short enough to guess and forge a sign-in: use {_GENERATE_SECRET}.",
        )
    expose = section.get("expose_tokens")
    if expose is not None:
        tokens = [expose] if isinstance(expose, str) else expose
        if not isinstance(tokens, list) or not set(tokens) <= {"id", "access"}:
            raise SettingsError(
                "auth.expose_tokens",
                'auth.expose_tokens in the app\'s secrets may only hold "id" and "access".',
            )

    named = [
        name for name, value in section.items() if isinstance(value, Mapping) and name not in _AUTH_OPTIONAL
    ]
    providers: list[str] = []
    if any(name in section for name in PROVIDER_KEYS) or not named:
        _check_provider(section, "auth")
        providers.append("default")
    for name in named:
        if "_" in name or name == "default":
            raise SettingsError(
                f"auth.{name}",
                f"[auth.{name}] in the app's secrets: Streamlit cannot sign in through a provider named "
                f"{name!r} (no underscores, not 'default'); rename the section, e.g. [auth.{name.replace('_', '')}].",
            )
        _check_provider(section[name], f"auth.{name}")
        providers.append(name)

    version = authlib_version() if authlib is _DETECT else authlib
    if version is None or _version_tuple(version) < MIN_AUTHLIB:
        found = "is not installed" if version is None else f"is {version}"
        raise SettingsError(
            "auth",
            f"Sign-in ([auth] in the app's secrets) needs the Authlib package, version "
            f"{'.'.join(map(str, MIN_AUTHLIB))} or newer, which {found}: pip install -r requirements.txt.",
        )
    return AuthSettings(providers=tuple(providers))


# --- [access] --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessDecision:
    """Whether a signed-in person may enter, and if not, why (a sentence for them)."""

    allowed: bool
    reason: str = ""


@dataclass(frozen=True)
class AccessRules:
    """``[access]``: who may enter once signed in, and who administers the app.

    Addresses and domains are lower-cased. A domain admits addresses at exactly that domain
    (``example.com`` admits ``ana@example.com``, not ``ana@mail.example.com``). Without
    ``allowed_emails`` and ``allowed_domains`` anyone who signs in may enter; admins always may.
    """

    allowed_emails: frozenset[str] = frozenset()
    allowed_domains: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()

    @property
    def restricted(self) -> bool:
        """True when an allow list exists (else any signed-in person may enter)."""
        return bool(self.allowed_emails or self.allowed_domains)

    def is_admin(self, email: str | None) -> bool:
        return bool(email) and email.strip().lower() in self.admins

    def decide(self, email: str | None, *, email_verified: bool | None = None) -> AccessDecision:
        """May the person signed in as ``email`` enter?

        Parameters
        ----------
        email : str or None
            The address the identity provider reported, if any.
        email_verified : bool or None, optional
            The provider's ``email_verified`` claim. Only an explicit False refuses: an
            address the provider has not checked could be anyone's, and lists admit by address.
        """
        address = (email or "").strip().lower()
        if not self.restricted:
            return AccessDecision(True)
        if not address:
            return AccessDecision(
                False,
                "Your identity provider did not tell this app your email address, and this app "
                "lets people in by address.",
            )
        if email_verified is False:
            return AccessDecision(
                False, "Your identity provider reports that this address is not verified yet."
            )
        domain = address.rpartition("@")[2]
        if address in self.admins or address in self.allowed_emails or domain in self.allowed_domains:
            return AccessDecision(True)
        # The sentence names no address: the screen shows who is signed in just above it.
        reason = "This address is not among those this app lets in."
        if self.allowed_domains:
            # The domains are shown (they tell people which account to use); the addresses are not.
            reason += f" It lets in addresses at {', '.join(sorted(self.allowed_domains))}."
        return AccessDecision(False, reason)


def _string_list(value: Any, key: str, example: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise SettingsError(key, f"{key} in the app's secrets must be a list of strings, like {example}.")
    return [v.strip().lower() for v in value]


def check_access(section: Any, secrets: Mapping[str, Any]) -> AccessRules:
    """Check ``[access]``; empty rules when it is absent.

    Raises
    ------
    SettingsError
        ``[access]`` without ``[auth]`` (nobody signs in, so nobody could be checked), an unknown
        key, a value that is not a list of strings, an address without ``@``, a domain with one.
    """
    if section is None:
        return AccessRules()
    if not isinstance(section, Mapping):
        raise SettingsError("access", "access in the app's secrets must be a section, [access].")
    for name in section:
        if name not in ACCESS_KEYS:
            close = difflib.get_close_matches(str(name), ACCESS_KEYS, n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise SettingsError(
                f"access.{name}",
                f"[access] in the app's secrets has an unknown key {name!r}.{hint} "
                f"It takes {', '.join(ACCESS_KEYS)}.",
            )
    if secrets.get("auth") is None:
        raise SettingsError(
            "access",
            "[access] in the app's secrets limits who may enter, but there is no [auth] section, so "
            "nobody signs in and nobody could be checked: add [auth] or remove [access].",
        )
    lists: dict[str, list[str]] = {}
    for name, example in (
        ("allowed_emails", '["ana@example.com"]'),
        ("admins", '["ana@example.com"]'),
        ("allowed_domains", '["example.com"]'),
    ):
        values = _string_list(section.get(name, []), f"access.{name}", example)
        for value in values:
            if name == "allowed_domains":
                value = value.removeprefix("@")
                bad = "@" in value or "." not in value
            else:
                local, at, domain = value.partition("@")
                bad = not (local and at and domain) or "@" in domain
            if bad:
                what = "a domain, like example.com" if name == "allowed_domains" else "an email address"
                raise SettingsError(
                    f"access.{name}",
                    f"access.{name} in the app's secrets holds {value!r}, which is not {what}.",
                )
        lists[name] = [v.removeprefix("@") for v in values]
    return AccessRules(
        allowed_emails=frozenset(lists["allowed_emails"]),
        allowed_domains=frozenset(lists["allowed_domains"]),
        admins=frozenset(lists["admins"]),
    )


# --- [budget] -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetSettings:
    """The ``[budget]`` section: tokens of the operator's token visitors may spend
    (:mod:`embedcore.providers.budget` enforces it).

    Attributes
    ----------
    tokens_per_visitor_per_day : int
        Per visitor and UTC day. 0: the operator's token is not offered at all.
    tokens_per_day : int
        All visitors together, per endpoint and UTC day. 0: not offered either.
    max_texts_per_request : int
        Texts in one action (one ``embed()`` call), at least 1.
    """

    tokens_per_visitor_per_day: int = 50_000
    tokens_per_day: int = 2_000_000
    max_texts_per_request: int = 2_000

    @property
    def offered(self) -> bool:
        """Whether visitors may use the operator's token at all."""
        return self.tokens_per_visitor_per_day > 0 and self.tokens_per_day > 0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, where: str = "[budget]") -> BudgetSettings:
        """Settings from a mapping (the secrets' ``[budget]`` table); missing keys keep their default.

        Raises
        ------
        ConfigurationError
            Naming the key: an unknown key, a value that is not a whole number, a negative one,
            or ``max_texts_per_request`` below 1.
        """
        if not isinstance(values, Mapping):
            raise ConfigurationError(f"{where} must be a table of settings, not {type(values).__name__}.")
        names = [f.name for f in fields(cls)]
        for key in values:
            if key not in names:
                raise ConfigurationError(
                    f"{where} has an unknown setting {str(key)!r}; the settings are {', '.join(names)}."
                )
        parsed = {key: _whole_number(f"{where} {key}", value) for key, value in values.items()}
        if parsed.get("max_texts_per_request", 1) < 1:
            raise ConfigurationError(f"{where} max_texts_per_request must be at least 1.")
        return cls(**parsed)


def _whole_number(name: str, value: Any) -> int:
    """``value`` as a non-negative int, or a ConfigurationError naming ``name``."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        text = value.strip().replace("_", "")
        if text.lstrip("-").isdigit():
            number = int(text)
    if number is None:
        raise ConfigurationError(f"{name} must be a whole number of tokens or texts, not {value!r}.")
    if number < 0:
        raise ConfigurationError(f"{name} must not be negative (got {number}); 0 switches it off.")
    return number


def budget_from_env(environ: Mapping[str, str] | None = None) -> BudgetSettings | None:
    """Settings from ``EMBEDCORE_BUDGET_*`` variables, or None when none is set (no budget).

    Examples
    --------
    >>> budget_from_env({"EMBEDCORE_BUDGET_TOKENS_PER_DAY": "1_000"}).tokens_per_day
    1000
    >>> budget_from_env({}) is None
    True

    Raises
    ------
    ConfigurationError
        As :meth:`BudgetSettings.from_mapping`, naming the variable.
    """
    environ = os.environ if environ is None else environ
    values = {
        name[len(ENV_PREFIX) :].lower(): value
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX) and value.strip()
    }
    if not values:
        return None
    names = {f.name for f in fields(BudgetSettings)}
    for key in values:
        if key not in names:
            raise ConfigurationError(
                f"{ENV_PREFIX}{key.upper()} is not a budget setting; the settings are "
                + ", ".join(ENV_PREFIX + n.upper() for n in sorted(names))
                + "."
            )
    return BudgetSettings.from_mapping(values, where="The environment's " + ENV_PREFIX.rstrip("_") + "_*:")


def check_budget(section: Any, secrets: Mapping[str, Any]) -> BudgetSettings | None:
    """``[budget]`` from the secrets, else ``EMBEDCORE_BUDGET_*``; None when neither is set.

    Raises
    ------
    ConfigurationError
        A setting is unknown, negative or not a whole number (the message names it).

    Examples
    --------
    >>> check_budget({"tokens_per_day": 10}, {}).tokens_per_day
    10
    """
    if section is not None:
        return BudgetSettings.from_mapping(section, where="[budget] in the app's secrets:")
    return budget_from_env()


# --- storage: database_url and cache_max_mb ---------------------------------------------------


def check_database_url(value: Any, secrets: Mapping[str, Any]) -> tuple[str | None, str]:
    """``(url, where it was set)``: ``database_url`` in the secrets first, then
    ``$EMBEDCORE_DATABASE_URL``; ``(None, ...)`` when neither is set (local SQLite files).

    Examples
    --------
    >>> check_database_url(" postgresql://db/x ", {})
    ('postgresql://db/x', "database_url in the app's secrets")
    """
    if value is not None and str(value).strip():
        return str(value).strip(), "database_url in the app's secrets"
    return (os.environ.get(DATABASE_URL_ENV, "").strip() or None), DATABASE_URL_ENV


def check_cache_max_mb(value: Any, secrets: Mapping[str, Any]) -> float | None:
    """The embedding cache's size cap in megabytes: ``cache_max_mb`` in the secrets, then
    ``$EMBEDCORE_CACHE_MAX_MB``; None (no cap) when neither is set or it is 0.

    Raises
    ------
    ConfigurationError
        Not a number, or negative; the message names the setting.

    Examples
    --------
    >>> check_cache_max_mb(200, {})
    200.0
    >>> check_cache_max_mb("lots", {})
    Traceback (most recent call last):
    embedcore.errors.ConfigurationError: cache_max_mb in the app's secrets must be a number of megabytes (e.g. 500), got 'lots'.
    """
    if value is not None:
        return parse_max_mb(value, "cache_max_mb in the app's secrets")
    return parse_max_mb(os.environ.get(CACHE_MAX_MB_ENV), CACHE_MAX_MB_ENV)


# --- link_texts: whether texts a visitor types are kept for links ------------------------------

#: Environment alternative of ``link_texts``.
LINK_TEXTS_ENV = "EMBEDCORE_LINK_TEXTS"
#: ``always``: the URL names typed texts (stored by digest); ``on_request``: only once the visitor
#: asks for a link or saves the view; ``never``: links and saved views only for sample sets.
LINK_TEXTS_MODES = ("always", "on_request", "never")


def check_link_texts(value: Any, secrets: Mapping[str, Any]) -> str:
    """``link_texts`` in the secrets, then ``$EMBEDCORE_LINK_TEXTS``; ``"always"`` when neither is set.

    Raises
    ------
    ConfigurationError
        Not one of :data:`LINK_TEXTS_MODES`; the message names the setting and the values.

    Examples
    --------
    >>> check_link_texts(" On_Request ", {})
    'on_request'
    >>> check_link_texts("off", {})
    Traceback (most recent call last):
    embedcore.errors.ConfigurationError: link_texts in the app's secrets must be "always", "on_request" or "never", got 'off'.
    """
    where = "link_texts in the app's secrets"
    if value is None:
        value, where = os.environ.get(LINK_TEXTS_ENV, "").strip() or "always", LINK_TEXTS_ENV
    mode = value.strip().lower() if isinstance(value, str) else None
    if mode not in LINK_TEXTS_MODES:
        raise ConfigurationError(
            f'{where} must be "always", "on_request" or "never", got {str(value)[:40]!r}.'
        )
    return mode


# --- all sections ----------------------------------------------------------------------------

#: ``{section or key: check}``, run in this order by :func:`check_settings`. A new setting is one
#: function here with the same signature; each also reads its environment variable when the
#: secrets do not set it, so every operator setting is read and checked here, once.
SECTIONS: dict[str, Callable[[Any, Mapping[str, Any]], Any]] = {
    "auth": check_auth,
    "access": check_access,
    "budget": check_budget,
    "cache_max_mb": check_cache_max_mb,
    "database_url": check_database_url,
    "link_texts": check_link_texts,
}


def check_section(name: str, secrets: Mapping[str, Any]) -> Any:
    """One entry of :data:`SECTIONS` checked on its own (a wrong ``[budget]`` does not hide ``[access]``).

    Examples
    --------
    >>> check_section("access", {})
    AccessRules(allowed_emails=frozenset(), allowed_domains=frozenset(), admins=frozenset())
    """
    return SECTIONS[name](secrets.get(name), secrets)


def check_settings(secrets: Mapping[str, Any]) -> dict[str, Any]:
    """Check every known section of ``secrets``; ``{section: what its check returned}``.

    Raises
    ------
    ConfigurationError
        The first wrong setting, by section in :data:`SECTIONS` order (a
        :class:`~embedcore.errors.SettingsError` for ``[auth]`` and ``[access]``).
    """
    return {name: check_section(name, secrets) for name in SECTIONS}
