"""End-to-end flows in headless chromium against a real ``streamlit run app.py`` (bundled model).

One server for the whole file (``app_server``); each test opens its own browser context,
so each is a new Streamlit session. What is checked is what a user sees: the page ran
without an exception, the charts were really drawn by Plotly (read back from the graph
div: ``_fullData`` and the SVG / WebGL layers), a mouse lasso on the map reaches the app,
downloads hold the right rows and columns.

Screenshots of every page go to ``tests/artifacts/`` (gitignored). With
``EMBEDCORE_UPDATE_DOCS=1`` the ones the README shows are also written to ``docs/``.
"""

from __future__ import annotations

import csv
import html
import io
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit_browser import (
    assert_healthy,
    element,
    grid_text,
    lasso_around,
    metrics,
    open_page,
    open_sample_collection,
    plot,
    plot_state,
    rerun,
    save_doc_screenshot,
    scatter_points,
    screenshot,
    title,
    wait_for_text,
)

from embedcore import io as eio
from embedcore.providers import catalog

pytestmark = pytest.mark.slow

TOPICS = ("cooking", "music", "programming", "space", "sports")
#: Things that look like a credential: bearer headers, OpenAI-style keys, JWTs, env names.
TOKEN_LIKE = re.compile(
    r"bearer\s|sk-[A-Za-z0-9]{8,}|eyJ[A-Za-z0-9_-]{10,}|api[_-]?key|IONOS_API_TOKEN", re.I
)


@pytest.fixture(scope="module")
def topics():
    return eio.load_sample("topics")


def for_docs(shot, name: str) -> None:
    """Refresh ``docs/<name>.png`` from a screenshot, when asked to (``EMBEDCORE_UPDATE_DOCS=1``)."""
    if os.environ.get("EMBEDCORE_UPDATE_DOCS") == "1":
        save_doc_screenshot(shot, name)


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def click_tab(page, name: str) -> None:
    tab = page.get_by_role("tab", name=name, exact=True)
    with rerun(page):
        tab.click()
    assert tab.get_attribute("aria-selected") == "true"


# --- Similarity explorer (the default page) ----------------------------------------------------


