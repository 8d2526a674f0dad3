"""embedcore.settings: the ``[auth]`` and ``[access]`` checks, and the access rules.

Plain dicts stand in for Streamlit's secrets here (the checks never see Streamlit); the
dashboard's use of them is in tests/test_access.py (AppTest) and tests/browser/test_sign_in.py
(a real OpenID Connect provider).
"""

from __future__ import annotations

import pytest

from embedcore.errors import ConfigurationError, SettingsError
from embedcore.settings import (
    LINK_TEXTS_ENV,
    SECTIONS,
    AccessRules,
    AuthSettings,
    authlib_version,
    check_access,
    check_auth,
    check_link_texts,
    check_settings,
)

COOKIE_SECRET = "c0ffee" * 8  # 48 characters
CLIENT_SECRET = "client-secret-9f3a"


def auth(**changes) -> dict:
    """A usable default-provider ``[auth]``, with ``changes`` (a value of None removes the key)."""
    section = {
        "redirect_uri": "https://explorer.example.com/oauth2callback",
        "cookie_secret": COOKIE_SECRET,
        "client_id": "explorer",
        "client_secret": CLIENT_SECRET,
        "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration",
    }
    section.update(changes)
    return {k: v for k, v in section.items() if v is not None}


def error_for(secrets: dict) -> SettingsError:
    with pytest.raises(SettingsError) as caught:
        check_settings(secrets)
    message = str(caught.value)
    assert COOKIE_SECRET not in message and CLIENT_SECRET not in message
    return caught.value


def test_no_auth_no_access_leaves_the_app_open():
    settings = check_settings({"IONOS_API_TOKEN": "t"})
    assert settings["auth"] is None
    assert settings["access"] == AccessRules()
    assert settings["access"].decide(None).allowed


def test_a_full_default_provider_is_accepted():
    settings = check_settings({"auth": auth(), "access": {"allowed_emails": ["Ana@Example.com"]}})
    assert settings["auth"] == AuthSettings(providers=("default",))
    assert settings["access"].allowed_emails == {"ana@example.com"}


def test_named_providers_in_the_order_written():
    section = {
        "redirect_uri": "http://localhost:{port}/oauth2callback",
        "cookie_secret": COOKIE_SECRET,
        "microsoft": {
            k: v for k, v in auth().items() if k in ("client_id", "client_secret", "server_metadata_url")
        },
        "google": {
            "client_id": "g",
            "client_secret": "s",
            "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration",
            "client_kwargs": {"prompt": "login"},
        },
    }
    assert check_auth(section, {}).providers == ("microsoft", "google")


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        (auth(cookie_secret=None), "auth.cookie_secret", "has no cookie_secret"),
        (auth(cookie_secret="short"), "auth.cookie_secret", "shorter than 32 characters"),
        (auth(cookie_secret=""), "auth.cookie_secret", "must be a long random string"),
        (auth(client_id=None), "auth.client_id", "has no client_id"),
        (auth(server_metadata_url=None), "auth.server_metadata_url", "has no server_metadata_url"),
        (auth(redirect_uri=None), "auth.redirect_uri", "has no redirect_uri"),
        (
            auth(redirect_uri="https://explorer.example.com/callback"),
            "auth.redirect_uri",
            "must end in /oauth2callback",
        ),
        (auth(redirect_uri="/oauth2callback"), "auth.redirect_uri", "absolute http(s) address"),
        (
            auth(server_metadata_url="accounts.google.com"),
            "auth.server_metadata_url",
            "absolute http(s) address",
        ),
        (auth(expose_tokens=["refresh"]), "auth.expose_tokens", '"id" and "access"'),
        ("yes", "auth", "must be a section"),
    ],
)
def test_a_wrong_auth_names_its_key(section, key, words):
    error = error_for({"auth": section})
    assert error.key == key
    assert words in str(error)
    assert key.split(".")[-1] in str(error)
    assert isinstance(error, ConfigurationError)  # callers that catch the broad type still do


def test_auth_without_any_provider_asks_for_the_provider_keys():
    error = error_for(
        {"auth": {"redirect_uri": "https://a.example/oauth2callback", "cookie_secret": COOKIE_SECRET}}
    )
    assert error.key == "auth.client_id"
    assert "client_id, client_secret or server_metadata_url" in str(error)


def test_a_named_provider_missing_a_key_is_named_with_its_section():
    section = auth(client_id=None, client_secret=None, server_metadata_url=None)
    section["google"] = {"client_id": "g", "server_metadata_url": "https://accounts.google.com/x"}
    error = error_for({"auth": section})
    assert error.key == "auth.google.client_secret"
    assert "[auth.google]" in str(error)


def test_a_provider_name_streamlit_cannot_use():
    section = auth(client_id=None, client_secret=None, server_metadata_url=None)
    section["my_idp"] = {"client_id": "x", "client_secret": "y", "server_metadata_url": "https://i.example/"}
    error = error_for({"auth": section})
    assert error.key == "auth.my_idp"
    assert "[auth.myidp]" in str(error)


