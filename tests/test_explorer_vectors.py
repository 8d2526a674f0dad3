"""AppTest of the explorer on files of texts *with* vectors: upload, the server folder, the limits.

The vectors are test fixtures (seeded, clustered by label): what is tested is that the page shows
a file's vectors as they are — no model is loaded, nothing is embedded — and how it behaves at
sizes where pair tables and t-SNE must stop.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from embedcore import io as eio
from tests.apptest import plain_messages
from ui.common import state

PAGE = "pages/explorer.py"
MODEL = "test/vectors-8"


def fixture_table(n: int, d: int = 8) -> tuple[list[str], list[str], np.ndarray]:
    """Test fixture: ``n`` texts in three labelled groups, each group's vectors around its own centre."""
    rng = np.random.default_rng(3)
    labels = [("alpha", "beta", "gamma")[i % 3] for i in range(n)]
    centres = rng.normal(size=(3, d)) * 4
    vectors = (centres[[i % 3 for i in range(n)]] + rng.normal(size=(n, d))).astype(np.float32)
    return [f"text {i} of group {labels[i]}" for i in range(n)], labels, vectors


def open_explorer(make_app, **values):
    at = make_app(state={state.PROVIDER_KIND: "local", "explorer_method": "pca", **values}, timeout=120)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def map_points(at) -> int:
    """Points of the map's text traces (Plotly's typed arrays decoded as the browser would)."""
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith("-explorer_map")]
    assert charts, [c.proto.id for c in at.get("plotly_chart")]
    total = 0
    for trace in json.loads(charts[0].proto.spec)["data"]:
        if trace.get("name") in ("names", "links") or str(trace.get("name", "")).startswith("matches"):
            continue
        x = trace["x"]
        total += (
            len(base64.b64decode(x["bdata"])) // np.dtype(x["dtype"]).itemsize
            if isinstance(x, dict)
            else len(x)
        )
    return total


def selection_table(at):
    """The selected texts with their neighbours (AppTest gives dataframes no keys)."""
    (frame,) = [d.value for d in at.dataframe if "neighbour" in d.value.columns]
    return frame


def plain(elements) -> str:
    """The texts of message elements without the markdown escapes the page adds."""
    return " ".join(e.value for e in elements).replace("\\", "")


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


@pytest.fixture
def vectors_dir(tmp_path, monkeypatch):
    folder = tmp_path / "vectors"
    folder.mkdir()
    texts, labels, vectors = fixture_table(60)
    (folder / "sixty.parquet").write_bytes(eio.to_parquet_bytes(texts, vectors, labels=labels, model=MODEL))
    texts, labels, vectors = fixture_table(45)
    (folder / "forty-five.npz").write_bytes(eio.to_npz_bytes(texts, vectors, labels=labels, model=MODEL))
    (folder / "notes.txt").write_text("not a file of vectors")
    monkeypatch.setenv("EMBEDCORE_VECTORS_DIR", str(folder))
    return folder


def test_an_uploaded_parquet_is_shown_without_embedding(make_app):
    texts, labels, vectors = fixture_table(60)
    at = open_explorer(make_app, explorer_source="upload")
    data = eio.to_parquet_bytes(texts, vectors, labels=labels, model=MODEL)
    at.file_uploader(key="explorer_upload").upload("mine.parquet", data).run()
    assert not at.exception, at.exception
    assert "vectors included (8 dimensions, test/vectors\\-8) — nothing to embed" in captions(at)
    assert map_points(at) == 60
    # (markdown-escaped) the file's model, not the sidebar's
    assert "Embedded with **vectors\\-8**" in captions(at)
    assert at.session_state[state.RESULTS] == {}  # no embedding call was made
    view = at.session_state["explorer_view"]
    np.testing.assert_array_equal(view["result"].vectors, vectors)
    # A rerun does not read the file again: the same table object stays in the session.
    table = at.session_state[state.TEXTS]
    at.run()
    assert at.session_state[state.TEXTS] is table