def test_explorer_map_selection_heatmap_and_query(page, topics):
    # The default page embeds the topics sample by itself: nothing to type or click.
    open_page(page, "")
    assert title(page) == "Similarity explorer"
    shown = metrics(page, "Texts", "Dimensions")
    assert shown["Texts"] == "100" and shown["Dimensions"] == "384", shown

    # --- the map: UMAP of 100 points, one SVG marker per text, coloured by label
    graph = plot(page, "explorer_map")
    state = plot_state(graph)
    assert state["mainSvg"] >= 1
    assert sorted(t["name"] for t in state["traces"]) == list(TOPICS), state["traces"]
    assert sum(t["n"] for t in state["traces"]) == 100
    assert {t["type"] for t in state["traces"]} == {"scatter"}  # ≤ 1000 points: SVG, not WebGL
    assert state["svgPoints"] == 100, state
    assert state["dragmode"] == "pan"  # a click selects a point; the lasso is a modebar tool
    assert "UMAP of 100 texts" in page.get_by_text("UMAP of 100 texts").first.inner_text()
    points = scatter_points(graph)
    assert sorted(p["row"] for p in points) == list(range(100))
    xs, ys = [p["px"] for p in points], [p["py"] for p in points]
    assert max(xs) - min(xs) > 200 and max(ys) - min(ys) > 200, "the map is collapsed"
    assert_healthy(page)
    screenshot(page, "explorer-map")

    # --- a real mouse lasso around a dense spot; Streamlit's on_select must get it
    def crowd(p):  # distance to the 3rd-nearest other marker
        return sorted(math.hypot(q["px"] - p["px"], q["py"] - p["py"]) for q in points)[3]

    points = scatter_points(graph)  # again: the full-page screenshot moved the scroll position
    centre = min(points, key=crowd)
    graph.hover()
    graph.locator('.modebar-btn[data-attr="dragmode"][data-val="lasso"]').click()
    with rerun(page):
        expected = lasso_around(page, graph, points, centre)
    assert len(expected) >= 2
    heading = page.get_by_role("heading", name=f"{len(expected)} selected")
    heading.wait_for()
    table = page.get_by_role("tabpanel").locator('[data-testid="stDataFrame"]').first
    listed = grid_text(table)
    first = topics.texts[expected[0]]
    assert first in listed, (first, listed[:500])
    # Every selected text, with its neighbours, is in the download.
    with page.expect_download() as download:
        page.get_by_role("button", name="Selected + neighbours (CSV)").click()
    rows = read_csv(download.value.path())
    assert sorted({int(r["row"]) for r in rows}) == expected
    assert all(r["text"] == topics.texts[int(r["row"])] for r in rows)
    assert all(r["neighbour"] == topics.texts[int(r["neighbour_row"])] for r in rows)
    assert len(rows) == 5 * len(expected)  # 5 neighbours each, by default
    screenshot(page, "explorer-selection")

    # --- the heatmap: the full 100 × 100 cosine matrix, drawn as an image layer
    click_tab(page, "Heatmap")
    heat = plot_state(plot(page, "explorer_heatmap"))
    assert heat["traces"][0]["type"] == "heatmap"
    assert (heat["traces"][0]["rows"], heat["traces"][0]["cols"]) == (100, 100)
    assert heat["heatmapImages"] >= 1, heat
    assert_healthy(page)
    screenshot(page, "explorer-heatmap")

    # --- a typed query, Enter, a ranking
    click_tab(page, "Query")
    box = element(page, "explorer_query").locator("input")
    box.fill("best selling music artists")
    with rerun(page):
        box.press("Enter")
    ranking = plot(page, "explorer_ranking")
    bars = ranking.evaluate(
        "g => ({type: g._fullData[0].type, x: Array.from(g._fullData[0].x), hover: g._fullData[0].hovertext})"
    )
    assert bars["type"] == "bar" and len(bars["x"]) == 10  # 10 results by default
    assert bars["x"] == sorted(bars["x"], reverse=True) and 0.2 < bars["x"][0] < 1.0, bars["x"]
    ranked = [html.unescape(h.replace("<br>", " ")) for h in bars["hover"]]
    by_text = dict(zip(topics.texts, topics.labels, strict=True))
    assert all(t in by_text for t in ranked), ranked
    top = [by_text[t] for t in ranked[:5]]
    assert top[0] == "music" and top.count("music") >= 3, list(zip(ranked[:5], top, strict=True))
    listed = grid_text(page.get_by_role("tabpanel").locator('[data-testid="stDataFrame"]').first)
    assert ranked[0] in listed, listed[:300]
    assert_healthy(page)
    screenshot(page, "explorer-query")

    # --- back on the map the query is a star; the selection survived the tab switches
    click_tab(page, "Map")
    graph = plot(page, "explorer_map")
    names = [t["name"] for t in plot_state(graph)["traces"]]
    assert "query" in names, names
    page.get_by_role("heading", name=f"{len(expected)} selected").wait_for()
    screenshot(page, "explorer-map-query-selection")
    # Clearing the selection restores the full colours and the hint.
    with rerun(page):
        element(page, "explorer_clear_selection").get_by_role("button").click()
    page.get_by_text("Drag a lasso or box on the map").wait_for()
    assert page.get_by_role("heading", name=f"{len(expected)} selected").count() == 0
    graph = plot(page, "explorer_map")
    assert "query" in [t["name"] for t in plot_state(graph)["traces"]]
    for_docs(screenshot(page, "explorer-map-query"), "screenshot-explorer")

    # --- pairs: a histogram of all 4,950 cosines and the tables
    click_tab(page, "Pairs")
    hist = plot_state(plot(page, "explorer_histogram"))
    assert hist["traces"][0]["type"] == "bar"
    page.get_by_role("heading", name="Most similar").wait_for()
    page.get_by_role("heading", name="Least similar").wait_for()
    assert_healthy(page)


# --- Models and Embed --------------------------------------------------------------------------


def test_models_page_lists_the_bundled_models_and_embeds_a_sentence(page):
    open_page(page, "models")
    assert title(page) == "Models"
    listed = grid_text(page.locator('[data-testid="stDataFrame"]').first)
    assert catalog.MINILM_ID in listed
    assert catalog.MINILM_STATIC_ID in listed
    with rerun(page):
        page.get_by_role("button", name="Embed it").click()
    shown = metrics(page, "Dimensions", "Norm")
    assert shown["Dimensions"] == "384"
    assert abs(float(shown["Norm"]) - 1.0) < 1e-3, shown
    assert_healthy(page)
    screenshot(page, "models")


