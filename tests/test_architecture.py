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
from dataclasses import dataclass
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


# --- the module graph: cycles, private names, pandas in pages, sizes (issue 20) --------------------

#: The packages whose modules form the graph checked for cycles and private imports.
GRAPH_PACKAGES = ("embedcore", "ui")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: Every module of embedcore and ui by dotted name -> its file.
MODULES: dict[str, Path] = {_module_name(p): p for folder in GRAPH_PACKAGES for p in _files(folder)}


def _is_type_checking(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``): imports under it never run."""
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING"
    )


def _run_time_imports(tree: ast.AST):
    """Every import statement that runs (module level and inside functions), not under TYPE_CHECKING."""
    for node in ast.iter_child_nodes(tree):
        if _is_type_checking(node):
            yield from (child for orelse in node.orelse for child in _run_time_imports_of(orelse))
            continue
        yield from _run_time_imports_of(node)


def _run_time_imports_of(node: ast.AST):
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _run_time_imports(node)


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    if not node.level:
        return node.module or ""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


@dataclass(frozen=True)
class Imported:
    """One name a module imports from a module of the project: ``target`` is a module of MODULES."""

    target: str
    name: str | None  # the name taken from it (None: the module itself)
    line: int


def project_imports(path: Path) -> list[Imported]:
    """What ``path`` imports from embedcore and ui at run time, module by module."""
    found = []
    for node in _run_time_imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Imported(a.name, None, node.lineno) for a in node.names if a.name in MODULES]
            continue
        module = _absolute(node, path)
        for alias in node.names:
            if f"{module}.{alias.name}" in MODULES:  # from ui.common import state: the module
                found.append(Imported(f"{module}.{alias.name}", None, node.lineno))
            elif module in MODULES:
                found.append(Imported(module, alias.name, node.lineno))
    return found


def import_graph() -> dict[str, set[str]]:
    return {name: {i.target for i in project_imports(path)} - {name} for name, path in MODULES.items()}


def import_cycles(graph: dict[str, set[str]]) -> dict[tuple[str, ...], list[str]]:
    """Every group of modules that import each other (sorted) -> one cycle through it (a -> b -> a)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan; the graph has ~150 nodes, recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    cycles = {}
    for group in groups:
        start = min(group)
        paths = {start: [start]}  # breadth first inside the group: the shortest way back to start
        queue = [start]
        while queue:
            node = queue.pop(0)
            nxt_nodes = sorted(graph[node] & group)
            if start in nxt_nodes:
                cycles[tuple(sorted(group))] = [*paths[node], start]
                break
            for nxt in nxt_nodes:
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    queue.append(nxt)
    return cycles


#: Groups of modules importing each other known when the five issue-20 branches were cut, each in files another engineer is
#: redesigning (each group: its modules, sorted). The list can only shrink: the test fails when
#: an entry no longer exists, and names a group that changed as a new one.
KNOWN_CYCLES: set[tuple[str, ...]] = set()


def test_no_import_cycles_between_engine_and_ui_modules():
    """No module of embedcore or ui imports, even inside a function, a module that imports it back."""
    found = import_cycles(import_graph())
    new = [
        f"{' -> '.join(cycle)} (all of {list(key)})"
        for key, cycle in found.items()
        if key not in KNOWN_CYCLES
    ]
    assert not new, "import cycles (rule: no import cycles; break each by moving the shared code down):\n" + (
        "\n".join(new)
    )
    gone = KNOWN_CYCLES - set(found)
    assert not gone, f"these cycles are gone: delete them from KNOWN_CYCLES: {sorted(gone)}"


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path):
    """The rule above is not met by finding nothing: a toy graph with one cycle gives that cycle."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert import_cycles(graph) == {("a", "b", "c"): ["a", "b", "c", "a"]}
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from embedcore.figures import scatter\n")
    assert [i.target for i in project_imports(module)] == ["embedcore.figures.scatter"]


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_names_taken(path: Path) -> list[str]:
    """``from other import _name`` and ``other_module._name`` in ``path``, other being embedcore or ui."""
    own = (
        _module_name(path)
        if path.is_relative_to(ROOT / "embedcore") or path.is_relative_to(ROOT / "ui")
        else ""
    )
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    taken = []
    bound: dict[str, str] = {}  # local name -> project module it stands for
    for node in _run_time_imports(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES and alias.asname:
                    bound[alias.asname] = alias.name
            continue
        module = _absolute(node, path)
        for alias in node.names:
            if f"{module}.{alias.name}" in MODULES:
                bound[alias.asname or alias.name] = f"{module}.{alias.name}"
            elif module in MODULES and module != own and _is_private(alias.name):
                taken.append(f"line {node.lineno}: from {module} import {alias.name}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and bound.get(node.value.id, own) != own
            and _is_private(node.attr)
        ):
            taken.append(f"line {node.lineno}: {bound[node.value.id]}.{node.attr}")
    return taken


#: Private names taken across modules in files another engineer is redesigning (issue 20);
#: the list can only shrink: the test fails when an entry is no longer needed.
KNOWN_PRIVATE_IMPORTS: set[str] = set()


@pytest.mark.parametrize(
    "path", [*_files("embedcore"), *_files("ui"), *PAGES], ids=lambda p: str(p.relative_to(ROOT))
)
def test_no_private_name_is_imported_from_another_module(path):
    """A ``_name`` is its module's own business: another module that needs it needs a public name."""
    where = str(path.relative_to(ROOT))
    taken = private_names_taken(path)
    if where in KNOWN_PRIVATE_IMPORTS:
        assert taken, f"{where} takes no private name any more: delete it from KNOWN_PRIVATE_IMPORTS"
        return
    assert not taken, f"{where} (rule: no _private name from another module; make it public):\n" + "\n".join(
        taken
    )


