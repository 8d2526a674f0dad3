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


# --- what the wheel holds and what the core install needs --------------------------------------

#: Distribution name -> the name it is imported by, for the extras embedcore.extras checks.
_IMPORT_NAMES = {
    "umap-learn": "umap",
    "scikit-learn": "sklearn",
    "pypdf": "pypdf",
    "model2vec": "model2vec",
    "torch": "torch",
    "sentence-transformers": "sentence_transformers",
    "psycopg": "psycopg",
    "psycopg-pool": "psycopg_pool",
    "pgvector": "pgvector",
}


def _extra_names(extra: str) -> set[str]:
    """The distributions an extra adds itself (self-references left out)."""
    names = {canonicalize_name(Requirement(line).name) for line in PROJECT["optional-dependencies"][extra]}
    return names - {"embedcore"}


def test_the_core_install_is_light_and_the_heavy_parts_are_extras():
    core = {canonicalize_name(Requirement(line).name) for line in PROJECT["dependencies"]}
    heavy = {"umap-learn", "scikit-learn", "numba", "pypdf", "torch", "sentence-transformers", "streamlit"}
    assert not core & heavy, core & heavy
    assert _extra_names("maps") == {"umap-learn", "scikit-learn"}
    assert _extra_names("pdf") == {"pypdf"}
    # The app installs both (Community Cloud reads requirements.txt, equal to [app]).
    assert {"maps", "pdf"} <= {
        e for line in PROJECT["optional-dependencies"]["app"] for e in Requirement(line).extras
    }


def test_the_extras_check_knows_the_packages_pyproject_lists():
    from embedcore.extras import EXTRAS

    for extra, modules in EXTRAS.items():
        declared = {_IMPORT_NAMES[name] for name in _extra_names(extra) if name in _IMPORT_NAMES}
        assert set(modules) <= declared, (
            extra,
            set(modules) - declared,
        )  # the extra installs what is checked
        if extra in ("maps", "pdf"):
            assert set(modules) == declared, (extra, modules, declared)


def _third_party_imports(folder: Path) -> dict[str, set[str]]:
    """Top-level modules imported anywhere in ``folder`` (function-level imports too) -> files."""
    import ast
    import sys

    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "embedcore":
                    found.setdefault(top, set()).add(path.relative_to(ROOT).as_posix())
    return found


def test_every_package_the_engine_imports_is_declared():
    """An import in embedcore/ of a package no list declares (tqdm was one) fails a fresh install."""
    from importlib.metadata import packages_distributions

    declared = {canonicalize_name(Requirement(line).name) for line in PROJECT["dependencies"]}
    for extra in PROJECT["optional-dependencies"]:
        declared |= _extra_names(extra)
    # Packages that come with a declared one (numba and pynndescent with umap-learn — pynndescent is
    # imported only on umap-learn's behalf, embedcore.analysis.umap_import —, transformers with
    # sentence-transformers, huggingface_hub and its filelock with both model extras).
    indirect = {
        "numba",
        "pynndescent",
        "transformers",
        "huggingface-hub",
        "safetensors",
        "tokenizers",
        "joblib",
        "threadpoolctl",
        "filelock",
    }
    distributions = packages_distributions()
    for module, files in sorted(_third_party_imports(ROOT / "embedcore").items()):
        names = {canonicalize_name(d) for d in distributions.get(module, [])}
        assert names, f"{module} (imported in {sorted(files)}) is not installed here"
        assert names & (declared | indirect), (
            f"{module} ({sorted(names)}, in {sorted(files)}) is not declared"
        )


def test_a_missing_extra_is_named_and_the_core_works_without_it():
    """As on `pip install embedcore`: umap-learn, scikit-learn and pypdf are not importable."""
    import subprocess
    import sys

    script = """
import sys
for name in ("umap", "sklearn", "pypdf", "numba", "streamlit", "torch"):
    sys.modules[name] = None  # what `import name` finds on an install without it
import numpy as np
import embedcore
from embedcore import MissingExtraError, cosine_matrix, project
from embedcore.io.chunking import read_document

X = np.random.default_rng(0).standard_normal((30, 8)).astype(np.float32)
assert cosine_matrix(X).shape == (30, 30)
for call, extra in ((lambda: project(X, "umap"), "maps"), (lambda: project(X, "tsne"), "maps"),
                    (lambda: read_document(b"%PDF-1.4 x", "a.pdf"), "pdf")):
    try:
        call()
    except MissingExtraError as exc:
        assert exc.extra == extra and f'pip install "embedcore[{extra}]"' in str(exc), str(exc)
    else:
        raise AssertionError(f"no MissingExtraError for {extra}")
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def test_the_built_wheel_holds_every_subpackage_and_the_samples(tmp_path):
    import subprocess
    import sys
    import zipfile

    # --no-build-isolation: the venv's setuptools (pyproject's build-system.requires) builds it,
    # no download; the copy keeps build/ and *.egg-info out of the work tree.
    source = tmp_path / "src"
    for name in ("pyproject.toml", "README.md", "embedcore"):
        src = ROOT / name
        if src.is_dir():
            import shutil

            shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            (source / name).write_bytes(src.read_bytes())
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("embedcore-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "embedcore").rglob("__init__.py")}
    assert {"embedcore", "embedcore/providers", "embedcore/stores", "embedcore/io"} <= packages
    for package in packages:
        assert f"{package}/__init__.py" in names, package
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "embedcore").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    samples = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "embedcore" / "samples").iterdir() if p.is_file()
    }
    assert samples and samples <= names, sorted(samples - names)