def test_embed_page_embeds_the_sample_and_downloads_csv_and_npy(page, topics):
    open_page(page, "embed")
    assert title(page) == "Embed texts"
    with rerun(page):
        page.get_by_role("button", name="Embed", exact=True).click()
    csv_button = page.get_by_role("button", name="CSV", exact=True)
    csv_button.wait_for()
    shown = metrics(page, "Texts", "Dimensions")
    assert shown["Texts"] == "100" and shown["Dimensions"] == "384", shown
    state = plot_state(plot(page, "embed_vector_chart"))
    assert sum(t["n"] for t in state["traces"]) >= 384

    with page.expect_download() as download:
        csv_button.click()
    assert download.value.suggested_filename.endswith(".csv")
    data = Path(download.value.path()).read_text(encoding="utf-8")
    assert not TOKEN_LIKE.search(data), TOKEN_LIKE.search(data)
    rows = list(csv.reader(io.StringIO(data)))
    assert rows[0] == ["text", "label", *[f"dim_{i}" for i in range(384)]]
    assert [r[0] for r in rows[1:]] == topics.texts
    assert [r[1] for r in rows[1:]] == topics.labels
    vectors = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
    assert vectors.shape == (100, 384) and np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)  # MiniLM is normalised

    with page.expect_download() as download:
        page.get_by_role("button", name="NumPy .npy", exact=True).click()
    array = np.load(download.value.path(), allow_pickle=False)
    assert array.shape == (100, 384) and array.dtype == np.float32
    np.testing.assert_allclose(array, vectors, atol=1e-5)
    assert_healthy(page)
    for_docs(screenshot(page, "embed"), "screenshot-embed")


# --- Semantic search, Compare models, Across languages ------------------------------------------


def test_search_builds_the_sample_collection_and_finds_by_meaning(page):
    open_page(page, "search")
    assert title(page) == "Semantic search"
    # Built here, or opened when another test on this server built it first (the test order).
    open_sample_collection(page)
    wait_for_text(page.locator('[data-testid="stMain"]'), "Sample: five topics")
    box = element(page, "search_query").locator("input")
    box.fill("a goalkeeper stopped a penalty kick")
    with rerun(page):
        # (The dataframes' toolbars have "Search" buttons too.)
        page.get_by_test_id("stBaseButton-primaryFormSubmit").filter(has_text="Search").click()
    results = page.locator('[data-testid="stDataFrame"]').last
    wait_for_text(results, "goalkeeper saved a penalty")
    listed = grid_text(results)
    # The text is the answer: its column comes first.
    assert listed.index("goalkeeper saved a penalty") < listed.index("sports.txt"), listed[:300]
    graph = plot(page, "search_map")
    names = [t["name"] for t in plot_state(graph)["traces"]]
    assert "query" in names and {"music.txt", "sports.txt"} <= set(names), names
    assert_healthy(page)
    for_docs(screenshot(page, "search"), "screenshot-search")


def test_compare_runs_both_bundled_models_and_draws_agreement(page):
    open_page(page, "compare")
    assert title(page) == "Compare models"
    # Nothing runs on opening the page; the button embeds with both models. Model B is the static
    # distillation: prepared before the suite (make test), else built here with a progress bar.
    with rerun(page, timeout=900_000):
        element(page, "compare_run").get_by_role("button").click()
    page.get_by_role("heading", name="Agreement", exact=True).wait_for(timeout=900_000)
    shown = metrics(page, "Spearman (pair similarities)", "Chance level")
    spearman = float(shown["Spearman (pair similarities)"])
    jaccard = float(next(v for k, v in shown.items() if k.startswith("Mean Jaccard")))
    chance = float(shown["Chance level"])
    # A distillation of the same model agrees with it far beyond chance, but not perfectly.
    assert 0.3 < spearman < 1.0, shown
    assert chance < jaccard <= 1.0, shown
    heat = plot_state(plot(page, "compare_heatmaps"))
    assert [(t["type"], t["rows"]) for t in heat["traces"]] == [("heatmap", 100), ("heatmap", 100)]
    assert heat["heatmapImages"] >= 2
    scatter = plot_state(plot(page, "compare_scatter"))
    assert scatter["traces"][0]["type"] == "scattergl"
    assert scatter["glCanvases"] >= 1, scatter  # drawn with WebGL (SwiftShader)
    assert_healthy(page)
    screenshot(page, "compare")


def test_languages_measures_alignment_of_the_multilingual_sample(page):
    open_page(page, "languages")
    assert title(page) == "Across languages"
    page.get_by_role("heading", name="Alignment", exact=True).wait_for()
    shown = metrics(page, "Alignment score", "Chance level")
    score, chance = (float(shown[k].rstrip("%")) for k in ("Alignment score", "Chance level"))
    assert 0 <= chance < score <= 100, shown
    pairs = plot_state(plot(page, "languages_pairs"))
    assert pairs["traces"][0]["type"] == "heatmap"
    langs = plot_state(plot(page, "languages_map"))
    assert sum(t["n"] for t in langs["traces"][1:]) == 140, langs["traces"]
    page.get_by_role("heading", name="Worst-aligned sentences").wait_for()
    assert_healthy(page)
    for_docs(screenshot(page, "languages"), "screenshot-languages")
