"""AppTest tests of the similarity explorer page (pages/explorer.py).

The local-model tests run the real bundled all-MiniLM-L6-v2 (no fake embeddings); the
API test talks to a real HTTP server on 127.0.0.1 whose vectors come from a seeded RNG
(a test fixture standing in for a paid API, never the app's own output). Figures are
read from the Plotly element's proto spec (AppTest has no Plotly accessor).

Most tests use PCA: UMAP's first fit in a process compiles numba code (~15 s), so one
test covers the default UMAP flow. The map click itself (a real lasso in a browser) is left
to the browser tests; here the selection event is set the way Streamlit delivers it.
"""

from __future__ import annotations

import html

import numpy as np
import pytest

from embedcore.figures import heatmaps
from embedcore.figures.names import NAME_ANNOTATION
from embedcore.figures.style import CLUSTER_PALETTE, MUTED, PALETTE
from tests.apptest import (
    chart,
    has_chart,
    map_xy,
    metrics,
    open_page,
    plain_messages,
    plotly_array,
    point_traces,
)
from ui.common import state

# Every test here loads and runs the real bundled model: 2-12 s each on a loaded 2-core machine.
pytestmark = pytest.mark.slow

PAGE = "pages/explorer.py"
TOPICS = ("music", "sports", "cooking", "space", "programming")


# --- helpers ----------------------------------------------------------------------------------


def open_explorer(make_app, **state_values):
    return open_page(make_app(state=state_values, timeout=120), PAGE)