def test_the_private_name_check_sees_both_spellings(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from embedcore import io as eio\nfrom embedcore.io.table import _x\neio._y\neio.z\n")
    assert private_names_taken(module) == [
        "line 2: from embedcore.io.table import _x",
        "line 3: embedcore.io._y",
    ]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_a_page_imports_no_pandas(path):
    """Tables are built in embedcore.figures.tables or ui; a page only shows them."""
    assert "pandas" not in top_levels(imported_modules(path)), f"{path.name} (rule: no pandas in pages)"


#: Most lines in one module: an engine module holds one concern, a ui module one part of a page.
ENGINE_MAX_LINES = 600
UI_MAX_LINES = 400


def _long_modules() -> dict[str, int]:
    sizes = {}
    for folder, most in (("embedcore", ENGINE_MAX_LINES), ("ui", UI_MAX_LINES)):
        for path in _files(folder):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > most:
                sizes[str(path.relative_to(ROOT))] = lines
    return sizes


def test_no_engine_module_over_600_lines_and_no_ui_module_over_400():
    long = _long_modules()
    assert not long, (
        f"modules too long (rule: embedcore <= {ENGINE_MAX_LINES} lines, ui <= {UI_MAX_LINES}; "
        f"split by concern): {long}"
    )


# --- registry-driven lists (issue 20 point 2) -----------------------------------------------------

#: The names a registry owns: a list, tuple, set or dict keys naming two or more of them is a
#: copy of the registry's list, which goes stale the day a method or a provider kind is added.
REGISTERED_NAMES = {
    "projection method": {"umap", "pca", "tsne"},
    "provider kind": {"local", "ionos", "custom"},
}
#: The modules that hold (and may spell out) those lists: the registries and their registrations.
REGISTRY_MODULES = {
    "embedcore/analysis/methods.py",  # R2: the projection-method registry
    "embedcore/analysis/reducers.py",  # R2: the methods registered
    "embedcore/providers/registry.py",  # R1: the provider-kind registry
}


def registry_copies(path: Path) -> list[str]:
    """Literal collections in ``path`` that name two or more methods or provider kinds."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [key for key in node.keys if key is not None]
        else:
            continue
        words = {
            item.value for item in items if isinstance(item, ast.Constant) and isinstance(item.value, str)
        }
        for what, names in REGISTERED_NAMES.items():
            if len(words & names) >= 2:
                found.append(f"line {node.lineno}: {what}s {sorted(words & names)}")
    return found


#: Copies of a registry's list known when the registries were being built (R1, R2), to be read
#: from the registry instead. The list can only shrink: the test fails when an entry is no longer needed.
KNOWN_REGISTRY_COPIES: set[str] = {
    # Not the map methods: HDBSCAN's own density-reduction option ("umap" per BERTopic's recipe,
    # "pca" = scikit-learn's PCA, or None), validated where it is used.
    "embedcore/analysis/clustering.py",
}


def test_no_list_of_methods_or_provider_kinds_outside_the_registries():
    """The UI and the CLI read the methods and provider kinds from the registries (issue 20 point 2)."""
    copies = {
        str(path.relative_to(ROOT)): registry_copies(path)
        for path in [*_files("embedcore"), *_files("ui"), *PAGES]
        if str(path.relative_to(ROOT)) not in REGISTRY_MODULES
    }
    copies = {where: found for where, found in copies.items() if found}
    new = {where: found for where, found in copies.items() if where not in KNOWN_REGISTRY_COPIES}
    assert not new, f"lists that copy a registry (rule: read them from the registry): {new}"
    done = KNOWN_REGISTRY_COPIES - set(copies)
    assert not done, f"no copy left: delete from KNOWN_REGISTRY_COPIES: {sorted(done)}"


def test_the_registry_copy_check_sees_a_copied_list(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('METHODS = ("umap", "pca")\nKINDS = {"local": 1, "custom": 2}\nONE = ["umap"]\n')
    assert registry_copies(module) == [
        "line 1: projection methods ['pca', 'umap']",
        "line 2: provider kinds ['custom', 'local']",
    ]
