"""Every docstring example in embedcore runs, as written, under doctest (issue 20).

The examples are the first code a newcomer copies, so they are run in CI like any test: offline
(``HF_HUB_OFFLINE=1``: a model comes from the bundled files or not at all), with the cache in a
temporary folder and no database URL, so an example never touches a real store. An example that
would need the network or a model that is not bundled says so with ``# doctest: +SKIP`` and why.
"""

from __future__ import annotations

import doctest
import importlib
import io
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: Every engine module with an example (a ``>>>`` line); the rest have nothing to run.
WITH_EXAMPLES = sorted(
    _module_name(path)
    for path in (ROOT / "embedcore").rglob("*.py")
    if ">>>" in path.read_text(encoding="utf-8")
)

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def run_examples(module_name: str) -> tuple[doctest.TestResults, str]:
    """Run ``module_name``'s examples; the results and doctest's report of the failures."""
    module = importlib.import_module(module_name)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = io.StringIO()
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, module_name):
        runner.run(test, out=report.write)
    return runner.summarize(verbose=False), report.getvalue()


@pytest.fixture
def quiet_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("EMBEDCORE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("EMBEDCORE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here


@pytest.mark.usefixtures("quiet_environment")
@pytest.mark.parametrize("module_name", WITH_EXAMPLES)
def test_the_examples_in_the_docstrings_run(module_name):
    results, report = run_examples(module_name)
    assert results.attempted, f"{module_name} has '>>>' but doctest found no example in it"
    assert not results.failed, f"{module_name}: {results.failed} example(s) failed:\n{report}"


def test_a_wrong_example_fails(tmp_path, monkeypatch):
    """The runner above is not met by finding nothing: a module whose example is wrong fails."""
    (tmp_path / "wrong_example.py").write_text('def f():\n    """\n    >>> 1 + 1\n    3\n    """\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    results, report = run_examples("wrong_example")
    assert results == (1, 1) and "Expected:\n    3\nGot:\n    2" in report


#: Modules where every public function and class shows an ``Examples`` section (issue 20: the
#: public engine functions get one that runs); the list grows as modules are given theirs.
DOCUMENTED_MODULES: list[str] = [
    "embedcore.analysis.alignment",
    "embedcore.analysis.compare",
    "embedcore.analysis.documents",
    "embedcore.analysis.multilingual",
    "embedcore.io.readers",
    "embedcore.io.samples",
    "embedcore.io.table",
    "embedcore.io.vectors",
    "embedcore.io.writers",
    "embedcore.stores.view_rules",
    "embedcore.stores.views",
]


@pytest.mark.parametrize("module_name", DOCUMENTED_MODULES)
def test_every_public_function_has_an_example(module_name):
    """Each public function and class has an example of its own or is called in the module's."""
    import inspect

    module = importlib.import_module(module_name)
    shown = "\n".join(
        example.source
        for test in doctest.DocTestFinder(exclude_empty=True).find(module, module_name)
        if test.name == module_name
        for example in test.examples
    )
    missing = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module_name
        and ">>>" not in (value.__doc__ or "")
        and f"{name}(" not in shown
    ]
    assert not missing, f"{module_name}: no example in {missing}"