def show_tab(at, tab: str):
    at.session_state["explorer_tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def map_rows(spec: dict) -> np.ndarray:
    return np.concatenate([plotly_array(t["customdata"]).ravel() for t in point_traces(spec)])


#: Columns that identify each table of the page (st.dataframe without selection has no element id).
_TABLE_COLUMNS = {
    "explorer_selection_table": "neighbour",
    "explorer_ranking_table": "rank",
    "explorer_pairs_most": "text_b",
    "explorer_pairs_least": "text_b",
    "explorer_find_table": "row",
}


def table(at, key: str):
    """A table of the page by its key: found by its columns (and order, for the two pair tables)."""
    found = [d.value for d in at.dataframe if _TABLE_COLUMNS[key] in d.value.columns]
    if key in ("explorer_ranking_table", "explorer_find_table"):
        found = [f for f in found if "neighbour" not in f.columns]
    if key == "explorer_find_table":
        found = [f for f in found if "rank" not in f.columns]
    if key.startswith("explorer_pairs_"):
        assert len(found) == 2
        return found[0] if key.endswith("most") else found[1]
    assert len(found) == 1, len(found)
    return found[0]


# --- the default flow ---------------------------------------------------------------------------


def test_new_user_sees_the_topics_sample_embedded_and_mapped_with_umap(make_app):
    """Nothing configured, nothing typed: the sample is embedded, mapped with UMAP, clustered."""
    at = open_explorer(make_app)
    assert not at.error and not at.warning
    assert metrics(at) == {"Texts": "100", "Dimensions": "384", "From cache": "0 %"}
    assert "Embedded with **all-MiniLM-L6-v2**" in plain_messages(at.caption)
    texts = at.session_state[state.TEXTS].texts
    spec = chart(at, "explorer_map")
    # The PCA preview (drawn while UMAP compiled) was replaced by the UMAP map.
    assert not has_chart(at, "explorer_map_preview")
    assert "UMAP of 100 texts" in plain_messages(at.caption)
    assert "n_neighbors 15, min_dist 0.1" in plain_messages(at.caption)
    assert {t["type"] for t in spec["data"]} == {"scatter"}  # SVG below 1,000 points
    assert sorted(t["name"] for t in spec["data"]) == sorted(TOPICS)  # coloured by label
    assert sorted(map_rows(spec).tolist()) == list(range(100))
    # Hover text is the text itself (escaped, wrapped), on the point whose customdata is its row.
    music = next(t for t in spec["data"] if t["name"] == "music")
    row = int(plotly_array(music["customdata"])[0])
    assert music["hovertext"][0].replace("<br>", " ") == texts[row]
    # Pan: Streamlit lets a click select a point only when no lasso or box tool is active.
    assert spec["layout"]["dragmode"] == "pan"
    # UMAP keeps topics apart: most points' nearest map neighbour shares their label (a few
    # sample texts sit between themes on purpose; chance would be ~0.2).
    xy = np.concatenate([np.column_stack([plotly_array(t["x"]), plotly_array(t["y"])]) for t in spec["data"]])
    names = np.concatenate([[t["name"]] * len(plotly_array(t["x"])) for t in spec["data"]])
    d = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert (names[d.argmin(axis=1)] == names).mean() >= 0.7

    show_tab(at, "Heatmap")
    heat = chart(at, "explorer_heatmap")
    assert heat["data"][0]["type"] == "heatmap"
    # The other traces are the legend of the label band, one empty entry per label.
    assert sorted(t["name"] for t in heat["data"][1:]) == sorted(TOPICS)
    z = plotly_array(heat["data"][0]["z"])
    assert z.shape == (100, 100)
    np.testing.assert_allclose(np.diag(z), 1.0, atol=1e-5)
    np.testing.assert_allclose(z, z.T, atol=1e-6)
    # Hover shows both texts: the axis categories are the texts; the template has both and the score.
    assert "%{x}" in heat["data"][0]["hovertemplate"] and "%{z:.3f}" in heat["data"][0]["hovertemplate"]
    # Each axis label is "#row text": every row once, with its own text.
    labelled = [label.split(" ", 1) for label in heat["data"][0]["x"]]
    rows = [int(number[1:]) for number, _ in labelled]
    assert sorted(rows) == list(range(100))
    assert all(text.replace("<br>", " ") == texts[r] for r, (_, text) in zip(rows, labelled, strict=True))
    # Clustered order: texts next to each other on the axis are far more alike than average.
    off_diagonal = z[~np.eye(100, dtype=bool)].mean()
    assert np.diag(z, 1).mean() > 2 * off_diagonal
    assert "hierarchical clustering" in plain_messages(at.caption)


def test_pca_flow_draws_map_heatmap_and_pairs(make_app):
    at = open_explorer(make_app, explorer_method="pca")
    assert not at.error and not at.warning
    spec = chart(at, "explorer_map")
    assert sorted(map_rows(spec).tolist()) == list(range(100))
    assert "PCA of 100 texts" in plain_messages(at.caption)
    downloads = {b.key: b for b in at.get("download_button")}
    assert set(downloads) == {"explorer_download_coords", "explorer_download_selected"}
    assert downloads["explorer_download_selected"].proto.disabled  # nothing selected yet

    show_tab(at, "Heatmap")
    z = plotly_array(chart(at, "explorer_heatmap")["data"][0]["z"])
    assert z.shape == (100, 100)
    at.segmented_control(key="explorer_heatmap_order").set_value("input").run()
    in_order = chart(at, "explorer_heatmap")["data"][0]
    texts = at.session_state[state.TEXTS].texts
    assert [label.split(" ", 1)[0] for label in in_order["x"][:3]] == ["#0", "#1", "#2"]
    assert in_order["x"][0].split(" ", 1)[1].replace("<br>", " ") == texts[0]
    assert "input order" in plain_messages(at.caption)

    show_tab(at, "Pairs")
    most = table(at, "explorer_pairs_most")
    least = table(at, "explorer_pairs_least")
    assert len(most) == len(least) == 15
    assert most["cosine"].is_monotonic_decreasing and least["cosine"].is_monotonic_increasing
    assert most["cosine"].iloc[0] > least["cosine"].iloc[0]
    assert {"text_a", "text_b", "label_a", "label_b"} <= set(most.columns)
    assert most["text_a"].isin(texts).all()
    hist = chart(at, "explorer_histogram")["data"][0]
    assert plotly_array(hist["y"]).sum() == 100 * 99 // 2


# --- the map's controls ---------------------------------------------------------------------------


def test_methods_and_views_switch_without_recomputing_display_changes(make_app, monkeypatch):
    from embedcore.analysis import projection

    calls: list[tuple] = []
    real = projection.project_with_info

    def counting(X, method, n_components, **kw):
        calls.append((method, n_components))
        return real(X, method, n_components, **kw)

    monkeypatch.setattr(projection, "project_with_info", counting)
    at = open_explorer(make_app, explorer_method="pca")
    assert calls == [("pca", 2)]

    at.segmented_control(key="explorer_dims").set_value(3).run()
    spec = chart(at, "explorer_map_3d")
    assert {t["type"] for t in spec["data"]} == {"scatter3d"}
    assert sorted(map_rows(spec).tolist()) == list(range(100))
    assert "In 3-D, pick a text here" in plain_messages(at.caption)
    assert calls[-1] == ("pca", 3)

    # Display-only changes: colour, point size, and back to the 2-D map already computed.
    n_calls = len(calls)
    at.selectbox(key="explorer_colour").set_value("none").run()
    assert [t.get("name") for t in chart(at, "explorer_map_3d")["data"]] in ([None], [""])
    at.slider(key="explorer_size").set_value(12).run()
    at.segmented_control(key="explorer_dims").set_value(2).run()
    spec = chart(at, "explorer_map")
    assert spec["data"][0]["marker"]["size"] == 12
    assert len(calls) == n_calls, calls[n_calls:]

    at.segmented_control(key="explorer_method").set_value("tsne").run()
    assert not at.exception
    assert calls[-1] == ("tsne", 2)
    assert "t-SNE of 100 texts · perplexity 10" in plain_messages(at.caption)
    assert sorted(map_rows(chart(at, "explorer_map")).tolist()) == list(range(100))

    # Back to PCA: cached. A parameter change recomputes; its earlier value comes from the cache.
    at.segmented_control(key="explorer_method").set_value("pca").run()
    assert len(calls) == n_calls + 1
    at.number_input(key="explorer_seed").set_value(7).run()
    assert calls[-1] == ("pca", 2) and len(calls) == n_calls + 2
    at.number_input(key="explorer_seed").set_value(42).run()
    assert len(calls) == n_calls + 2


def test_colour_by_k_means_clusters(make_app):
    at = open_explorer(make_app, explorer_method="pca")
    at.selectbox(key="explorer_colour").set_value("cluster").run()
    at.number_input(key="explorer_k").set_value(3).run()
    assert not at.exception
    spec = chart(at, "explorer_map")
    names = [t["name"] for t in point_traces(spec)]
    # Named by their most distinctive words, numbered in order of first appearance.
    assert sorted(name.split(" · ")[0] for name in names) == ["0", "1", "2"]
    assert all(len(name.split(" · ")[1].split(", ")) == 3 for name in names), names
    written = [a["text"] for a in spec["layout"]["annotations"] if a.get("name") == NAME_ANNOTATION]
    # Each name on the map too, with its number and first two terms (three far-apart clusters:
    # room for all of them).
    assert sorted(written) == sorted(", ".join(name.split(", ")[:2]) for name in names)
    assert sorted(map_rows({"data": [t for t in spec["data"] if t["name"] != "names"]}).tolist()) == list(
        range(100)
    )
    assert spec["layout"]["legend"]["title"]["text"] == "k-means, 3 clusters"
    # Cluster colours are never label colours: "cluster 0" must not look like the first label.
    colours = {t["marker"]["color"] for t in point_traces(spec)}
    assert colours == set(CLUSTER_PALETTE[:3]) and not colours & set(PALETTE)


def test_k_means_legend_says_how_many_clusters_were_found(make_app):
    at = make_app(state={"explorer_method": "pca", "explorer_source": "paste"}, timeout=120)
    at.switch_page(PAGE).run()
    at.text_area(key="explorer_paste").set_value("apple\npear\napple\npear\napple").run()
    at.selectbox(key="explorer_colour").set_value("cluster").run()
    assert not at.exception, at.exception
    spec = chart(at, "explorer_map")  # five clusters asked, two distinct texts
    assert spec["layout"]["legend"]["title"]["text"] == "k-means, 2 clusters"
    assert sorted(t["name"] for t in point_traces(spec)) == ["0 · apple", "1 · pear"]


def test_the_map_is_sent_as_ascii_json_and_keeps_its_non_ascii_texts_over_reruns(make_app):
    """The map is serialised once (embedcore.figures.frozen), as ASCII: a rerun sends the very same figure."""
    texts = ["Café au lait …", "Grüße aus Köln", "東京の天気", "emoji 😀 party", "plain text"]
    at = make_app(state={"explorer_method": "pca", "explorer_source": "paste"}, timeout=120)
    at.switch_page(PAGE).run()
    at.text_area(key="explorer_paste").set_value("\n".join(texts)).run()
    assert not at.exception, at.exception
    [first] = [c.proto.spec for c in at.get("plotly_chart") if c.proto.id.endswith("-explorer_map")]
    assert first.isascii()
    # Beyond ASCII, hover texts hold numeric references (&#233;), which the label decodes.
    hover = html.unescape(
        " ".join(h for t in point_traces(chart(at, "explorer_map")) for h in t["hovertext"])
    )
    assert all(text in hover for text in texts[:4])
    at.run()
    [again] = [c.proto.spec for c in at.get("plotly_chart") if c.proto.id.endswith("-explorer_map")]
    assert again == first


def test_heatmap_colour_range_follows_the_data_unless_the_full_scale_is_asked(make_app):
    at = show_tab(open_explorer(make_app, explorer_method="pca"), "Heatmap")
    heat = chart(at, "explorer_heatmap")["data"][0]
    z = plotly_array(heat["z"]).reshape(100, 100).astype(float)
    off_diagonal = z[~np.eye(100, dtype=bool)]
    assert heat["zmin"] == pytest.approx(off_diagonal.min(), abs=1e-6)
    assert heat["zmax"] == pytest.approx(off_diagonal.max(), abs=1e-6)
    assert -0.3 < heat["zmin"] < heat["zmax"] < 1.0
    at.segmented_control(key="explorer_heatmap_scale").set_value("full").run()
    heat = chart(at, "explorer_heatmap")["data"][0]
    assert (heat["zmin"], heat["zmax"], heat["zmid"]) == (-1.0, 1.0, 0.0)


def test_tsne_perplexity_is_chosen_from_the_texts_until_the_user_sets_it(make_app):
    at = open_explorer(make_app, explorer_method="tsne")
    assert "t-SNE of 100 texts · perplexity 10" in plain_messages(at.caption)
    at.segmented_control(key="explorer_dims").set_value(3).run()
    assert "t-SNE of 100 texts · perplexity 8.3" in plain_messages(at.caption)
    assert at.slider(key="explorer_tsne_perplexity").value == 8
    at.toggle(key="explorer_tsne_perplexity_auto").set_value(False).run()
    at.slider(key="explorer_tsne_perplexity").set_value(20).run()
    assert not at.exception, at.exception
    assert "t-SNE of 100 texts · perplexity 20" in plain_messages(at.caption)


# --- the query ----------------------------------------------------------------------------------


def test_query_ranks_the_seed_set_and_is_marked_on_the_map(make_app):
    at = open_explorer(make_app, explorer_method="pca")
    at.selectbox(key="explorer_sample").set_value("seed").run()
    assert metrics(at)["Texts"] == "3"
    show_tab(at, "Query")
    at.text_input(key="explorer_query").input("best selling music artists").run()
    assert not at.exception and not at.warning

    # The query is one of the three texts: left out by default, so the best *other* match leads.
    ranking = table(at, "explorer_ranking_table")
    assert ranking["text"].tolist() == ["Michael Jackson", "AI Model Hub"]
    assert ranking["cosine"].tolist()[0] == pytest.approx(0.385, abs=0.01)  # docs/FACTS.md
    assert ranking["cosine"].is_monotonic_decreasing
    bars = chart(at, "explorer_ranking")["data"][0]
    assert bars["type"] == "bar"
    assert plotly_array(bars["x"]).tolist() == pytest.approx(ranking["cosine"].tolist(), abs=1e-6)
    at.checkbox(key="explorer_query_exclude").uncheck().run()
    ranking = table(at, "explorer_ranking_table")
    assert ranking["text"].tolist()[:2] == ["best selling music artists", "Michael Jackson"]
    assert ranking["cosine"].iloc[0] == pytest.approx(1.0, abs=1e-5)

    show_tab(at, "Map")
    spec = chart(at, "explorer_map")
    query = next(t for t in spec["data"] if t.get("name") == "query")
    assert "best selling music artists" in query["hovertext"][0]
    # The query's nearest texts are ringed, in a colour that shows (not the transparent default).
    rings = next(t for t in spec["data"] if t.get("name") == "neighbours")
    assert sorted(plotly_array(rings["customdata"]).tolist()) == [0, 1, 2]
    assert rings["marker"]["color"] == "#111111"
    assert "same PCA that made the map" in plain_messages(at.caption)
    # The query typed in the other tab is kept while the tab is closed.
    assert at.session_state["explorer_query"] == "best selling music artists"


def test_query_on_topics_finds_the_topic(make_app):
    at = open_explorer(make_app, explorer_method="pca", explorer_tab="Query")
    at.text_input(key="explorer_query").input("a rocket launch to the moon").run()
    ranking = table(at, "explorer_ranking_table")
    assert len(ranking) == 10
    assert (ranking["label"].head(5) == "space").all()


def test_counts_kept_from_a_larger_set_are_clamped_to_the_new_texts(make_app):
    at = open_explorer(make_app, explorer_method="pca", explorer_tab="Query")
    at.text_input(key="explorer_query").input("music").run()
    assert at.number_input(key="explorer_query_k").value == 10
    show_tab(at, "Pairs")
    assert at.number_input(key="explorer_pairs_n").value == 15
    at.selectbox(key="explorer_sample").set_value("seed").run()  # 3 texts, 3 pairs
    assert not at.exception
    assert at.number_input(key="explorer_pairs_n").value == 3
    assert len(table(at, "explorer_pairs_most")) == 3
    show_tab(at, "Query")
    assert at.number_input(key="explorer_query_k").value == 3
    assert len(table(at, "explorer_ranking_table")) == 3


# --- bad input ----------------------------------------------------------------------------------


def test_two_texts_with_umap_explain_and_fall_back_to_pca(make_app):
    at = open_explorer(make_app, explorer_method="pca")
    at.radio(key="explorer_source").set_value("paste").run()
    at.text_area(key="explorer_paste").input("The cat sat on the mat.\nStock markets fell sharply.").run()
    at.segmented_control(key="explorer_method").set_value("umap").run()
    assert not at.exception and not at.error
    assert "UMAP needs at least 3 texts; you have 2. Showing PCA instead." in plain_messages(at.info)
    spec = chart(at, "explorer_map")
    assert sorted(map_rows(spec).tolist()) == [0, 1]
    assert "PCA of 2 texts" in plain_messages(at.caption)

    at.segmented_control(key="explorer_method").set_value("tsne").run()
    assert "t-SNE needs at least 3 texts" in plain_messages(at.info)
    at.segmented_control(key="explorer_dims").set_value(3).run()
    assert not at.exception and has_chart(at, "explorer_map_3d")

    show_tab(at, "Pairs")
    assert len(table(at, "explorer_pairs_most")) == 1


def test_one_text_and_empty_input_never_raise(make_app):
    at = open_explorer(make_app, explorer_method="umap", explorer_source="paste")
    at.text_area(key="explorer_paste").input("Only one line").run()
    assert not at.exception
    assert "Showing PCA instead" in plain_messages(at.info)
    for tab in ("Heatmap", "Query", "Pairs"):
        show_tab(at, tab)
    assert "Pairs need at least two texts." in plain_messages(at.info)

    at.text_area(key="explorer_paste").input("   \n  ").run()
    assert not at.exception
    assert "Paste some texts" in plain_messages(at.info)
    assert not at.metric and not at.get("plotly_chart")


# --- selection -------------------------------------------------------------------------------------


def _selection_event(rows: list[int]) -> dict:
    # What st.plotly_chart(on_select="rerun") returns: point_index counts within a trace,
    # customdata carries the row.
    points = [
        {"curve_number": 0, "point_number": i, "point_index": i, "customdata": [r]}
        for i, r in enumerate(rows)
    ]
    return {"selection": {"points": points, "point_indices": list(range(len(rows))), "box": [], "lasso": []}}


def test_selected_points_list_their_texts_and_neighbours_and_survive_reruns(make_app):
    at = open_explorer(make_app, explorer_method="pca")
    texts = at.session_state[state.TEXTS].texts
    at.session_state["explorer_map"] = _selection_event([7, 42])
    at.run()
    assert not at.exception
    assert "2 selected" in plain_messages(at.subheader)
    frame = table(at, "explorer_selection_table")
    assert len(frame) == 2 * 5
    assert frame["text"].drop_duplicates().tolist() == [texts[7], texts[42]]
    assert frame["rank"].tolist() == [1, 2, 3, 4, 5] * 2
    assert not frame["neighbour"].isin([texts[7]]).iloc[:5].any()
    assert frame.groupby("row")["cosine"].apply(lambda s: s.is_monotonic_decreasing).all()
    downloads = {b.key: b for b in at.get("download_button")}
    assert not downloads["explorer_download_selected"].proto.disabled

    # The chart is redrawn without the event (another tab, a new figure): the rows stay.
    del at.session_state["explorer_map"]
    show_tab(at, "Query")
    show_tab(at, "Map")
    assert "2 selected" in plain_messages(at.subheader)
    at.selectbox(key="explorer_colour").set_value("cluster").run()
    assert "2 selected" in plain_messages(at.subheader)
    # The redrawn map is a new chart for Streamlit (the user's selection is gone from it),
    # so it marks the remembered rows itself through Plotly's selectedpoints.
    spec = chart(at, "explorer_map")
    marked = [
        int(plotly_array(t["customdata"])[i]) for t in point_traces(spec) for i in t.get("selectedpoints", [])
    ]
    assert sorted(marked) == [7, 42]
    assert all("selectedpoints" in t for t in point_traces(spec))
    at.number_input(key="explorer_neighbours_k").set_value(2).run()
    assert len(table(at, "explorer_selection_table")) == 4

    at.button(key="explorer_clear_selection").click().run()
    assert "selected" not in plain_messages(at.subheader)
    assert all("selectedpoints" not in t for t in chart(at, "explorer_map")["data"])

    at.session_state["explorer_map"] = _selection_event([1])
    at.run()
    assert "1 selected" in plain_messages(at.subheader)

    # Other texts: the old selection does not apply to them.
    at.selectbox(key="explorer_sample").set_value("seed").run()
    assert "selected" not in plain_messages(at.subheader)


# --- the API provider: a click, and the last good result kept -------------------------------------

API_DIMS = 1024


def test_api_provider_waits_for_a_click_and_keeps_the_last_result_when_a_call_fails(make_app, fake_openai):
    api = fake_openai(models={"BAAI/bge-m3": API_DIMS})
    at = open_explorer(
        make_app, **{state.PROVIDER_KIND: "custom", state.BASE_URL: api.url, "explorer_method": "pca"}
    )
    # Nothing is sent before the click (it would cost money).
    assert api.embedded == []
    assert "Press **Embed**" in plain_messages(at.info)
    assert not at.get("plotly_chart")

    at.button(key="explorer_embed").click().run()
    assert not at.exception and not at.error
    assert len(api.embedded) == 100
    assert metrics(at)["Dimensions"] == str(API_DIMS)
    assert sorted(map_rows(chart(at, "explorer_map")).tolist()) == list(range(100))

    # New texts, and the endpoint now refuses: the error is shown, the 100-text map stays.
    api.refuse = True
    at.selectbox(key="explorer_sample").set_value("seed").run()
    assert "Showing the previous result (100 texts" in plain_messages(at.info)
    at.button(key="explorer_embed").click().run()
    assert not at.exception
    assert at.error  # the friendly 401 message
    assert metrics(at)["Texts"] == "100"
    assert sorted(map_rows(chart(at, "explorer_map")).tolist()) == list(range(100))


def test_find_highlights_matching_texts_and_selects_them_from_the_list(make_app):
    at = open_explorer(make_app, explorer_method="pca")
    texts = at.session_state[state.TEXTS].texts
    at.text_input(key="explorer_find").set_value("guitar").run()
    assert not at.exception, at.exception
    expected = [i for i, t in enumerate(texts) if "guitar" in t.lower()]
    assert expected, "the topics sample mentions guitars"
    assert f"**{len(expected)} match" in plain_messages(at.markdown)
    spec = chart(at, "explorer_map")
    found = [t for t in spec["data"] if t["name"].startswith("matches")]
    assert len(found) == 1 and sorted(plotly_array(found[0]["customdata"]).ravel().tolist()) == expected
    assert all(t["marker"]["opacity"] <= 0.25 for t in spec["data"] if t["name"] in TOPICS)
    assert table(at, "explorer_find_table")["row"].tolist() == expected

    # A label matches too; a bad regular expression is a message, not a traceback.
    at.text_input(key="explorer_find").set_value("^spa").run()
    at.toggle(key="explorer_find_regex").set_value(True).run()
    labels = at.session_state[state.TEXTS].labels
    assert table(at, "explorer_find_table")["row"].tolist() == [
        i
        for i, (t, lab) in enumerate(zip(texts, labels, strict=True))
        if t.lower().startswith("spa") or lab == "space"
    ]
    at.text_input(key="explorer_find").set_value("(space").run()
    assert not at.exception and "not a valid regular expression" in plain_messages(at.warning)
    at.text_input(key="explorer_find").set_value("").run()
    assert not any(t["name"].startswith("matches") for t in chart(at, "explorer_map")["data"])


def test_one_selected_text_is_joined_to_its_nearest_neighbours_by_lines(make_app):
    at = open_explorer(make_app, explorer_method="pca")
    at.session_state["explorer_map"] = _selection_event([7])
    # In a browser the chart's on_select callback stores the click before the rerun; AppTest
    # delivers the event during the run, so the map shows it from the next run on.
    at.run().run()
    assert not at.exception, at.exception
    spec = chart(at, "explorer_map")
    lines = [t for t in spec["data"] if t["name"] == "links"]
    assert len(lines) == 1
    xs = plotly_array(lines[0]["x"]).astype(float)
    coords = {
        int(r): x
        for t in point_traces(spec)
        for r, x in zip(plotly_array(t["customdata"]).ravel(), plotly_array(t["x"]), strict=True)
    }
    # Five segments (default k) from text 7 to the five rows listed as its neighbours.
    listed = table(at, "explorer_selection_table")["neighbour_row"].tolist()
    assert len(xs) == 15 and np.allclose(xs[0::3], coords[7])
    assert np.allclose(xs[1::3], [coords[r] for r in listed])
    assert "nearest neighbours by cosine in the full 384-dimensional space" in plain_messages(at.caption)
    rings = [t for t in spec["data"] if t["name"] == "neighbours"]  # the lines' ends are ringed
    assert len(rings) == 1 and sorted(plotly_array(rings[0]["customdata"]).ravel().tolist()) == sorted(listed)
    # Two selected texts: no lines (a crowd of lines says nothing).
    at.session_state["explorer_map"] = _selection_event([7, 9])
    at.run().run()
    assert not [t for t in chart(at, "explorer_map")["data"] if t["name"] == "links"]


# --- HDBSCAN, isolation, 3-D picking, heatmap groups, readable tables -----------------------------


def test_colour_by_hdbscan_names_the_clusters_it_finds_and_greys_the_rest(make_app):
    at = open_explorer(make_app, explorer_method="pca")
    at.selectbox(key="explorer_colour").set_value("hdbscan").run()
    assert not at.exception, at.exception
    # The smallest cluster follows the texts (the square root of their number, at least 5) until
    # the user sets it.
    assert at.number_input(key="explorer_min_cluster").value == 10
    spec = chart(at, "explorer_map")
    names = [t["name"] for t in point_traces(spec)]
    clusters = [name for name in names if not name.startswith("unclustered")]
    assert len(clusters) >= 3, names  # five topics: HDBSCAN finds several without being told how many
    assert sorted(int(name.split(" · ")[0]) for name in clusters) == list(range(len(clusters)))
    assert all(1 <= len(name.split(" · ")[1].split(", ")) <= 3 for name in clusters), names
    title = spec["layout"]["legend"]["title"]["text"]
    assert title == f"HDBSCAN, {len(clusters)} clusters"
    grey = [t for t in point_traces(spec) if t["name"].startswith("unclustered")]
    if grey:  # noise is one grey group, named with its size
        assert grey[0]["marker"]["color"] == MUTED
        assert grey[0]["name"] == f"unclustered ({len(plotly_array(grey[0]['customdata']))})"
    colours = {t["marker"]["color"] for t in point_traces(spec) if t not in grey}
    assert colours <= set(CLUSTER_PALETTE)
    assert sorted(map_rows(spec).tolist()) == list(range(100))
    # A larger smallest cluster: fewer clusters (50 of 100 texts can make at most two).
    at.number_input(key="explorer_min_cluster").set_value(50).run()
    fewer = [t["name"] for t in point_traces(chart(at, "explorer_map")) if not t["name"].startswith("uncl")]
    assert len(fewer) <= 2


def test_isolate_selection_then_a_label_and_back_twice_restores_each_map(make_app):
    at = open_explorer(make_app, explorer_method="pca")
    texts = at.session_state[state.TEXTS].texts
    labels = at.session_state[state.TEXTS].labels
    full = map_xy(chart(at, "explorer_map"))
    picked = sorted(
        i
        for topic in ("music", "space", "sports")
        for i in [j for j, lab in enumerate(labels) if lab == topic][:4]
    )
    at.session_state["explorer_map"] = _selection_event(picked)
    at.run()
    assert "12 selected" in plain_messages(at.subheader)
    at.button(key="explorer_isolate").click().run()
    assert not at.exception, at.exception
    assert "Showing 12 of 100 texts — isolated selection" in plain_messages(at.markdown)
    spec = chart(at, "explorer_map")
    part = map_xy(spec)
    # Re-projected on their own: twelve points, the texts of the picked rows, new positions.
    assert len(part) == 12
    hovers = sorted(h.replace("<br>", " ") for t in point_traces(spec) for h in t["hovertext"])
    assert hovers == sorted(texts[i] for i in picked)
    assert "PCA of 12 texts" in plain_messages(at.caption)
    assert "selected" not in plain_messages(at.subheader)  # a new map starts with nothing selected

    # Narrow again, to one label among the twelve.
    music = [i for i in picked if labels[i] == "music"]
    assert len(music) >= 3, [labels[i] for i in picked]
    at.selectbox(key="explorer_only_label").set_value("music").run()
    assert not at.exception, at.exception
    assert f"Showing {len(music)} of 100 texts — isolated selection → only label “music”" in plain_messages(
        at.markdown
    )
    assert {t["name"] for t in point_traces(chart(at, "explorer_map"))} == {"music"}

    at.button(key="explorer_isolation_back").click().run()
    assert "Showing 12 of 100 texts — isolated selection" in plain_messages(at.markdown)
    assert map_xy(chart(at, "explorer_map")) == part  # the same map as before, exactly
    at.button(key="explorer_isolation_back").click().run()
    assert not at.exception
    assert "Showing" not in plain_messages(at.markdown)
    assert map_xy(chart(at, "explorer_map")) == full
    # The selection the full map had when it was isolated comes back with it.
    assert "12 selected" in plain_messages(at.subheader)
    spec = chart(at, "explorer_map")
    marked = [
        int(plotly_array(t["customdata"])[i]) for t in point_traces(spec) for i in t.get("selectedpoints", [])
    ]
    assert sorted(marked) == picked


def test_only_this_label_from_the_full_map_and_isolation_needs_three_texts(make_app):
    at = open_explorer(make_app, explorer_method="pca")
    at.selectbox(key="explorer_only_label").set_value("space").run()
    assert "Showing 20 of 100 texts — only label “space”" in plain_messages(at.markdown)
    assert at.button(key="explorer_isolation_all").proto.disabled  # one step: Back is enough
    at.session_state["explorer_map"] = _selection_event([1, 2])
    at.run()
    button = at.button(key="explorer_isolate")
    assert button.proto.disabled and "at least 3" in button.proto.help
    # Two steps: "All texts" undoes both at once.
    at.session_state["explorer_map"] = _selection_event([1, 2, 3])
    at.run()
    at.button(key="explorer_isolate").click().run()
    assert "Showing 3 of 100 texts" in plain_messages(at.markdown)
    at.button(key="explorer_isolation_all").click().run()
    assert "Showing" not in plain_messages(at.markdown)
    assert sorted(map_rows(chart(at, "explorer_map")).tolist()) == list(range(100))


def test_in_3d_a_text_picked_by_name_is_selected_and_joined_to_its_neighbours(make_app):
    at = open_explorer(make_app, explorer_method="pca", explorer_dims=3)
    assert "In 3-D, pick a text here" in plain_messages(at.caption)
    texts = at.session_state[state.TEXTS].texts
    at.selectbox(key="explorer_pick").set_value(7).run()
    assert not at.exception, at.exception
    assert "1 selected" in plain_messages(at.subheader)
    spec = chart(at, "explorer_map_3d")
    lines = [t for t in spec["data"] if t["name"] == "links"]
    assert len(lines) == 1 and lines[0]["type"] == "scatter3d"
    listed = table(at, "explorer_selection_table")
    assert listed["text"].iloc[0] == texts[7] and len(listed) == 5
    chosen = [t for t in spec["data"] if t["name"].startswith("selected")]
    assert len(chosen) == 1 and plotly_array(chosen[0]["customdata"]).ravel().tolist() == [7]
    # Clearing the selection empties the picker too.
    at.button(key="explorer_clear_selection").click().run()
    assert at.selectbox(key="explorer_pick").value is None
    assert not [t for t in chart(at, "explorer_map_3d")["data"] if t["name"] == "links"]


def _band_colours(spec: dict) -> list[str]:
    """Colours of the left band of a heatmap, top to bottom, one entry per row."""
    out = []
    for shape in spec["layout"].get("shapes", []):
        if shape.get("xref") == "x domain":
            out += [shape["fillcolor"]] * round(shape["y1"] - shape["y0"])
    return out


def test_heatmap_has_label_bands_in_the_map_colours(make_app):
    at = open_explorer(make_app, explorer_method="pca")
    map_colours = {t["name"]: t["marker"]["color"] for t in point_traces(chart(at, "explorer_map"))}
    labels = at.session_state[state.TEXTS].labels
    show_tab(at, "Heatmap")
    heat = chart(at, "explorer_heatmap")
    rows = [int(label.split(" ", 1)[0][1:]) for label in heat["data"][0]["y"]]
    assert _band_colours(heat) == [map_colours[labels[r]] for r in rows]
    assert "bands along the axes show each text's label" in plain_messages(at.caption)


def test_above_the_cell_limit_the_heatmap_shows_mean_cosine_between_labels(make_app, monkeypatch):
    monkeypatch.setattr(heatmaps, "HEATMAP_LIMIT", 40)  # the 100 topics stand in for a large set
    at = open_explorer(make_app, explorer_method="pca", explorer_tab="Heatmap")
    assert not at.exception, at.exception
    assert "mean cosine between two labels" in plain_messages(at.info)
    heat = chart(at, "explorer_heatmap_blocks")["data"][0]
    assert sorted(heat["x"]) == sorted(f"{topic} (20)" for topic in TOPICS)
    z = plotly_array(heat["z"]).reshape(5, 5).astype(float)
    # One cell by hand: the mean cosine of a music text and a space text.
    vectors = at.session_state["explorer_view"]["result"].vectors
    labels = np.asarray(at.session_state[state.TEXTS].labels)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = (unit[labels == "music"] @ unit[labels == "space"].T).mean()
    names = [x.split(" (")[0] for x in heat["x"]]
    assert z[names.index("music"), names.index("space")] == pytest.approx(expected, abs=1e-4)
    assert (np.diag(z) > z[~np.eye(5, dtype=bool)].reshape(5, 4).max(axis=1)).all()  # topics hold together
    # Coloured by k-means on the map: the blocks are the clusters.
    show_tab(at, "Map")
    at.selectbox(key="explorer_colour").set_value("cluster").run()
    show_tab(at, "Heatmap")
    assert "mean cosine between two k-means clusters" in plain_messages(at.info)
    assert len(chart(at, "explorer_heatmap_blocks")["data"][0]["x"]) == 5
    # A selection small enough gets its own heatmap, with the bands.
    at.session_state["explorer_selection"] = {
        "dataset": at.session_state["explorer_view"]["dataset"],
        "rows": list(range(10)),
    }
    at.run()
    heat = chart(at, "explorer_heatmap")
    assert plotly_array(heat["data"][0]["z"]).size == 100 and len(_band_colours(heat)) == 10


def test_query_results_and_selected_neighbours_are_readable_in_full(make_app):
    at = open_explorer(make_app, explorer_method="pca", explorer_tab="Query")
    at.text_input(key="explorer_query").input("a rocket launch to the moon").run()
    ranking = table(at, "explorer_ranking_table")
    # The best hit is shown in full below the grid (text_table's detail), the grid wraps texts.
    assert ranking["text"].iloc[0] in [t.value for t in at.text]
    grids = [d for d in at.dataframe if "rank" in d.value.columns]
    assert grids[0].proto.row_height >= 64  # Streamlit wraps text cells only in rows taller than 4rem
    show_tab(at, "Map")
    at.session_state["explorer_map"] = _selection_event([7])
    at.run()
    texts = at.session_state[state.TEXTS].texts
    lines = table(at, "explorer_selection_table")
    shown = plain_messages(at.markdown)
    assert texts[7].split()[0] in shown and lines["neighbour"].iloc[0].split()[0] in shown


def test_a_selection_on_an_isolated_map_is_what_the_heatmap_shows(make_app, monkeypatch):
    monkeypatch.setattr(heatmaps, "HEATMAP_LIMIT", 10)
    at = open_explorer(make_app, explorer_method="pca")
    texts = at.session_state[state.TEXTS].texts
    labels = at.session_state[state.TEXTS].labels
    at.selectbox(key="explorer_only_label").set_value("space").run()
    space = [i for i, label in enumerate(labels) if label == "space"]
    # Positions 0, 1 and 5 of the isolated map are these rows of the full set.
    at.session_state["explorer_map"] = _selection_event([0, 1, 5])
    at.run()
    assert "3 selected" in plain_messages(at.subheader)
    show_tab(at, "Heatmap")
    heat = chart(at, "explorer_heatmap")["data"][0]
    shown = sorted(label.split(" ", 1)[1].replace("<br>", " ") for label in heat["y"])
    assert shown == sorted(texts[space[i]] for i in (0, 1, 5))


def _follow_default_script():
    import streamlit as st

    from ui.common import state

    state.follow_default("size", st.session_state.get("wanted", 5))


def test_a_default_that_depends_on_the_texts_follows_them_until_the_user_sets_it(app_env):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_follow_default_script, default_timeout=30)
    at.run()
    assert at.session_state["size"] == 5
    at.session_state["wanted"] = 20
    at.run()
    assert at.session_state["size"] == 20  # untouched: follows the new default
    at.session_state["size"] = 7  # the user's choice
    at.session_state["wanted"] = 30
    at.run()
    assert at.session_state["size"] == 7


def test_hdbscan_on_too_few_texts_leaves_them_all_unclustered(make_app):
    at = make_app(state={"explorer_method": "pca", "explorer_source": "paste"}, timeout=120)
    at.switch_page(PAGE).run()
    at.text_area(key="explorer_paste").set_value("apple\npear\nplum").run()
    at.selectbox(key="explorer_colour").set_value("hdbscan").run()
    assert not at.exception, at.exception
    spec = chart(at, "explorer_map")
    assert [t["name"] for t in point_traces(spec)] == ["unclustered (3)"]
    assert spec["layout"]["legend"]["title"]["text"] == "HDBSCAN, 0 clusters"
