"""AppTest tests of the gate in front of every page (ui/common/access.py): wrong settings, sign-in, refusal.

``at.user`` is AppTest's own way to say who is signed in (what Streamlit's auth cookie gives a
real session); the round trip through an identity provider is in tests/browser/test_sign_in.py.
"""

from __future__ import annotations

import pytest

from tests.apptest import open_page, plain_messages, rendered

COOKIE_SECRET = "5ec2e7" * 8
CLIENT_SECRET = "client-secret-4b1d"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": COOKIE_SECRET,
    "client_id": "explorer",
    "client_secret": CLIENT_SECRET,
    "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration",
}
ACCESS = {
    "allowed_emails": ["ana@example.com"],
    "allowed_domains": ["team.example"],
    "admins": ["root@example.com"],
}


def _nothing_of_the_app(at) -> None:
    assert not at.sidebar.radio, "the connection panel was drawn"
    assert "stPageLink" not in rendered(at) and "page_link" not in rendered(at)
    assert COOKIE_SECRET not in rendered(at) and CLIENT_SECRET not in rendered(at)


@pytest.mark.parametrize(
    ("secrets", "words"),
    [
        ({"auth": {k: v for k, v in AUTH.items() if k != "cookie_secret"}}, "has no cookie_secret"),
        (
            {"auth": {**AUTH, "redirect_uri": "http://localhost:8501/"}},
            "redirect_uri in the app's secrets must end in /oauth2callback",
        ),
        ({"auth": AUTH, "access": {"allowed_email": ["ana@example.com"]}}, "unknown key 'allowed_email'"),
        (
            {"auth": AUTH, "access": {"admins": "ana@example.com"}},
            "access.admins in the app's secrets must be a list",
        ),
        ({"access": ACCESS}, "there is no [auth] section"),
    ],
)
def test_wrong_settings_close_the_app_with_one_message(make_app, secrets, words):
    at = make_app(secrets=secrets)
    at.run()
    assert not at.exception
    assert len(at.error) == 1
    assert words in plain_messages(at.error)
    assert at.title[0].value == "Embedding Explorer"
    _nothing_of_the_app(at)


def test_wrong_settings_also_close_a_deep_link(make_app):
    at = make_app(secrets={"auth": {**AUTH, "client_id": ""}})
    at.switch_page("pages/search.py").run()
    assert not at.exception
    assert "auth.client_id" in plain_messages(at.error)
    assert all(t.value != "Semantic search" for t in at.title)


def test_sign_in_is_required_on_every_page(make_app):
    at = make_app(secrets={"auth": AUTH, "access": ACCESS})
    at.run()
    assert not at.exception
    assert at.button(key="auth_sign_in_default").label == "Sign in"
    _nothing_of_the_app(at)
    at.switch_page("pages/search.py").run()  # a deep link goes through app.py's gate too
    assert not at.exception
    assert at.button(key="auth_sign_in_default").label == "Sign in"
    assert all(t.value != "Semantic search" for t in at.title)
    _nothing_of_the_app(at)


def test_one_button_per_named_provider(make_app):
    providers = {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}
    auth = {
        "redirect_uri": AUTH["redirect_uri"],
        "cookie_secret": COOKIE_SECRET,
        "google": providers,
        "okta": providers,
    }
    at = make_app(secrets={"auth": auth})
    at.run()
    assert [b.label for b in at.button] == ["Sign in with Google", "Sign in with Okta"]


def test_a_refused_user_sees_who_why_and_sign_out_only(make_app):
    at = make_app(secrets={"auth": AUTH, "access": ACCESS})
    at.user = {"is_logged_in": True, "email": "Bob@Elsewhere.example", "email_verified": True}
    at.run()
    assert not at.exception
    assert "You are signed in as <strong>bob@elsewhere.example</strong>." in rendered(at)
    shown = plain_messages(at.error)
    assert "This address is not among those this app lets in" in shown
    assert "It lets in addresses at team.example" in shown
    assert "ana@example.com" not in rendered(at)
    assert [b.label for b in at.button] == ["Sign out"]
    _nothing_of_the_app(at)


def test_an_allowed_user_gets_the_app_and_sees_who_is_signed_in(make_app):
    at = make_app(secrets={"auth": AUTH, "access": ACCESS})
    at.user = {"is_logged_in": True, "email": "carol@team.example"}
    open_page(at, "pages/models.py")
    sidebar = "\n".join(str(element.proto) for element in at.sidebar)
    assert "Signed in as <strong>carol@team.example</strong>" in sidebar
    assert at.sidebar.button(key="auth_sign_out").label == "Sign out"


def test_sign_out_in_the_sidebar_ends_the_session(make_app):
    at = make_app(secrets={"auth": AUTH})
    at.user = {"is_logged_in": True, "email": "anyone@anywhere.example"}
    open_page(at, "pages/models.py")
    at.sidebar.button(key="auth_sign_out").click().run()
    assert not at.exception
    at.run()
    assert at.button(key="auth_sign_in_default").label == "Sign in"
    _nothing_of_the_app(at)


def test_without_auth_nobody_is_asked_to_sign_in(make_app):
    at = make_app(secrets={"IONOS_API_TOKEN": "t"})
    open_page(at, "pages/models.py")
    assert not [b for b in at.button if b.key and b.key.startswith("auth_")]
    assert "Signed in as" not in rendered(at)
