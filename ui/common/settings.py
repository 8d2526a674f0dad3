"""The app's operator settings from Streamlit's secrets, read and checked by :mod:`embedcore.settings`.

Every operator setting — ``[auth]``, ``[access]``, ``[budget]``, ``cache_max_mb``,
``database_url``, ``link_texts`` — is one entry of :data:`embedcore.settings.SECTIONS`, which also reads its
environment variable when the secrets do not set it; this module only hands it the secrets.

``app_settings()`` is read on every run (a dict walk, microseconds), so an operator who edits
``secrets.toml`` sees the effect, or the message, on the next run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from embedcore.errors import SettingsError
from embedcore.settings import AccessRules, AuthSettings, check_section, check_settings


def _secrets_files_present() -> bool:
    """True when one of the places Streamlit reads secrets from (``secrets.files``) exists."""
    try:
        paths = st.get_option("secrets.files") or []
    except Exception:  # an unknown option in some future Streamlit: assume no file
        return False
    return any(Path(str(p)).exists() for p in paths)


def secrets_dict() -> dict[str, Any]:
    """``st.secrets`` as a plain dict; ``{}`` when there is no secrets file.

    Raises
    ------
    SettingsError
        A secrets file exists but cannot be parsed. Treating that as "no secrets" would open an
        app whose ``[auth]`` is in the broken file to everyone.
    """
    try:
        return st.secrets.to_dict()
    except Exception as exc:
        if not _secrets_files_present():
            return {}
        # Streamlit's message gives the file and the TOML error's line and column, no values.
        raise SettingsError("secrets", f"The app's secrets file cannot be read: {exc}") from None


def app_settings() -> dict[str, Any]:
    """Every checked settings section (``embedcore.settings.SECTIONS``): ``{"auth": ..., "access": ...}``.

    Raises
    ------
    SettingsError
        The first wrong setting.
    """
    return check_settings(secrets_dict())


def setting(name: str) -> Any:
    """One checked entry of ``embedcore.settings.SECTIONS`` (``"budget"``, ``"cache_max_mb"``, ...).

    Raises
    ------
    embedcore.errors.ConfigurationError
        That setting is wrong (or the secrets file cannot be read); the message names it.
    """
    return check_section(name, secrets_dict())


def check_operator_settings() -> None:
    """Every operator setting (:func:`app_settings`), checked at the start of every run, so a
    wrong value is one message before any page runs.

    Raises
    ------
    embedcore.errors.ConfigurationError
        The first wrong setting; the message names it.
    """
    app_settings()


def auth_settings() -> AuthSettings | None:
    """``[auth]`` when sign-in is configured and valid, else None (the app is open)."""
    return setting("auth")


def access_rules() -> AccessRules:
    """``[access]``: empty rules when absent or when the settings are wrong (nobody is admin then)."""
    try:
        return setting("access")
    except SettingsError:
        return AccessRules()
