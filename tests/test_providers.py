"""make_provider() and default_cache(): which provider, which cache, which token."""

from __future__ import annotations

import pytest

from embedcore.errors import ConfigurationError
from embedcore.providers import catalog
from embedcore.providers.client import EmbeddingClient
from embedcore.providers.local import LocalModel
from embedcore.providers.registry import default_cache, make_provider


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBEDCORE_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("IONOS_API_TOKEN", "EMBEDCORE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_default_cache_follows_the_environment(tmp_path, monkeypatch):
    first = default_cache()
    assert first is default_cache()  # one store per path and process
    assert first.path == tmp_path / "cache" / "embeddings.sqlite3"
    monkeypatch.setenv("EMBEDCORE_CACHE_DIR", str(tmp_path / "other"))
    assert default_cache().path == tmp_path / "other" / "embeddings.sqlite3"


def test_local_provider_and_its_cache_choices():
    local = make_provider("local", batch_size=16)
    assert isinstance(local, LocalModel) and local.batch_size == 16
    assert local.cache is default_cache()
    assert make_provider("local", cache=False).cache is None
    with pytest.raises(ConfigurationError, match="no base URL"):
        make_provider("local", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigurationError, match="timeout"):
        make_provider("local", timeout=3)


def test_ionos_reads_its_token_from_the_environment(monkeypatch):
    with pytest.raises(ConfigurationError, match="IONOS_API_TOKEN"):
        make_provider("ionos")
    monkeypatch.setenv("IONOS_API_TOKEN", "tok-123")
    client = make_provider("ionos", max_retries=1)
    assert isinstance(client, EmbeddingClient)
    assert client.endpoint_id == catalog.IONOS_BASE_URL
    assert "tok-123" not in repr(client)


def test_custom_needs_a_url_and_never_borrows_the_ionos_token(monkeypatch):
    with pytest.raises(ConfigurationError, match="base URL"):
        make_provider("custom")
    monkeypatch.setenv("IONOS_API_TOKEN", "tok-123")
    client = make_provider("custom", base_url="http://127.0.0.1:8000/v1/")
    assert client.endpoint_id == "http://127.0.0.1:8000/v1"
    assert "not set" in repr(client)


def test_unknown_kind():
    with pytest.raises(ConfigurationError, match="local, ionos, custom"):
        make_provider("openai")  # type: ignore[arg-type]


def test_ionos_with_an_explicit_empty_token_sends_none(monkeypatch):
    # The dashboard passes the token it resolved, "" for none: a client that can list the
    # catalogue and count cached vectors, whose requests the endpoint answers with 401.
    monkeypatch.setenv("IONOS_API_TOKEN", "tok-123")
    client = make_provider("ionos", api_key="")
    assert isinstance(client, EmbeddingClient) and not client.has_key


def test_ionos_does_not_send_the_environment_token_to_another_url(monkeypatch):
    monkeypatch.setenv("IONOS_API_TOKEN", "tok-123")
    with pytest.raises(ConfigurationError, match=r"is not sent to http://127\.0\.0\.1:8000/v1"):
        make_provider("ionos", base_url="http://127.0.0.1:8000/v1")
    monkeypatch.setenv("EMBEDCORE_BASE_URL", "http://127.0.0.1:8000/v1")
    assert make_provider("ionos", base_url="http://127.0.0.1:8000/v1/").has_key
