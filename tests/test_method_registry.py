"""The projection-method registry: a method is one function plus one registration, and the engine,
the explorer's controls (AppTest) and the CLI's help all read it.

The toy method (tests/toy_projection.py) is added exactly as ARCHITECTURE.md's recipe says; the CLI
test finds it the way an installed package adds one, through the ``embedcore.projection_methods``
entry point group, in a fresh interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embedcore.analysis.projection import (
    ENTRY_POINT_GROUP,
    display_name,
    get_method,
    method_names,
    project,
    project_with_info,
    unregister_method,
)
from embedcore.errors import InputError, ProjectionInputError
from tests.apptest import chart, open_page, plain_messages, plotly_array

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def toy():
    """The toy method registered for one test, and gone afterwards."""
    import importlib

    import tests.toy_projection as module

    importlib.reload(module)  # registers it (again, after an earlier test removed it)
    yield module.TOY
    unregister_method(module.TOY.name)


def test_builtin_methods_are_registered_once_each_with_their_names():
    assert method_names()[:3] == ("umap", "pca", "tsne")
    assert [display_name(m) for m in ("umap", "pca", "tsne")] == ["UMAP", "PCA", "t-SNE"]
    assert get_method("pca").min_points == 1 and get_method("umap").min_points == 3
    assert [s.name for s in get_method("umap").settings] == ["n_neighbors", "min_dist"]
    with pytest.raises(InputError, match="choose one of umap, pca, tsne"):
        get_method("mystery")


def test_a_registered_method_is_projected_with_its_defaults_params_and_checks(toy):
    assert "ladder" in method_names() and display_name("ladder") == "Toy ladder"
    X = np.random.default_rng(0).standard_normal((5, 4))
    result = project_with_info(X, "ladder", spacing=3.0)
    assert result.coords[:, 0].tolist() == [0.0, 3.0, 6.0, 9.0, 12.0]
    assert result.params == {"spacing": 3.0} and result.notes == ("A toy map: the texts in input order.",)
    assert project(X, "LADDER")[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]  # its default spacing
    with pytest.raises(ProjectionInputError, match="Toy ladder needs at least 2 texts; you have 1"):
        project(X[:1], "ladder")


def test_a_method_gone_from_the_registry_is_refused(toy):
    unregister_method("ladder")
    assert "ladder" not in method_names()
    with pytest.raises(InputError, match="Unknown projection method 'ladder'"):
        project(np.eye(3), "ladder")


@pytest.mark.slow  # the explorer embeds its sample with the real bundled model
def test_the_explorer_offers_a_registered_method_with_its_setting_and_draws_its_map(make_app, toy):
    at = open_page(make_app(state={"explorer_method": "pca"}, timeout=120), "pages/explorer.py")
    method = at.segmented_control(key="explorer_method")
    assert method.options == ["UMAP", "PCA", "t-SNE", "Toy ladder"]  # display names, registry order
    assert at.segmented_control(key="explorer_dims").options == ["2-D", "3-D"]

    method.set_value("ladder").run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="explorer_dims").options == ["2-D"]  # it registered no 3-D
    spacing = at.slider(key="explorer_ladder_spacing")
    assert spacing.label == "Toy ladder spacing" and (spacing.min, spacing.max, spacing.value) == (1, 10, 1)
    spacing.set_value(4).run()
    assert not at.exception, at.exception
    captions = plain_messages(at.caption)
    assert "Toy ladder of 100 texts · spacing 4 · computed in" in captions
    assert "A toy map: the texts in input order." in captions
    xs, rows = [], []
    for trace in chart(at, "explorer_map")["data"]:
        if trace.get("customdata") is not None and trace.get("name") not in ("names", "links"):
            xs.extend(plotly_array(trace["x"]).tolist())
            rows.extend(_rows(trace))
    assert len(xs) == 100 and sorted(xs) == [4.0 * r for r in sorted(rows)]
    assert all(x == 4.0 * r for x, r in zip(xs, rows, strict=True))


def _rows(trace) -> list[int]:
    data = trace["customdata"]
    array = plotly_array(data) if isinstance(data, dict) else np.asarray(data, dtype=object)
    return [int(r) for r in np.asarray(array).reshape(len(plotly_array(trace["x"])), -1)[:, 0]]


def _toy_installed(folder: Path) -> dict:
    """An environment in which tests/toy_projection.py is an installed plugin (a dist-info on the path)."""
    info = folder / "toy_projection-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-projection\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nladder = tests.toy_projection\n")
    path = os.pathsep.join([str(folder), str(ROOT)])
    return {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1"}


def test_the_cli_help_lists_every_registered_method_and_projects_with_a_plugin(tmp_path):
    env = _toy_installed(tmp_path)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "embedcore", *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    top = cli("--help")
    assert top.returncode == 0, top.stderr
    assert "(umap, pca, tsne, ladder)" in " ".join(top.stdout.split())
    sub = cli("project", "--help")
    assert "ladder: Toy ladder" in " ".join(sub.stdout.split())

    np.save(tmp_path / "vectors.npy", np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32))
    done = cli("project", "vectors.npy", "--method", "ladder", "-o", "map.csv")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "map.csv").read_text().splitlines() == ["x,y", "0,0", "1,0", "2,0", "3,0"]
    assert "4 vectors mapped by Toy ladder" in done.stderr

    # Without the plugin, the method is unknown: one clear line, no traceback.
    plain = subprocess.run(
        [
            sys.executable,
            "-m",
            "embedcore",
            "project",
            str(tmp_path / "vectors.npy"),
            *("--method", "ladder", "-o", "x.csv"),
        ],
        cwd=ROOT,  # not tmp_path: ``-m`` puts the working directory, and its dist-info, on the path
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert plain.returncode == 2 and "invalid choice: 'ladder'" in plain.stderr
    assert "Traceback" not in plain.stderr