@pytest.mark.parametrize(("version", "words"), [(None, "is not installed"), ("1.3.1", "is 1.3.1")])
def test_auth_without_a_usable_authlib(version, words):
    with pytest.raises(SettingsError) as caught:
        check_auth(auth(), {}, authlib=version)
    assert caught.value.key == "auth"
    assert "Authlib" in str(caught.value) and words in str(caught.value)
    assert "requirements.txt" in str(caught.value)


def test_the_installed_authlib_is_found_and_new_enough():
    version = authlib_version()
    assert version is not None
    assert check_auth(auth(), {}, authlib=version).providers == ("default",)


@pytest.mark.parametrize(
    ("access", "key", "words"),
    [
        ({"allowed_email": ["a@b.example"]}, "access.allowed_email", "Did you mean allowed_emails?"),
        ({"owners": ["a@b.example"]}, "access.owners", "unknown key 'owners'"),
        ({"allowed_emails": "ana@example.com"}, "access.allowed_emails", "must be a list of strings"),
        ({"allowed_emails": ["ana@example.com", 3]}, "access.allowed_emails", "must be a list of strings"),
        ({"admins": [""]}, "access.admins", "must be a list of strings"),
        ({"allowed_emails": ["ana.example.com"]}, "access.allowed_emails", "not an email address"),
        ({"allowed_domains": ["ana@example.com"]}, "access.allowed_domains", "not a domain"),
        ({"allowed_domains": ["localhost"]}, "access.allowed_domains", "not a domain"),
        (["ana@example.com"], "access", "must be a section"),
    ],
)
def test_a_wrong_access_names_its_key(access, key, words):
    error = error_for({"auth": auth(), "access": access})
    assert error.key == key
    assert words in str(error)


def test_access_without_auth_is_refused_rather_than_ignored():
    error = error_for({"access": {"allowed_emails": ["ana@example.com"]}})
    assert error.key == "access"
    assert "no [auth] section" in str(error)


def test_rules_let_in_listed_addresses_domains_and_admins_only():
    rules = check_access(
        {
            "allowed_emails": ["Ana@Example.com"],
            "allowed_domains": ["@Team.Example"],
            "admins": ["root@ops.example"],
        },
        {"auth": auth()},
    )
    assert rules.decide("ana@example.com").allowed
    assert rules.decide("ANA@example.com").allowed
    assert rules.decide("carol@team.example").allowed
    assert rules.decide("root@ops.example").allowed  # admins are always let in
    assert rules.is_admin("Root@ops.example") and not rules.is_admin("ana@example.com")
    refused = rules.decide("bob@elsewhere.example")
    assert not refused.allowed
    assert "This address is not among those this app lets in" in refused.reason
    assert "team.example" in refused.reason and "ana@example.com" not in refused.reason
    # A domain is that domain only, not its subdomains or look-alikes.
    assert not rules.decide("x@mail.team.example").allowed
    assert not rules.decide("x@evilteam.example").allowed
    assert not rules.decide(None).allowed
    assert "did not tell this app your email address" in rules.decide(None).reason


def test_an_unverified_address_is_not_let_in_by_a_list():
    rules = AccessRules(allowed_domains=frozenset({"team.example"}))
    assert rules.decide("eve@team.example", email_verified=True).allowed
    refused = rules.decide("eve@team.example", email_verified=False)
    assert not refused.allowed and "not verified" in refused.reason


def test_without_allow_lists_anyone_signed_in_enters():
    rules = check_access({"admins": ["root@ops.example"]}, {"auth": auth()})
    assert not rules.restricted
    assert rules.decide("someone@anywhere.example").allowed
    assert rules.decide(None).allowed


def test_every_section_has_one_check_with_the_same_signature():
    assert {"auth", "access"} <= set(SECTIONS)
    for name, check in SECTIONS.items():
        assert check.__name__ == f"check_{name}"
        check(None, {})  # an absent section is never an error


# --- link_texts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["always", "on_request", "never"])
def test_link_texts_takes_its_three_values_from_the_secrets_or_the_environment(mode, monkeypatch):
    monkeypatch.delenv(LINK_TEXTS_ENV, raising=False)
    assert check_settings({})["link_texts"] == "always"  # the default: as before the setting
    assert check_settings({"link_texts": mode})["link_texts"] == mode
    monkeypatch.setenv(LINK_TEXTS_ENV, f" {mode.upper()} ")
    assert check_settings({})["link_texts"] == mode
    other = "never" if mode != "never" else "always"
    assert check_settings({"link_texts": other})["link_texts"] == other  # the secrets come first


@pytest.mark.parametrize("value", ["off", "", 1, True, ["never"]])
def test_a_wrong_link_texts_is_refused_naming_the_key_and_the_values(value, monkeypatch):
    monkeypatch.delenv(LINK_TEXTS_ENV, raising=False)
    with pytest.raises(ConfigurationError) as caught:
        check_settings({"link_texts": value})
    assert str(caught.value).startswith("link_texts in the app's secrets must be ")
    assert '"always", "on_request" or "never"' in str(caught.value)
    monkeypatch.setenv(LINK_TEXTS_ENV, "sometimes")
    with pytest.raises(ConfigurationError, match=LINK_TEXTS_ENV):
        check_link_texts(None, {})
