"""The explorer's map in a real browser: a click draws neighbour lines, a selection is isolated and
brought back, HDBSCAN names its clusters in the legend, a text is picked in 3-D."""

from __future__ import annotations

import math
import re

import pytest
from streamlit_browser import (
    assert_healthy,
    choose,
    click_button,
    element,
    lasso_around,
    map_positions,
    marked_rows,
    open_page,
    plot,
    rerun,
    scatter_points,
    screenshot,
    wait_until_idle,
)

from embedcore import io as eio

pytestmark = pytest.mark.slow

_LINKS = """(g) => {
  const t = g._fullData.find((t) => t.name === 'links');
  return t ? {type: t.type, x: Array.from(t.x), y: Array.from(t.y)} : null;
}"""


def loneliest(points: list[dict]) -> dict:
    """The marker farthest from any other: a click there hits it and nothing else."""
    return max(
        points,
        key=lambda p: min(math.hypot(q["px"] - p["px"], q["py"] - p["py"]) for q in points if q is not p),
    )


def test_a_click_draws_neighbour_lines_and_a_selection_is_isolated_and_brought_back(page):
    open_page(page, "")
    topics = eio.load_sample("topics")
    graph = plot(page, "explorer_map")
    page.get_by_text("UMAP of 100 texts").first.wait_for()
    points = scatter_points(graph)
    assert len(points) == 100

    # --- a click on one point: it is selected and joined to its 5 nearest neighbours
    target = loneliest(points)
    with rerun(page):
        page.mouse.click(target["px"], target["py"])
    page.get_by_role("heading", name="1 selected").wait_for()
    graph = plot(page, "explorer_map")
    links = graph.evaluate(_LINKS)
    assert links is not None and len(links["x"]) == 15, links
    where = map_positions(graph)[str(target["row"])]
    assert all(math.isclose(x, where[0], abs_tol=1e-4) for x in links["x"][0::3]), (links["x"], where)
    page.get_by_text("nearest neighbours by cosine in the full 384-dimensional space").first.wait_for()
    # The selected line of the neighbour table is shown in full below it.
    detail = page.locator('[class*="st-key-explorer_selection_table_detail"]')
    detail.get_by_text(topics.texts[target["row"]], exact=False).first.wait_for()
    screenshot(page, "explorer-click-neighbour-lines")

    # --- a lasso, then "Isolate selection": the map holds only those texts, projected again
    before = map_positions(graph)
    points = scatter_points(graph)

    def crowd(p):
        return sorted(math.hypot(q["px"] - p["px"], q["py"] - p["py"]) for q in points)[4]

    graph.hover()
    graph.locator('.modebar-btn[data-attr="dragmode"][data-val="lasso"]').click()
    with rerun(page):
        expected = lasso_around(page, graph, points, min(points, key=crowd), radii=range(40, 140, 2))
    assert len(expected) >= 4, expected
    page.get_by_role("heading", name=f"{len(expected)} selected").wait_for()
    click_button(page, "Isolate selection")
    page.get_by_text(f"Showing {len(expected)} of 100 texts — isolated selection").wait_for()
    graph = plot(page, "explorer_map")
    isolated = map_positions(graph)
    assert sorted(int(r) for r in isolated) == list(range(len(expected)))
    hovers = graph.evaluate(
        "(g) => g._fullData.filter((t) => t.customdata && t.name !== 'names').flatMap((t) => Array.from(t.hovertext))"
    )
    assert sorted(h.replace("<br>", " ") for h in hovers) == sorted(topics.texts[r] for r in expected)
    assert_healthy(page)
    screenshot(page, "explorer-isolated")

    # --- Back: the map before, exactly, with the selection it had
    click_button(page, "Back")
    page.get_by_role("heading", name=f"{len(expected)} selected").wait_for()
    assert page.get_by_text("isolated selection").count() == 0
    graph = plot(page, "explorer_map")
    assert map_positions(graph) == before
    assert marked_rows(graph) == expected
    assert_healthy(page)
    screenshot(page, "explorer-isolated-back")


