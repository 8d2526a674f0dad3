"""A real `streamlit run` and Debian's headless chromium, driven by Playwright.

Playwright's own browser download cannot work here (no internet): tests/browser/chromium.py
launches /usr/bin/chromium, which `make browser` installs from Debian's packages.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest
from streamlit_browser import new_session, no_new_traceback, serve_app

from tests.browser.chromium import CHROMIUM, launch_chromium

ROOT = Path(__file__).resolve().parents[2]


def _shared_models_dir(tmp_path_factory) -> Path:
    """``EMBEDCORE_TEST_MODELS_DIR`` (kept between sessions) or the session's shared-models dir."""
    kept = os.environ.get("EMBEDCORE_TEST_MODELS_DIR")
    return Path(kept) if kept else tmp_path_factory.getbasetemp() / "shared-models"


#: Server log of each running app server, by base URL.
_SERVER_LOGS: dict[str, Path] = {}


def server_env(tmp_path_factory) -> dict[str, str]:
    """The environment of a test server: a private cache, the shared models, no operator token."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (Debian's chromium) first")
    cache_dir = tmp_path_factory.mktemp("browser-cache")
    # The static model2vec model is distilled once per test session, into the directory the
    # other test files share (tests/test_search.py): the server finds it through the link.
    models_dir = _shared_models_dir(tmp_path_factory)
    models_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / "models").symlink_to(models_dir, target_is_directory=True)
    env = {**os.environ, "EMBEDCORE_CACHE_DIR": str(cache_dir)}
    env.pop("IONOS_API_TOKEN", None)
    return env


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """Base URL of a `streamlit run app.py` on the offline model, with a private cache."""
    env = server_env(tmp_path_factory)
    log_path = tmp_path_factory.mktemp("browser-logs") / "streamlit.log"
    with serve_app(env, log_path) as (url, _process):
        _SERVER_LOGS[url] = log_path
        yield url
    text = log_path.read_text(errors="replace")
    if "Traceback" in text:
        # A traceback in the server log is a bug even when the page looked fine.
        print(text[-5000:], file=sys.stderr)


@pytest.fixture(scope="module")
def secrets_server(tmp_path_factory):
    """``serve(secrets_toml) -> (url, log_path)``: a server of its own reading only these secrets.

    Streamlit reads ``secrets.files`` (``--secrets.files``) instead of the repo's
    ``.streamlit/secrets.toml``, so a test never writes into the checkout. The port is chosen
    when the server starts: ``auth.redirect_uri`` can say ``{port}`` (Streamlit fills it in).
    Servers stop at the end of the test module.
    """
    with contextlib.ExitStack() as stack:

        def serve(secrets_toml: str) -> tuple[str, Path]:
            folder = tmp_path_factory.mktemp("secrets-server")
            secrets_path = folder / "secrets.toml"
            secrets_path.write_text(secrets_toml, encoding="utf-8")
            log_path = folder / "streamlit.log"
            url, _process = stack.enter_context(
                serve_app(
                    server_env(tmp_path_factory),
                    log_path,
                    extra_args=("--secrets.files", str(secrets_path)),
                )
            )
            return url, log_path

        yield serve


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_server):
    """A fresh browser context (a new Streamlit session) on ``app_server``.

    After the test, the server log must hold no new traceback: an exception the page
    swallowed or only logged is still a bug.
    """
    with no_new_traceback(_SERVER_LOGS[app_server]):
        context, page = new_session(browser, app_server)
        yield page
        context.close()


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
