"""The layers of ARCHITECTURE.md, checked: embedcore -> ui -> pages -> app.py, and what each may import.

Imports are read from the source (every ``import`` statement, including those inside
functions), and the engine is also imported for real in a fresh interpreter: the rule that
matters most — no Streamlit inside embedcore — is checked both ways.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "pages").glob("*.py"))

#: Engine modules a page must not use: providers and stores come from ui (ui.common.connection,
#: ui.common.storage), so that one place decides where requests go and which token they carry.
ENGINE_PLUMBING = {
    "embedcore.providers.client",
    "embedcore.providers.local",
    "embedcore.providers.registry",
    "embedcore.stores.cache",
    "embedcore.stores.database",
    "embedcore.providers.ratelimit",
}

#: Libraries a page must not import: the maths belongs in embedcore, HTTP in embedcore.providers.client.
PAGE_FORBIDDEN_LIBRARIES = {"numpy", "requests", "urllib3", "httpx"}

#: Known breaks of the page rules, to be moved into embedcore or ui (issue 10). The test
#: fails when an entry is no longer needed, so the list can only shrink.
PAGE_EXCEPTIONS: set[tuple[str, str]] = set()


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved within embedcore)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            # ``from ui import state`` imports the module ui.common.state.
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def top_levels(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _files("embedcore"), ids=lambda p: p.name)
def test_the_engine_imports_no_streamlit_and_nothing_above_it(path):
    assert not top_levels(imported_modules(path)) & {"streamlit", "ui", "pages", "app"}


@pytest.mark.parametrize("path", _files("ui"), ids=lambda p: p.name)
def test_ui_imports_no_page_and_not_the_router(path):
    assert not top_levels(imported_modules(path)) & {"pages", "app"}


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_a_page_imports_no_other_page_no_router_and_no_engine_plumbing(path):
    names = imported_modules(path)
    assert not top_levels(names) & {"pages", "app"}
    assert not names & ENGINE_PLUMBING, sorted(names & ENGINE_PLUMBING)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_a_page_imports_neither_numpy_nor_an_http_library(path):
    found = top_levels(imported_modules(path)) & PAGE_FORBIDDEN_LIBRARIES
    allowed = {library for page, library in PAGE_EXCEPTIONS if page == path.name}
    assert found <= allowed, (
        f"{path.name} imports {sorted(found - allowed)}: move that code into embedcore or ui"
    )
    assert allowed <= found, (
        f"{path.name} no longer imports {sorted(allowed - found)}: delete it from PAGE_EXCEPTIONS"
    )


def test_every_page_starts_inside_the_router():
    """Each page's first statement after its imports is ``ensure_routed()`` (ui/common/navigation.py says why)."""
    for path in PAGES:
        body = [
            node
            for node in ast.parse(path.read_text(encoding="utf-8")).body
            if not isinstance(node, ast.Import | ast.ImportFrom)
            and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))  # docstring
        ]
        first = body[0]
        assert (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Call)
            and getattr(first.value.func, "id", None) == "ensure_routed"
        ), f"{path.name}: the first statement is not ensure_routed()"


def test_the_router_imports_no_page():
    assert "pages" not in top_levels(imported_modules(ROOT / "app.py"))


def test_every_page_file_is_registered():
    from ui.common.navigation import PAGES as REGISTERED

    assert sorted(path for path, *_ in REGISTERED) == [f"pages/{p.name}" for p in PAGES]


#: The Streamlit modules the project may import: the package, AppTest (and what it exports),
#: and the command line that ``streamlit run`` is (scripts/serve.py starts it in-process).
PUBLIC_STREAMLIT = {"streamlit", "streamlit.testing.v1", "streamlit.web", "streamlit.web.cli"}


def _private_streamlit(names: set[str]) -> set[str]:
    return {
        name
        for name in names
        if name.split(".")[0] == "streamlit"
        and name not in PUBLIC_STREAMLIT
        and not name.startswith("streamlit.testing.v1.")  # from streamlit.testing.v1 import AppTest
    }