def test_hdbscan_names_its_clusters_in_the_legend_and_the_heatmap_bands_follow(page):
    open_page(page, "")
    plot(page, "explorer_map")
    choose(page, "explorer_colour", "HDBSCAN clusters")
    graph = plot(page, "explorer_map")
    legend = [
        t.strip() for t in graph.locator(".legend .traces .legendtext").all_text_contents() if t.strip()
    ]
    # "2 · guitar, album, song": one to three terms, words or two-word phrases.
    clusters = [name for name in legend if re.fullmatch(r"\d+ · [\w ]+(, [\w ]+){0,2}(…)?", name)]
    assert len(clusters) >= 3, legend
    assert [n for n in legend if n not in clusters] in (
        [],
        [n for n in legend if n.startswith("unclustered (")],
    )
    title = graph.locator(".legend .legendtitletext").first.text_content()
    assert title == f"HDBSCAN, {len(clusters)} clusters", title
    # The clusters' names are written on the map too (number and two terms; those with no room
    # left out, the legend has them).
    names_on_map = graph.evaluate(
        "(g) => g._fullLayout.annotations.filter((a) => a.name === 'cluster name').map((a) => a.text)"
    )
    assert names_on_map and set(names_on_map) <= {", ".join(n.split(", ")[:2]) for n in clusters}
    map_colours = graph.evaluate(
        "(g) => Object.fromEntries(g._fullData.filter((t) => t.customdata && t.name !== 'names').map((t) => [t.name, t.marker.color]))"
    )
    assert_healthy(page)
    screenshot(page, "explorer-hdbscan")

    tab = page.get_by_role("tab", name="Heatmap", exact=True)
    with rerun(page):
        tab.click()
    heat = plot(page, "explorer_heatmap")
    band_colours = heat.evaluate(
        "(g) => [...new Set(g._fullLayout.shapes.filter((s) => s.xref === 'x domain').map((s) => s.fillcolor))]"
    )
    # The band's legend names the clusters in the map's colours.
    band_legend = heat.evaluate(
        "(g) => Object.fromEntries(g._fullData.filter((t) => t.type === 'scatter').map((t) => [t.name, t.marker.color]))"
    )
    # (the map's grey entry carries its size: "unclustered (12)"; the band's is the group itself)
    assert band_legend == {
        re.sub(r"^unclustered \(\d+\)$", "unclustered", k): v for k, v in map_colours.items()
    }
    assert set(band_colours) == set(map_colours.values())
    assert_healthy(page)
    screenshot(page, "explorer-heatmap-bands")


def test_in_3d_a_text_picked_by_name_gets_its_neighbour_lines(page):
    open_page(page, "")
    plot(page, "explorer_map")
    with rerun(page):
        element(page, "explorer_dims").get_by_role("radio", name="3-D").click()
    graph = plot(page, "explorer_map_3d")
    page.get_by_text("In 3-D, pick a text here").wait_for()
    topics = eio.load_sample("topics")
    box = element(page, "explorer_pick").get_by_role("combobox")
    box.click()
    box.fill("guitar")
    option = page.get_by_role("option").first
    option.wait_for()
    picked = int(option.inner_text().split(" · ", 1)[0].lstrip("#"))
    assert "guitar" in topics.texts[picked].lower()
    with rerun(page):
        option.click()
    page.get_by_role("heading", name="1 selected").wait_for()
    wait_until_idle(page)
    graph = plot(page, "explorer_map_3d")
    links = graph.evaluate(_LINKS)
    assert links is not None and links["type"] == "scatter3d" and len(links["x"]) == 15, links
    chosen = graph.evaluate(
        "(g) => { const t = g._fullData.find((t) => (t.name || '').startsWith('selected')); return t ? Array.from(t.customdata).map(Number) : null; }"
    )
    assert chosen == [picked]
    assert_healthy(page)
    screenshot(page, "explorer-3d-pick")
