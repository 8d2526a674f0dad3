"""The provider registry: a kind registered once is offered by the sidebar and the command line.

The toy kind (tests/toy_provider.py, a unit-test fixture) is added the way ARCHITECTURE.md says a
provider is added; nothing else in the code names it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embedcore.errors import ConfigurationError
from embedcore.providers import registry
from embedcore.providers.registry import (
    PLUGINS_ENV,
    kind_names,
    make_provider,
    provider_kind,
    register,
    unregister,
)
from embedcore.types import Provider
from tests.apptest import open_page
from ui.common import state

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def toy():
    """tests/toy_provider.py, its kind registered for this test only.

    Imported here, never at the top of a test file: importing it registers the kind, which
    would then be offered to every later test of the session.
    """
    import tests.toy_provider as toy

    register(toy.TOY_KIND)
    yield toy
    unregister(toy.TOY_KIND.name)


def test_the_built_in_kinds_are_registered_in_order():
    assert kind_names()[:3] == ("local", "ionos", "custom")
    assert provider_kind("ionos").default_base_url and provider_kind("custom").needs_base_url
    assert not provider_kind("local").takes_url


def test_make_provider_builds_a_registered_kind_and_refuses_an_unknown_one(toy):
    provider = make_provider("toy", cache=False)
    assert isinstance(provider, toy.ToyProvider) and isinstance(provider, Provider)  # the Protocol
    result = provider.embed(["a", "b"], toy.TOY_MODEL)
    np.testing.assert_array_equal(result.vectors, toy.toy_vectors(["a", "b"]))
    with pytest.raises(ConfigurationError, match="takes no base URL"):
        make_provider("toy", base_url="http://127.0.0.1:9/v1", cache=False)
    with pytest.raises(ConfigurationError, match="does not take: colour"):
        make_provider("toy", cache=False, colour="red")
    unregister("toy")
    with pytest.raises(ConfigurationError, match="Unknown provider 'toy'"):
        make_provider("toy", cache=False)


def test_a_module_named_in_the_environment_registers_its_kinds(monkeypatch):
    assert "toy" not in kind_names()
    monkeypatch.setattr(registry, "_LOADED_PLUGINS", set())
    monkeypatch.setenv(PLUGINS_ENV, "tests.toy_provider")
    # Imported already by another test, it would not register again: a fresh import, as in a new process.
    monkeypatch.delitem(sys.modules, "tests.toy_provider", raising=False)
    try:
        assert "toy" in kind_names()
    finally:
        unregister("toy")
    monkeypatch.setenv(PLUGINS_ENV, "tests.no_such_module")
    with pytest.raises(ConfigurationError, match=r"EMBEDCORE_PROVIDERS names 'tests\.no_such_module'"):
        kind_names()


def test_the_sidebar_offers_a_registered_kind_and_its_models(make_app, toy):
    at = make_app(state={state.PROVIDER_KIND: "toy"})
    open_page(at, "pages/models.py")
    radio = at.sidebar.radio(key="conn_provider")
    assert "Toy provider (test fixture)" in radio.options
    assert radio.value == "toy"
    model = at.sidebar.selectbox(key="conn_model")
    assert model.options == [f"{toy.TOY_MODEL} · 8d"] and model.value == toy.TOY_MODEL  # the toy's listing
    # Another kind and back: the toy is one choice among the registered ones.
    radio.set_value("ionos").run()
    assert not at.exception
    at.sidebar.radio(key="conn_provider").set_value("toy").run()
    assert not at.exception
    assert at.sidebar.selectbox(key="conn_model").value == toy.TOY_MODEL


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run(
        [sys.executable, "-m", "embedcore", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_line_offers_a_kind_named_in_the_environment(tmp_path):
    from tests.toy_provider import toy_vectors  # the expected vectors

    unregister("toy")  # an import registers it in this process too; only the command lines should see it

    plain = _cli("embed", "--help")
    assert plain.returncode == 0 and "toy" not in plain.stdout
    helped = _cli("embed", "--help", **{PLUGINS_ENV: "tests.toy_provider"})
    assert helped.returncode == 0, helped.stderr
    assert "{local,ionos,custom,toy}" in helped.stdout
    assert "toy: a test fixture's made-up vectors" in " ".join(helped.stdout.split())

    texts = tmp_path / "texts.txt"
    texts.write_text("one\ntwo\nthree\n")
    out = tmp_path / "vectors.npy"
    run = _cli(
        "embed", str(texts), "--provider", "toy", "--no-cache", "-q", "-o", str(out),
        **{PLUGINS_ENV: "tests.toy_provider"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    np.testing.assert_array_equal(np.load(out), toy_vectors(["one", "two", "three"]))

    broken = _cli("embed", "--help", **{PLUGINS_ENV: "tests.no_such_module"})
    assert broken.returncode == 2 and "EMBEDCORE_PROVIDERS names 'tests.no_such_module'" in broken.stderr