def test_no_private_streamlit_internals():
    """Nothing reaches into Streamlit's runtime (``PagesManager`` and friends): it changes without notice."""
    everything = [
        ROOT / "app.py",
        *(p for folder in ("ui", "pages", "embedcore", "tests", "bench", "scripts") for p in _files(folder)),
    ]
    offenders = {
        str(p.relative_to(ROOT)): sorted(_private_streamlit(imported_modules(p))) for p in everything
    }
    assert not {path: names for path, names in offenders.items() if names}


def test_importing_every_engine_module_never_loads_streamlit():
    """In a fresh interpreter: every module of embedcore, found by pkgutil, imported; no Streamlit."""
    script = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        import embedcore
        heavy = sorted(m for m in ("torch", "sentence_transformers", "umap", "sklearn") if m in sys.modules)
        assert not heavy, f"import embedcore loaded {heavy}: heavy libraries load on first use"
        modules = [m.name for m in pkgutil.walk_packages(embedcore.__path__, "embedcore.")]
        for name in modules:
            importlib.import_module(name)
        loaded = sorted(m for m in ("streamlit", "ui", "pages") if m in sys.modules)
        assert not loaded, f"importing embedcore loaded {loaded}"
        print(len(modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # pkgutil names every module and every sub-package (its __init__.py); only embedcore's own is not listed.
    engine_files = [p for p in _files("embedcore") if p != ROOT / "embedcore" / "__init__.py"]
    assert int(done.stdout.split()[-1]) == len(engine_files)  # every module was imported


# --- cited documents ----------------------------------------------------------------------------

#: A document cited by its path from the repository root: upper-case names (docs/FACTS.md, README.md).
_CITED_DOCUMENT = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[A-Z][A-Z0-9_]*\.md)\b")
_TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".sh", ".cfg", ".example"}


def _project_text_files() -> list[Path]:
    skip = {".git", ".venv", "node_modules", "artifacts", "results", "__pycache__"}
    return sorted(
        path
        for path in ROOT.rglob("*")
        if path.is_file()
        and (path.suffix in _TEXT_SUFFIXES or path.name == "Makefile")
        and not skip & set(path.relative_to(ROOT).parts)
    )


def test_every_cited_document_is_in_the_repository():
    """A docstring or comment that says "see docs/FACTS.md" points at a file a reader has."""
    missing = []
    for path in _project_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in _CITED_DOCUMENT.finditer(text):
            if not (ROOT / match.group(1)).is_file():
                line = text.count("\n", 0, match.start()) + 1
                missing.append(f"{path.relative_to(ROOT)}:{line}: {match.group(1)}")
        # A path on the author's machine is no citation either.
        if path.name != "test_architecture.py" and "/work/" in text:
            missing.append(f"{path.relative_to(ROOT)}: cites a path under /work/")
    assert not missing, "\n".join(missing)


# --- caches -------------------------------------------------------------------------------------

#: The one module that holds Streamlit caches (ui/common/cached.py says what goes in them and why).
CACHE_MODULE = ROOT / "ui" / "common" / "cached.py"


def _streamlit_caches(path: Path) -> list[int]:
    """Lines of ``path`` that use ``st.cache_data`` / ``st.cache_resource`` (as decorator or call)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("cache_")
        and isinstance(node.value, ast.Name)
        and node.value.id == "st"
    )


def test_every_streamlit_cache_is_in_ui_cached():
    """One module holds every ``st.cache_*``: a newcomer finds all of them, and their keys, in one place."""
    outside = {
        f"{path.relative_to(ROOT)}:{line}"
        for path in [ROOT / "app.py", *_files("ui"), *PAGES]
        if path != CACHE_MODULE
        for line in _streamlit_caches(path)
    }
    assert not outside, sorted(outside)
    assert _streamlit_caches(CACHE_MODULE)  # the rule above is not met by finding nothing