def test_a_broken_file_of_vectors_is_refused_with_its_reason(make_app):
    texts, _, vectors = fixture_table(10)
    vectors[4, 2] = np.nan
    at = open_explorer(make_app, explorer_source="upload")
    at.file_uploader(key="explorer_upload").upload("nan.npz", eio.to_npz_bytes(texts, vectors)).run()
    assert not at.exception, at.exception
    shown = plain(at.warning)
    assert "NaN or infinite values (first at row 5)" in shown, shown
    at2 = open_explorer(make_app, explorer_source="upload")
    at2.file_uploader(key="explorer_upload").upload("v.npy", eio.to_npy_bytes(vectors)).run()
    assert "holds only the vectors, not their texts" in plain(at2.warning)


def test_the_server_folder_is_offered_only_when_configured(make_app, vectors_dir, monkeypatch):
    at = open_explorer(make_app, explorer_source="folder")
    assert "Vectors on the server" in at.radio(key="explorer_source").options
    chooser = at.selectbox(key="explorer_folder_file")
    assert chooser.options == ["forty-five.npz", "sixty.parquet"]  # not notes.txt
    assert map_points(at) == 45
    chooser.set_value("sixty.parquet").run()
    assert not at.exception, at.exception
    assert map_points(at) == 60 and at.session_state[state.RESULTS] == {}

    # The Embed page embeds what it gets: no folder of vectors there.
    at.switch_page("pages/embed.py").run()
    assert not at.exception, at.exception
    assert "Vectors on the server" not in at.radio(key="embed_source").options

    monkeypatch.delenv("EMBEDCORE_VECTORS_DIR")
    at = open_explorer(make_app)
    assert "Vectors on the server" not in at.radio(key="explorer_source").options


def test_pairs_and_tsne_stop_above_their_limits_with_a_message(make_app, vectors_dir, monkeypatch):
    import embedcore.analysis.explore
    from ui.explorer import widgets as explorer_widgets

    # The same code path as 100,000 texts, at test size: lower the limits, not the data.
    monkeypatch.setattr(embedcore.analysis.explore, "PAIRS_MAX_ROWS", 50)
    monkeypatch.setattr(explorer_widgets, "TSNE_MAX_POINTS", 50)
    at = open_explorer(make_app, explorer_source="folder", explorer_folder_file="sixty.parquet")
    at.session_state["explorer_method"] = "tsne"
    at.run()
    assert not at.exception, at.exception
    infos = plain_messages(at.info)  # the engine's sentence is shown escaped, as markdown
    assert "t-SNE maps up to 50 texts here" in infos and "Showing PCA instead" in infos
    assert map_points(at) == 60

    at.session_state["explorer_tab"] = "Pairs"
    at.run()
    assert not at.exception, at.exception
    assert "this tab works up to 50 texts" in " ".join(i.value for i in at.info)
    assert not at.dataframe  # no pair table was computed


def test_a_file_above_the_heatmap_limit_gets_the_block_heatmap(make_app, tmp_path, monkeypatch):
    texts, labels, vectors = fixture_table(400)  # above the heatmap's 300 cells a side
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "four-hundred.parquet").write_bytes(eio.to_parquet_bytes(texts, vectors, labels=labels))
    monkeypatch.setenv("EMBEDCORE_VECTORS_DIR", str(folder))
    at = open_explorer(make_app, explorer_source="folder", explorer_tab="Heatmap")
    assert not at.exception, at.exception
    blocks = [c for c in at.get("plotly_chart") if c.proto.id and "heatmap_blocks" in c.proto.id]
    assert blocks, "above the cell limit the heatmap shows mean cosine between the labels"
    names = json.loads(blocks[0].proto.spec)["data"][0]["x"]
    assert sorted(names) == sorted(f"{label} ({labels.count(label)})" for label in set(labels))


def test_the_large_sample_is_in_the_chooser_with_its_size(make_app):
    at = open_explorer(make_app)
    options = at.selectbox(key="explorer_sample").options
    assert "docs — 10,000 texts" in options and "topics" in options
    assert at.selectbox(key="explorer_sample").value == "topics"  # the default stays small


