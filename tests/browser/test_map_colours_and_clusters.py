"""What the explorer's map must get right for a demanding user (issue 19, items 2, 4, 5, 6, 12).

- a label keeps its colour across Find, another method, Isolate selection, Back and "Only this
  label" (the colour is a function of the label within the data set, not of the labels shown);
- the first visit shows the map without scrolling, at 1440 x 900 and at 1280 x 720;
- a clicked point is marked itself in 2-D, not only its neighbours;
- eleven labels get eleven different colours (no two labels told apart only by marker shape);
- clusters: the legend counts the clusters it colours and lists them in cluster order, names on
  the map do not overlap, most texts of a real 1,500-text set belong to a cluster, and k-means on
  the five-theme sample names each cluster with a word of its theme.

One server for the file (``app_server``); each test is a fresh session.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter

import pytest
from streamlit_browser import (
    assert_healthy,
    box_select,
    choose,
    click_button,
    element,
    metrics,
    new_session,
    open_page,
    plot,
    rerun,
    scatter_points,
    screenshot,
    wait_until_idle,
)

from bench.cluster_names import reference_terms
from embedcore import io as eio

pytestmark = pytest.mark.slow

#: Traces of a map that are not one colour group of the texts.
_SPECIAL = ("links", "names", "neighbours", "query", "clicked text")

_COLOURS = """(g, special) => Object.fromEntries(g._fullData
  .filter((t) => t.customdata && !special.includes(t.name) && !(t.name || '').startsWith('matches'))
  .map((t) => [t.name, t.marker.color]))"""

_LEGEND = """(g) => Array.from(g.querySelectorAll('.legend .traces .legendtext'))
  .map((e) => e.textContent.trim()).filter(Boolean)"""

#: Page boxes of the cluster names written on the map (annotations named "cluster name").
_NAME_BOXES = """(g) => {
  const named = (g._fullLayout.annotations || []).map((a) => a.name === 'cluster name');
  return Array.from(g.querySelectorAll('.annotation')).filter((el) => named[Number(el.dataset.index)])
    .map((el) => {
      const r = el.querySelector('.annotation-text-g').getBoundingClientRect();
      return {text: el.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom};
    });
}"""

#: Rows of each group trace: ``{name: [row, ...]}``.
_ROWS = """(g, special) => Object.fromEntries(g._fullData
  .filter((t) => t.customdata && !special.includes(t.name))
  .map((t) => [t.name, Array.from(t.customdata, (c) => Array.isArray(c) || ArrayBuffer.isView(c) ? Number(c[0]) : Number(c))]))"""


def colours(graph) -> dict[str, str]:
    return graph.evaluate(_COLOURS, list(_SPECIAL))


def legend(graph) -> list[str]:
    return graph.evaluate(_LEGEND)


def find(page, pattern: str) -> None:
    box = element(page, "explorer_find").locator("input")
    box.fill(pattern)
    with rerun(page):
        box.press("Enter")


def upload(page, path) -> None:
    with rerun(page):
        page.get_by_text("Upload", exact=True).first.click()
    with rerun(page):
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(path))
    wait_until_idle(page)


def write_csv(path, texts, labels) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels, strict=True))


def overlapping(boxes: list[dict]) -> list[tuple[str, str]]:
    return [
        (a["text"], b["text"])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    ]


def check_cluster_legend(graph, method: str) -> tuple[list[str], int]:
    """The legend counts and lists (in cluster order) exactly the clusters it colours.

    Returns the coloured cluster names and the number of unclustered texts.
    """
    names = legend(graph)
    clusters = [n for n in names if re.match(r"\d+ · ", n)]
    rest = [n for n in names if n not in clusters]
    numbers = [int(n.split(" · ", 1)[0]) for n in clusters]
    assert numbers == sorted(numbers), f"legend not in cluster order: {names}"
    # Every entry inside the figure (rows of a horizontal legend once ran past its right edge).
    sticking_out = graph.evaluate(
        """(g) => { const right = g.getBoundingClientRect().right;
          return Array.from(g.querySelectorAll('.legend .traces'))
            .filter((t) => t.getBoundingClientRect().right > right + 1).map((t) => t.textContent); }"""
    )
    assert not sticking_out, sticking_out
    title = graph.locator(".legend .legendtitletext").first.text_content()
    assert title == f"{method}, {len(clusters)} clusters", (title, names)
    # Nothing coloured grey as "other": every cluster counted is coloured.
    assert all(n.startswith("unclustered (") for n in rest), names
    unclustered = sum(int(re.search(r"\(([\d,]+)\)", n).group(1).replace(",", "")) for n in rest)
    return clusters, unclustered


# --- item 2: a label keeps its colour ------------------------------------------------------------


def test_a_label_keeps_its_colour_across_find_method_isolate_back_and_only_this_label(page):
    open_page(page, "")
    graph = plot(page, "explorer_map")
    page.get_by_text("UMAP of 100 texts").first.wait_for()
    full = colours(graph)
    assert len(full) == 5 and len(set(full.values())) == 5, full

    find(page, "guitar")
    graph = plot(page, "explorer_map")
    assert colours(graph) == full, "Find changed the label colours"
    find(page, "")

    with rerun(page):
        element(page, "explorer_method").get_by_role("radio", name="PCA").click()
    page.get_by_text("PCA of 100 texts").first.wait_for()
    graph = plot(page, "explorer_map")
    assert colours(graph) == full, "another method changed the label colours"

    with rerun(page):
        rows = box_select(page, graph, 50)  # the left half
    page.get_by_role("heading", name=f"{len(rows)} selected").wait_for()
    click_button(page, "Isolate selection")
    page.get_by_text(f"Showing {len(rows)} of 100 texts").wait_for()
    graph = plot(page, "explorer_map")
    isolated = colours(graph)
    assert isolated == {name: full[name] for name in isolated}, (isolated, full)
    screenshot(page, "colours-isolated")

    click_button(page, "Back")
    graph = plot(page, "explorer_map")
    assert colours(graph) == full

    # The label that would come last in the legend: alone, it used to take the first colour.
    last = list(full)[-1]
    choose(page, "explorer_only_label", last)
    page.get_by_text("Showing 20 of 100 texts").wait_for()
    graph = plot(page, "explorer_map")
    assert colours(graph) == {last: full[last]}
    assert_healthy(page)


# --- item 6: the clicked point is marked ---------------------------------------------------------


def test_a_clicked_point_is_marked_itself_not_only_its_neighbours(page):
    open_page(page, "")
    graph = plot(page, "explorer_map")
    page.get_by_text("UMAP of 100 texts").first.wait_for()
    points = scatter_points(graph)
    target = max(
        points,
        key=lambda p: min(math.hypot(q["px"] - p["px"], q["py"] - p["py"]) for q in points if q is not p),
    )
    with rerun(page):
        page.mouse.click(target["px"], target["py"])
    page.get_by_role("heading", name="1 selected").wait_for()
    graph = plot(page, "explorer_map")
    marks = graph.evaluate(
        """(g, row) => g._fullData.filter((t) => t.name !== 'neighbours' && t.customdata
             && Array.from(t.customdata, Number).includes(row) && t.marker.size > 12)
           .map((t) => ({name: t.name, size: t.marker.size, line: t.marker.line && t.marker.line.width}))""",
        target["row"],
    )
    assert marks, "the clicked point is drawn as a plain small dot"
    assert marks[0]["line"] >= 2, marks
    assert_healthy(page)
    screenshot(page, "clicked-point-marked", full=False)


# --- item 12: many labels, many colours ----------------------------------------------------------


def test_eleven_labels_get_eleven_colours(page, tmp_path):
    docs = eio.load_sample("docs")
    per_label: dict[str, list[str]] = {}
    for text, label in zip(docs.texts, docs.labels, strict=True):
        if len(per_label.setdefault(label, [])) < 12:
            per_label[label].append(text)
    assert len(per_label) == 11
    path = tmp_path / "eleven.csv"
    write_csv(path, *zip(*[(t, label) for label, texts in per_label.items() for t in texts], strict=True))
    open_page(page, "")
    upload(page, path)
    metrics(page, "Texts")
    graph = plot(page, "explorer_map")
    page.get_by_text("UMAP of 132 texts").first.wait_for()
    shown = colours(graph)
    assert sorted(shown) == sorted(per_label), shown
    shared = {c: [n for n in shown if shown[n] == c] for c in shown.values()}
    assert len(set(shown.values())) == 11, {c: n for c, n in shared.items() if len(n) > 1}
    assert_healthy(page)
    screenshot(page, "eleven-labels", full=False)


# --- item 5: the map on the first screen ---------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (1280, 720)])
def test_the_first_visit_shows_the_map_without_scrolling(browser, app_server, width, height):
    context, page = new_session(browser, app_server, width=width, height=height)
    try:
        open_page(page, "")
        plot(page, "explorer_map")
        page.get_by_text("UMAP of 100 texts").first.wait_for()
        wait_until_idle(page)
        area = element(page, "explorer_map").locator(".nsewdrag").first.bounding_box()
        scrolled = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTop")
        screenshot(page, f"first-screen-{width}x{height}", full=False)
        assert scrolled == 0
        visible = min(area["y"] + area["height"], height) - max(area["y"], 0)
        # The plot area (the points' rectangle): all of it on a 900-px window, and at least
        # two thirds of it (from its top) on a 720-px one.
        wanted = 1.0 if height >= 900 else 2 / 3
        assert area["y"] >= 0 and visible >= wanted * area["height"] - 1, (area, height)
        assert area["x"] >= 0 and area["x"] + area["width"] <= width, (area, width)
        assert area["width"] >= 500 and area["height"] >= 400, area
        assert_healthy(page)
    finally:
        context.close()


# --- item 4: clusters on real data ---------------------------------------------------------------


def test_clusters_legend_counts_what_it_colours_names_fit_and_k_means_names_its_themes(page):
    open_page(page, "")
    plot(page, "explorer_map")
    page.get_by_text("UMAP of 100 texts").first.wait_for()
    topics = eio.load_sample("topics")

    choose(page, "explorer_colour", "HDBSCAN clusters")
    graph = plot(page, "explorer_map")
    clusters, unclustered = check_cluster_legend(graph, "HDBSCAN")
    assert len(clusters) >= 4, clusters
    assert unclustered <= 25, f"{unclustered} of 100 texts in no cluster"
    boxes = graph.evaluate(_NAME_BOXES)
    assert boxes and not overlapping(boxes), overlapping(boxes)
    screenshot(page, "clusters-hdbscan-topics")

    choose(page, "explorer_colour", "k-means clusters")
    graph = plot(page, "explorer_map")
    clusters, _ = check_cluster_legend(graph, "k-means")
    assert len(clusters) == 5
    rows = graph.evaluate(_ROWS, list(_SPECIAL))
    terms = reference_terms(topics.texts, topics.labels)
    for name in clusters:
        majority = Counter(topics.labels[r] for r in rows[name]).most_common(1)[0][0]
        words = set(re.findall(r"[a-z]+", name.split(" · ", 1)[1].lower()))
        assert words & terms[majority], (name, majority, sorted(terms[majority]))
    boxes = graph.evaluate(_NAME_BOXES)
    assert len(boxes) == 5 and not overlapping(boxes), boxes
    assert_healthy(page)


def test_hdbscan_on_1500_real_texts_colours_every_cluster_it_counts(page, tmp_path):
    docs = eio.load_sample("docs")
    path = tmp_path / "texts1500.csv"
    write_csv(path, docs.texts[:1500], docs.labels[:1500])
    open_page(page, "")
    upload(page, path)
    metrics(page, "Texts")
    page.get_by_text("UMAP of 1,500 texts").first.wait_for()
    choose(page, "explorer_colour", "HDBSCAN clusters")
    graph = plot(page, "explorer_map")
    clusters, unclustered = check_cluster_legend(graph, "HDBSCAN")
    # HDBSCAN clusters a UMAP of its own, whose multi-threaded layout differs from run to run, and
    # so does the number of clusters it finds here (11 in most runs, 2 in one of the full suite's).
    assert 2 <= len(clusters) <= 20, clusters
    assert unclustered <= 500, f"{unclustered} of 1,500 texts in no cluster"
    boxes = graph.evaluate(_NAME_BOXES)
    assert boxes and not overlapping(boxes), (overlapping(boxes), boxes)
    for name in clusters:
        assert not re.search(r"\d", name.split(" · ", 1)[1]), name
    assert_healthy(page)
    screenshot(page, "clusters-hdbscan-1500")
