"""embedcore.providers.endpoints: one URL parser for where requests go and where a token may go."""

from __future__ import annotations

import pytest

from embedcore.providers import catalog
from embedcore.providers.endpoints import (
    environment_token,
    normalize_base_url,
    origin,
    same_origin,
    token_for,
)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (
            "https://openai.inference.de-txl.ionos.com/v1",
            "https://OPENAI.inference.de-txl.ionos.com:443/x",
            True,
        ),
        (
            "https://openai.inference.de-txl.ionos.com/v1",
            "http://openai.inference.de-txl.ionos.com/v1",
            False,
        ),
        (
            "https://openai.inference.de-txl.ionos.com/v1",
            "https://openai.inference.de-txl.ionos.com.evil.io/v1",
            False,
        ),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8001/v1", False),
        ("https://user@host.example/v1", "https://host.example/v1", True),
        ("not a url", "not a url", False),
        ("http://h:99999/v1", "http://h:99999/v1", False),
        ("ftp://host.example/v1", "ftp://host.example/v1", False),
    ],
)
def test_same_origin(a, b, same):
    assert same_origin(a, b) is same


@pytest.mark.parametrize(
    "url",
    [
        "https://openai.inference.de-txl.ionos.com/v1/",
        "HTTPS://Example.COM:443/v1//",
        "http://127.0.0.1:8080/v1/embeddings",
        "http://[::1]:8080/v1",
    ],
)
def test_requests_go_to_the_origin_a_token_is_bound_to(url):
    # The address requests are sent to and the origin a token is checked against come from one parse.
    assert same_origin(normalize_base_url(url), url)
    assert origin(normalize_base_url(url)) == origin(url)


def test_a_configured_token_is_only_given_to_its_own_origin():
    assert token_for("https://host.example:443/v1", "tok", "https://HOST.example/other") == "tok"
    assert token_for("https://host.example.evil.io/v1", "tok", "https://host.example/v1") == ""
    assert token_for("http://host.example/v1", "tok", "https://host.example/v1") == ""
    assert token_for("https://host.example/v1", None, "https://host.example/v1") == ""


def test_the_environment_token_belongs_to_the_configured_endpoint(monkeypatch):
    monkeypatch.setenv("IONOS_API_TOKEN", "tok")
    monkeypatch.delenv("EMBEDCORE_BASE_URL", raising=False)
    assert environment_token(catalog.IONOS_BASE_URL) == "tok"
    assert environment_token("http://127.0.0.1:8000/v1") == ""
    monkeypatch.setenv("EMBEDCORE_BASE_URL", "http://127.0.0.1:8000/v1")
    assert environment_token("http://127.0.0.1:8000/v1/") == "tok"
    assert environment_token(catalog.IONOS_BASE_URL) == ""
