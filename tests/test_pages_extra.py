"""AppTest tests of the Compare, Semantic search and Across-languages pages.

The bundled models are real (all-MiniLM-L6-v2 and its model2vec distillation). The static
model is built once per test session into a shared directory, linked into each test's own
cache dir; set ``EMBEDCORE_TEST_MODELS_DIR`` to keep it between sessions. The API path talks
to a real HTTP server on 127.0.0.1 (pytest-httpserver).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from embedcore import catalog, search

MINILM = f"local|{catalog.MINILM_ID}"
STATIC = f"local|{catalog.MINILM_STATIC_ID}"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """Shared build directory of the static model (the same path tests/test_search.py uses)."""
    kept = os.environ.get("EMBEDCORE_TEST_MODELS_DIR")
    return Path(kept) if kept else tmp_path_factory.getbasetemp() / "shared-models"


@pytest.fixture
def app(make_app, app_env, models_dir):
    """``app(**kw)`` → an AppTest of app.py with a 180 s timeout; the static model is shared."""
    models_dir.mkdir(parents=True, exist_ok=True)
    app_env.mkdir(parents=True, exist_ok=True)
    # LocalModel builds into <cache dir>/models and resolves the link, so every test (and
    # every fresh AppTest) loads the one build.
    (app_env / "models").symlink_to(models_dir, target_is_directory=True)

    def factory(**kwargs):
        return make_app(timeout=180, **kwargs)

    return factory


def open_page(at, page: str):
    # Straight to the page: the default page (the explorer) would embed and project first.
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def messages(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def frame_with(at, column: str):
    """The first table on the page with this column (st.dataframe keys are not visible to AppTest)."""
    for element in at.dataframe:
        if column in element.value.columns:
            return element.value
    raise AssertionError(f"no table with a {column!r} column")


def figures(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def rendered(at) -> str:
    parts: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


# --- Compare models --------------------------------------------------------------------------------


@pytest.mark.slow
def test_compare_page_shows_minilm_against_the_static_model_without_configuration(app):
    at = open_page(app(), "pages/compare.py")
    assert not at.error
    assert at.selectbox(key="compare_model_a").value == MINILM
    assert at.selectbox(key="compare_model_b").value == STATIC

    shown = metrics(at)
    spearman = float(shown["Spearman (pair similarities)"])
    jaccard = float(shown["Mean Jaccard@5"])
    # Related models (one distilled from the other) agree clearly, but not perfectly.
    assert 0.3 < spearman < 0.99
    assert float(shown["Chance level"]) < jaccard < 1.0

    runs = frame_with(at, "dimensions")
    assert list(runs["dimensions"]) == [384, 256]
    assert (runs["tokens"] > 0).all() and (runs["embedded"] == 100).all()

    specs = figures(at)
    heatmaps = [s for s in specs if s["data"][0]["type"] == "heatmap"]
    assert len(heatmaps) == 2
    # Both heatmaps share model A's row order.
    assert heatmaps[0]["data"][0]["y"] == heatmaps[1]["data"][0]["y"]
    assert any(s["data"][0]["type"] == "scattergl" for s in specs)

    worst = frame_with(at, "jaccard")
    assert len(worst) == 15 and list(worst["jaccard"]) == sorted(worst["jaccard"])
    assert {
        "neighbours · A · all-MiniLM-L6-v2",
        "neighbours · B · all-MiniLM-L6-v2-static (model2vec)",
    } <= set(worst.columns)

    # A third model (the same static one): a pairs table appears; nothing is embedded again.
    at.toggle(key="compare_use_c").set_value(True).run()
    assert not at.exception and not at.error
    assert len(frame_with(at, "pairs compared")) == 3


@pytest.mark.slow
def test_compare_page_same_model_twice_agrees_perfectly(app):
    at = app(state={"compare_model_b": MINILM})
    open_page(at, "pages/compare.py")
    assert not at.error
    shown = metrics(at)
    assert shown["Spearman (pair similarities)"] == "1.000"
    assert shown["Mean Jaccard@5"] == "1.000"
    assert "same model appears twice" in messages(at.caption)


# --- Semantic search ---------------------------------------------------------------------------------


def _search(at, query: str, k: int = 5):
    at.text_input(key="search_query").input(query)
    at.number_input(key="search_k").set_value(k)
    at.button(key="FormSubmitter:search_form-Search").click().run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
def test_search_page_sample_collection_search_persist_and_delete(app, app_env):
    import streamlit as st

    at = open_page(app(), "pages/search.py")
    assert not at.error
    assert "No collections yet" in messages(at.info)
    assert at.selectbox(key="search_model").value == MINILM

    at.button(key="search_sample").click().run()
    assert not at.exception and not at.error, messages(at.error)
    assert at.selectbox(key="search_collection").value == search.SAMPLE_COLLECTION
    assert f"Built **{search.SAMPLE_COLLECTION}**" in messages(at.success)
    collection = frame_with(at, "chunking").iloc[0]
    assert collection["model"] == catalog.MINILM_ID and collection["documents"] == 5
    n_chunks = int(collection["chunks"])
    assert n_chunks > 20

    _search(at, "baking bread in the oven", k=4)
    assert not at.error
    hits = frame_with(at, "rank")
    assert list(hits["rank"]) == [1, 2, 3, 4]
    assert hits.loc[0, "source"] == "cooking.txt"
    assert list(hits["score"]) == sorted(hits["score"], reverse=True)
    assert {"chunk", "characters", "text"} <= set(hits.columns)

    # The map: one trace per document, the results outlined, the query as a star.
    spec = figures(at)[-1]
    traces = {t.get("name"): t for t in spec["data"]}
    assert {"cooking.txt", "space.txt", "neighbours", "query"} <= set(traces)
    outlined = traces["neighbours"]["customdata"]
    assert len(outlined["bdata"] if isinstance(outlined, dict) else outlined) > 0

    # A new session after a restart (caches dropped): the collection is read back from disk.
    st.cache_resource.clear()
    st.cache_data.clear()
    again = open_page(app(), "pages/search.py")
    assert not again.error
    assert again.selectbox(key="search_collection").value == search.SAMPLE_COLLECTION
    assert int(frame_with(again, "chunking").iloc[0]["chunks"]) == n_chunks
    _search(again, "rockets and astronauts", k=3)
    assert frame_with(again, "rank").loc[0, "source"] == "space.txt"
    assert (app_env / "collections.sqlite3").is_file()

    # Delete asks first, then removes it for good.
    again.button(key="search_delete").click().run()
    assert "cannot be undone" in messages(again.warning)
    assert again.selectbox(key="search_collection").value == search.SAMPLE_COLLECTION
    again.button(key="search_delete_yes").click().run()
    assert not again.exception and not again.error
    assert f"Deleted **{search.SAMPLE_COLLECTION}**" in messages(again.success)
    assert "No collections yet" in messages(again.info)
    from embedcore.collections import CollectionStore

    with CollectionStore(app_env / "collections.sqlite3") as store:
        assert store.list() == []


@pytest.mark.slow
def test_search_page_says_when_the_model_differs_and_reembeds(app):
    at = open_page(app(), "pages/search.py")
    at.button(key="search_sample").click().run()
    assert not at.error

    at.selectbox(key="search_model").set_value(STATIC).run()
    assert not at.exception
    text = messages(at.warning)
    assert f"was embedded with {catalog.MINILM_ID}" in text and catalog.MINILM_STATIC_ID in text
    assert at.button(key="FormSubmitter:search_form-Search").disabled

    at.button(key="search_reembed").click().run()
    assert not at.exception and not at.error
    new_name = f"{search.SAMPLE_COLLECTION} · all-MiniLM-L6-v2-static (model2vec)"
    assert at.selectbox(key="search_collection").value == new_name
    assert at.selectbox(key="search_model").value == STATIC
    assert "Re-embedded into" in messages(at.success)
    _search(at, "football match", k=3)
    assert not at.error and frame_with(at, "rank").loc[0, "source"] == "sports.txt"

    # Back to the original: the model follows the collection.
    at.selectbox(key="search_collection").set_value(search.SAMPLE_COLLECTION).run()
    assert at.selectbox(key="search_model").value == MINILM
    assert not any("was embedded with" in w.value for w in at.warning)


@pytest.mark.slow
def test_search_page_builds_a_collection_from_uploads_and_reports_bad_files(app):
    at = open_page(app(), "pages/search.py")
    build = "FormSubmitter:search_new-Build with sentence-transformers/all-MiniLM-L6-v2"
    bad = ("scan.pdf", b"%PDF-1.4 not a pdf", "application/pdf")
    at.file_uploader(key="search_files").set_value([bad])
    at.text_input(key="search_new_name").input("Manuals")
    at.button(key=build).click().run()
    assert not at.exception and not at.error
    assert "scan.pdf" in messages(at.warning) and "None of the files could be read" in messages(at.warning)

    notes = b"# Boiler\n\nBleed the radiators once a year.\n\nThe boiler pressure should be 1.5 bar."
    faq = b"question,answer\nHow do I reset the router?,Hold the reset button for ten seconds.\n"
    at.file_uploader(key="search_files").set_value(
        [bad, ("boiler.md", notes, "text/markdown"), ("faq.csv", faq, "text/csv")]
    )
    at.number_input(key="search_chunk_size").set_value(10)
    at.number_input(key="search_overlap").set_value(2)
    at.button(key=build).click().run()
    assert not at.exception and not at.error, messages(at.error)
    assert at.selectbox(key="search_collection").value == "Manuals"
    assert "Built **Manuals**" in messages(at.success) and "scan.pdf" in messages(at.warning)
    collection = frame_with(at, "chunking").iloc[0]
    assert collection["documents"] == 2 and collection["chunking"] == "10 words, overlap 2"

    _search(at, "radiator heating pressure", k=2)
    assert frame_with(at, "rank").loc[0, "source"] == "boiler.md"
    # The same name again is refused, and nothing on screen is lost.
    at.file_uploader(key="search_files").set_value([("boiler.md", notes, "text/markdown")])
    at.button(key=build).click().run()
    assert "exists already" in messages(at.warning)
    assert len(frame_with(at, "rank")) == 2