@pytest.mark.slow  # the first UMAP fit of a process compiles numba code
def test_a_large_umap_is_computed_in_the_background_while_pca_is_shown(make_app, vectors_dir, monkeypatch):
    import time

    from ui.explorer import widgets as explorer_widgets

    monkeypatch.setattr(explorer_widgets, "BACKGROUND_ABOVE", 50)  # 60 texts stand in for 100,000
    monkeypatch.setattr(explorer_widgets, "_large_maps", type(explorer_widgets._large_maps)())
    at = open_explorer(make_app, explorer_source="folder", explorer_folder_file="sixty.parquet")
    at.session_state["explorer_method"] = "umap"
    at.run()
    assert not at.exception, at.exception
    assert "is being computed in the background" in plain(at.info)
    assert "PCA of 60 texts" in captions(at) and map_points(at) == 60  # usable meanwhile
    assert "in the background — " in captions(at)  # the progress line, with the time so far
    # Meanwhile the page reruns as usual: a Find works on the PCA map.
    at.text_input(key="explorer_find").set_value("group alpha").run()
    assert not at.exception, at.exception
    assert "**20 matches** of 60" in [m.value for m in at.markdown]

    deadline = time.monotonic() + 300
    while explorer_widgets.background_maps_running():
        assert time.monotonic() < deadline, "the background map never finished"
        time.sleep(0.5)
    at.run()  # what the progress fragment triggers when the job is done
    assert not at.exception, at.exception
    assert "UMAP of 60 texts" in captions(at), captions(at)
    assert "in the background" not in plain(at.info)


def test_a_long_list_is_digested_once_and_equal_lists_digest_alike(monkeypatch):
    from ui.common import cached

    texts = [f"sentence number {i}" for i in range(cached.DIGEST_MEMO_FROM)]
    first = cached.digest_of(texts)
    assert cached.digest_of(list(texts)) == first  # a copy: computed again, same digest
    assert cached.digest_of([*texts[:-1], "another"]) != first

    calls = []
    real = cached.hashlib.blake2b
    monkeypatch.setattr(cached.hashlib, "blake2b", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert cached.digest_of(texts) == first and not calls  # the same list: remembered
    assert cached.digest_of(texts[:5]) and calls  # short lists are always digested


def test_the_selection_table_is_not_recomputed_when_the_selection_stays(make_app, vectors_dir, monkeypatch):
    import embedcore.analysis.explore
    from ui.explorer import widgets as explorer_widgets

    calls = []
    real = embedcore.analysis.explore.neighbours_frame
    monkeypatch.setattr(
        embedcore.analysis.explore, "neighbours_frame", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    at = open_explorer(make_app, explorer_source="folder", explorer_folder_file="sixty.parquet")
    dataset = at.session_state["explorer_view"]["dataset"]
    at.session_state[explorer_widgets.SELECTION] = {"dataset": dataset, "rows": [1, 2, 3]}
    at.run()
    assert len(calls) == 1 and len(selection_table(at)) == 15
    at.text_input(key="explorer_find").set_value("alpha").run()  # another change: same selection
    assert len(calls) == 1
    at.number_input(key="explorer_neighbours_k").set_value(2).run()
    assert len(calls) == 2 and len(selection_table(at)) == 6


def test_a_background_map_that_fails_says_why_on_the_next_run(make_app, vectors_dir, monkeypatch):
    import threading
    import time

    from embedcore.errors import ProjectionInputError
    from ui.explorer import widgets as explorer_widgets

    real = explorer_widgets.project_with_info
    first_run_over = threading.Event()

    def failing(vectors, method, *args, **kwargs):
        if method == "umap":  # what project_with_info raises for a layout it cannot draw
            first_run_over.wait(60)
            raise ProjectionInputError("UMAP produced non-finite coordinates for these points.")
        return real(vectors, method, *args, **kwargs)

    monkeypatch.setattr(explorer_widgets, "project_with_info", failing)
    monkeypatch.setattr(explorer_widgets, "BACKGROUND_ABOVE", 50)
    monkeypatch.setattr(explorer_widgets, "_large_maps", type(explorer_widgets._large_maps)())
    at = open_explorer(make_app, explorer_source="folder", explorer_folder_file="sixty.parquet")
    at.session_state["explorer_method"] = "umap"
    at.run()
    assert "is being computed in the background" in plain(at.info)
    first_run_over.set()
    deadline = time.monotonic() + 60
    while explorer_widgets.background_maps_running():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    at.run()
    assert not at.exception, at.exception
    assert "UMAP produced non-finite coordinates" in plain(at.info) and map_points(at) == 60
    assert not explorer_widgets.background_maps_running() and not explorer_widgets._jobs
