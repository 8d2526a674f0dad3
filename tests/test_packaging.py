"""The package's dependency lists (pyproject.toml) and the install lists (requirements*.txt) agree.

pyproject.toml says what ``pip install embedcore[...]`` installs; requirements*.txt are what
make, CI and Streamlit Community Cloud install. They are written twice on purpose (Cloud
reads requirements.txt and cannot be told about extras), so this keeps them equal.
"""

from __future__ import annotations

from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import embedcore

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def _key(requirement: Requirement) -> tuple:
    return (
        canonicalize_name(requirement.name),
        frozenset(requirement.extras),
        str(requirement.specifier),
        str(requirement.marker or ""),
    )


def _extras(*names: str) -> set[tuple]:
    """The engine's dependencies plus the named extras, self-references (``embedcore[static]``) followed."""
    found = {_key(Requirement(line)) for line in PROJECT["dependencies"]}
    pending, seen = list(names), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in PROJECT["optional-dependencies"][extra]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == "embedcore":
                pending.extend(requirement.extras)
            else:
                found.add(_key(requirement))
    return found


def _requirements_file(name: str) -> set[tuple]:
    """The requirements of a pip requirements file, ``-r`` includes followed."""
    found: set[tuple] = set()
    for raw in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            found |= _requirements_file(line[3:].strip())
        else:
            found.add(_key(Requirement(line)))
    return found


def test_requirements_txt_is_the_app_extra():
    assert _requirements_file("requirements.txt") == _extras("app")


def test_requirements_local_is_the_app_and_local_extras():
    assert _requirements_file("requirements-local.txt") == _extras("app", "local")


def test_requirements_dev_is_the_dev_extra():
    assert _requirements_file("requirements-dev.txt") == _extras("dev")


def test_the_engine_alone_needs_neither_streamlit_nor_torch():
    engine = {name for name, *_ in _extras()}
    assert "streamlit" not in engine
    assert "torch" not in engine and "sentence-transformers" not in engine
    assert {"numpy", "requests"} <= engine


def test_one_version_number():
    # Read from embedcore/__init__.py by setuptools; never written a second time.
    assert "version" not in PROJECT
    assert "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "embedcore.__version__"}
    assert Requirement(f"embedcore=={embedcore.__version__}")  # a valid version string


def test_build_system_is_declared():
    build = PYPROJECT["build-system"]
    assert build["build-backend"] == "setuptools.build_meta"
    assert any(canonicalize_name(Requirement(r).name) == "setuptools" for r in build["requires"])
