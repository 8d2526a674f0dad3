"""Tests of embedcore.figures.charts: trace types, row indices, escaping, limits, payload sizes."""

from __future__ import annotations

import html
import json

import numpy as np
import plotly.graph_objects as go
import pytest
from hypothesis import given
from hypothesis import strategies as st

from embedcore.errors import InputError, TooManyTextsError
from embedcore.figures import charts

RNG = np.random.default_rng(0)


def _coords(n: int, d: int = 2, seed: int = 0) -> np.ndarray:
    # Random coordinates: a test fixture only.
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _texts(n: int) -> list[str]:
    return [f"text number {i}" for i in range(n)]


def _rows(fig: go.Figure) -> list[int]:
    """Row indices of every marker trace that carries customdata."""
    out: list[int] = []
    for trace in fig.data:
        if trace.customdata is not None:
            out.extend(np.asarray(trace.customdata).ravel().tolist())
    return out


# --- hover_text / short_label --------------------------------------------------------


def test_hover_text_escapes_markup():
    out = charts.hover_text("<script>alert('x')</script> & <b>bold</b>")
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out and "&lt;b&gt;bold&lt;/b&gt;" in out and "&amp;" in out


def test_hover_text_wraps_and_truncates():
    text = " ".join(["word"] * 200)  # 999 characters
    out = charts.hover_text(text, width=20, max_chars=100)
    lines = [html.unescape(line) for line in out.split("<br>")]  # as the label shows them
    assert all(len(line) <= 20 for line in lines)
    assert lines[-1].endswith("…") and out.isascii()
    assert len(" ".join(lines)) <= 100


def test_hover_text_wraps_before_escaping():
    # "&lt;" must not be cut in half by the wrap, nor count as four characters.
    out = charts.hover_text("<" * 30, width=10)
    assert out.split("<br>") == ["&lt;" * 10] * 3


def test_hover_text_splits_long_words_and_collapses_whitespace():
    out = charts.hover_text("a\n\n\tb " + "x" * 25, width=10)
    assert out.split("<br>") == ["a b", "x" * 10, "x" * 10, "x" * 5]


@given(st.text(max_size=400), st.integers(1, 80), st.integers(1, 400))
def test_hover_text_never_leaks_markup(text, width, max_chars):
    out = charts.hover_text(text, width=width, max_chars=max_chars)
    # The only tag left is our own line break.
    assert "<" not in out.replace("<br>", "") and ">" not in out.replace("<br>", "")
    plain = html.unescape(out.replace("<br>", " "))  # what the label shows
    assert out.isascii() and len(plain) <= max_chars + plain.count(
        " "
    )  # wrapping may turn a split word into a break


def test_short_label_is_one_escaped_line():
    label = charts.short_label("<i>a very long label that goes on</i>\nand on", 12)
    assert label.endswith("…") and "<" not in label and "\n" not in label


# --- scatter -----------------------------------------------------------------------


def test_scatter_uses_svg_below_threshold_and_webgl_above():
    small = charts.scatter_figure(_coords(50), _texts(50), webgl_threshold=100)
    big = charts.scatter_figure(_coords(150), _texts(150), webgl_threshold=100)
    assert {t.type for t in small.data} == {"scatter"}
    assert {t.type for t in big.data} == {"scattergl"}
    assert small.layout.dragmode == "lasso"


def test_scatter_3d_uses_scatter3d():
    fig = charts.scatter_figure(_coords(2000, 3), _texts(2000), color=[i % 3 for i in range(2000)])
    assert {t.type for t in fig.data} == {"scatter3d"}


def test_scatter_customdata_maps_back_to_rows_per_category():
    labels = ["b", "a", "c", "a", "b", "a"] * 10
    fig = charts.scatter_figure(_coords(60), _texts(60), color=labels)
    assert len(fig.data) == 3  # one trace per category
    assert [t.name for t in fig.data] == ["a", "b", "c"]  # equal counts: alphabetical
    for trace in fig.data:
        rows = np.asarray(trace.customdata)
        assert all(labels[r] == trace.name for r in rows)
        # Each point's hover is its own row's text.
        assert list(trace.hovertext) == [f"text number {r}" for r in rows]
    assert sorted(_rows(fig)) == list(range(60))


def test_selected_rows_reads_customdata_not_point_index():
    labels = ["x", "y"] * 5
    fig = charts.scatter_figure(_coords(10), _texts(10), color=labels)
    y_trace = next(i for i, t in enumerate(fig.data) if t.name == "y")
    # A Streamlit selection event for the first two points of the "y" trace.
    event = {
        "selection": {
            "points": [
                {"curve_number": y_trace, "point_index": 0, "customdata": [1]},
                {"curve_number": y_trace, "point_index": 1, "customdata": 3},
                {"curve_number": 9, "point_index": 0},  # the query star: no customdata
            ]
        }
    }
    assert charts.selected_rows(event) == [1, 3]
    assert charts.selected_rows(None) == []
    assert charts.selected_rows({"points": []}) == []


def test_scatter_cluster_ids_and_too_many_categories():
    fig = charts.scatter_figure(_coords(30), _texts(30), color=[i % 3 for i in range(30)])
    assert [t.name for t in fig.data] == ["cluster 0", "cluster 1", "cluster 2"]
    labels = [f"label {i}" for i in range(40)] + ["big"] * 20
    fig = charts.scatter_figure(_coords(60), _texts(60), color=labels, max_categories=5)
    assert len(fig.data) == 5
    assert fig.data[0].name == "big"
    assert fig.data[-1].name == "other (37)"  # 4 kept + 1 "other" trace = max_categories
    assert sorted(_rows(fig)) == list(range(60))


def test_scatter_continuous_colour_is_one_trace_with_colorbar():
    fig = charts.scatter_figure(_coords(20), _texts(20), color=np.linspace(0, 1, 20), color_title="score")
    assert len(fig.data) == 1
    assert fig.data[0].marker.showscale is True


def test_scatter_escapes_user_text_and_labels():
    texts = ["<script>alert(1)</script>", "<b>bold</b>"]
    fig = charts.scatter_figure(_coords(2), texts, color=["<i>lab</i>", "ok"])
    spec = fig.to_json()
    assert "<script>" not in spec and "\\u003cscript\\u003e" not in spec
    hovers = [h for t in fig.data for h in t.hovertext]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hovers
    assert "&lt;i&gt;lab&lt;/i&gt;" in [t.name for t in fig.data]


def test_scatter_query_point_and_highlight():
    fig = charts.scatter_figure(
        _coords(30), _texts(30), highlight=[3, 5, 5], query_point=(np.array([0.5, -0.5]), "my <query>")
    )
    query = next(t for t in fig.data if t.name == "query")
    assert query.marker.symbol == "star"
    assert list(query.x) == [0.5] and list(query.y) == [-0.5]
    assert query.type == "scatter"  # same family as the points, so it is drawn on top
    assert [a.text for a in fig.layout.annotations] == ["my &lt;query&gt;"]
    assert query.customdata is None  # a selection never maps the query to a row
    hl = next(t for t in fig.data if t.name == "neighbours")
    assert list(hl.customdata) == [3, 5]
    assert hl.marker.line.width > 0
    assert query.unselected.marker.opacity == 1 and hl.unselected.marker.opacity == 1  # survive a selection
    # query_text form, 3-D
    fig3 = charts.scatter_figure(_coords(10, 3), _texts(10), query_point=[0, 0, 0], query_text="q")
    assert any(t.name == "query" and t.type == "scatter3d" for t in fig3.data)


def test_scatter_keeps_ui_state_and_template():
    fig = charts.scatter_figure(_coords(10), _texts(10), uirevision="dataset-1")
    assert fig.layout.uirevision == "dataset-1"
    assert fig.layout.template.layout.colorway == charts.PALETTE


def test_scatter_rejects_bad_input():
    with pytest.raises(InputError):
        charts.scatter_figure(_coords(10), _texts(9))
    with pytest.raises(InputError):
        charts.scatter_figure(np.zeros((10, 4)), _texts(10))
    with pytest.raises(InputError):
        charts.scatter_figure(_coords(10), _texts(10), highlight=[10])
    with pytest.raises(InputError):
        charts.scatter_figure(_coords(10), _texts(10), query_point=[1, 2, 3])
    bad = _coords(3)
    bad[1, 0] = np.nan
    with pytest.raises(InputError):
        charts.scatter_figure(bad, _texts(3))


@pytest.mark.slow  # ~2 s idle, ~5 s on a loaded 2-core machine
def test_scatter_50k_points_payload_budget():
    n = 50_000
    rng = np.random.default_rng(1)
    words = np.array(
        ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "embeddings", "glow"]
    )
    texts = [" ".join(rng.choice(words, size=40)) for _ in range(n)]  # ~200 characters each
    labels = [f"topic {i % 12}" for i in range(n)]
    fig = charts.scatter_figure(_coords(n), texts, color=labels, highlight=range(10), query_point=[0, 0])
    size = len(fig.to_json())
    # Coordinates + row ids ≈ 0.8 MB; hover text is cut to 100 characters above 10k points.
    # Uncut, the hover strings alone would be ~11 MB.
    assert size < 8_000_000, size
    assert all(t.type == "scattergl" for t in fig.data)
    assert sorted(set(_rows(fig))) == list(range(n))
    # float32 typed arrays, not float64 or lists
    spec = json.loads(fig.to_json())
    assert spec["data"][0]["x"]["dtype"] == "f4"
    assert spec["data"][0]["customdata"]["dtype"] == "i4"


# --- heatmap -----------------------------------------------------------------------


def _sim(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return (x @ x.T).astype(np.float32)


def test_heatmap_applies_order_to_rows_columns_and_labels():
    sim = _sim(5)
    texts = [f"t{i}" for i in range(5)]
    order = [3, 0, 4, 1, 2]
    fig = charts.heatmap_figure(sim, texts, order=order)
    hm = fig.data[0]
    assert hm.type == "heatmap"
    np.testing.assert_allclose(np.asarray(hm.z), sim[np.ix_(order, order)], rtol=1e-6)
    assert [x.split(" ", 1)[1] for x in hm.x] == [f"t{i}" for i in order]
    assert list(fig.layout.xaxis.ticktext) == [f"t{i}" for i in order]
    assert fig.layout.yaxis.autorange == "reversed"
    assert fig.layout.yaxis.scaleanchor == "x"  # square cells
    assert (hm.zmin, hm.zmax, hm.zmid) == (-1.0, 1.0, 0.0)
    assert "%{x}" in hm.hovertemplate and "%{y}" in hm.hovertemplate and "%{z" in hm.hovertemplate


def test_heatmap_subset_order_and_duplicate_texts_stay_separate():
    sim = _sim(6)
    fig = charts.heatmap_figure(sim, ["same"] * 6, order=[5, 1])
    hm = fig.data[0]
    assert np.asarray(hm.z).shape == (2, 2)
    assert len(set(hm.x)) == 2  # duplicate texts would merge into one category otherwise


def test_heatmap_escapes_hover_and_ticks():
    fig = charts.heatmap_figure(_sim(2), ["<script>x</script>", "<b>b</b>"])
    hm = fig.data[0]
    for value in [*hm.x, *hm.y, *fig.layout.xaxis.ticktext]:
        assert "<script>" not in value and "<b>" not in value
    assert (
        "&lt;script&gt;x&lt;/script&gt;" in hm.x[0] and fig.layout.yaxis.ticktext[1] == "&lt;b&gt;b&lt;/b&gt;"
    )


def test_heatmap_refuses_above_limit_before_work():
    n = charts.HEATMAP_LIMIT + 1
    with pytest.raises(charts.HeatmapTooLargeError) as info:
        charts.heatmap_figure(np.zeros((n, n), np.float32), _texts(n))
    assert isinstance(info.value, TooManyTextsError) and isinstance(info.value, InputError)
    assert info.value.n == n and info.value.limit == charts.HEATMAP_LIMIT
    assert "top" in str(info.value) or "most similar pairs" in str(info.value)
    # A subset of a big matrix is fine.
    fig = charts.heatmap_figure(np.zeros((n, n), np.float32), _texts(n), order=range(50))
    assert np.asarray(fig.data[0].z).shape == (50, 50)
    with pytest.raises(ValueError):
        charts.heatmap_figure(_sim(3), _texts(3), max_cells_side=charts.HEATMAP_HARD_LIMIT + 1)


def test_heatmap_payload_at_limit():
    n = charts.HEATMAP_LIMIT
    texts = ["word " * 80] * n  # 400-character texts
    size = len(charts.heatmap_figure(_sim(n), texts).to_json())
    assert size < 1_000_000, size
    assert len(charts.heatmap_figure(_sim(n), texts).layout.xaxis.tickvals) <= 40


def test_heatmap_hugs_the_top_so_a_square_grid_leaves_no_gap_above_it():
    fig = charts.heatmap_figure(_sim(10), _texts(10), title="t")
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.constraintoward == "top"


def test_heatmap_row_shares_row_order_and_one_colour_bar():
    sims = [_sim(12, seed=1), _sim(12, seed=2) * 0.5, _sim(12, seed=3)]
    order = np.arange(12)[::-1]
    fig = charts.heatmap_row(sims, ["A · one", "B · two", "C · <b>three</b>"], _texts(12), order=order)
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert len(heatmaps) == 3
    # One colour axis for all three: the same colour is the same cosine in every panel, and
    # exactly one colour bar says which.
    assert {t.coloraxis for t in heatmaps} == {"coloraxis"}
    assert (
        fig.layout.coloraxis.showscale is not False and fig.layout.coloraxis.colorbar.title.text == "cosine"
    )
    assert not any(t.showscale for t in heatmaps)
    # The same row order in every panel, model A's.
    assert heatmaps[0].y == heatmaps[1].y == heatmaps[2].y
    assert heatmaps[0].y[0].startswith("#11 ")
    np.testing.assert_allclose(np.asarray(heatmaps[1].z), sims[1][np.ix_(order, order)], atol=1e-6)
    # Row labels once, at the left; square cells hugging the top (no blank band above the grids).
    axes = [fig.layout[f"yaxis{i if i > 1 else ''}"] for i in (1, 2, 3)]
    assert [bool(a.showticklabels is not False) for a in axes] == [True, False, False]
    assert all(a.constraintoward == "top" and a.scaleanchor for a in axes)
    # Panel titles: the model names, escaped.
    assert [a.text for a in fig.layout.annotations][:3] == [
        "A · one",
        "B · two",
        "C · &lt;b&gt;three&lt;/b&gt;",
    ]
    # The colour range comes from the data (off the diagonal), the same for all, centred on 0.
    off = np.concatenate([s[~np.eye(12, dtype=bool)] for s in sims])
    lo, hi = fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax
    assert lo == -hi and np.abs(off).max() <= hi <= 1.0 and hi < np.abs(off).max() + 0.1


def test_heatmap_row_refuses_mismatched_matrices():
    with pytest.raises(InputError):
        charts.heatmap_row([_sim(4), _sim(5)], ["A", "B"], _texts(4))
    with pytest.raises(InputError):
        charts.heatmap_row([_sim(4)], ["A", "B"], _texts(4))
    with pytest.raises(charts.HeatmapTooLargeError):
        charts.heatmap_row([_sim(20)], ["A"], _texts(20), max_cells_side=10)


def test_heatmap_rejects_bad_input():
    with pytest.raises(InputError):
        charts.heatmap_figure(np.zeros((3, 4)), _texts(3))
    with pytest.raises(InputError):
        charts.heatmap_figure(_sim(3), _texts(3), order=[0, 0, 1])
    with pytest.raises(InputError):
        charts.heatmap_figure(_sim(3), _texts(3), order=[0, 3])
    with pytest.raises(InputError):
        charts.heatmap_figure(_sim(3), _texts(2))


# --- other figures -------------------------------------------------------------------


def test_ranking_bar_best_first_and_escaped():
    texts = ["low", "<b>high</b>", "mid", "mid"]
    fig = charts.ranking_bar_figure(texts, [0.1, 0.9, 0.5, 0.5], query="<q>")
    bar = fig.data[0]
    assert bar.orientation == "h"
    assert list(np.asarray(bar.x)) == pytest.approx([0.9, 0.5, 0.5, 0.1])
    assert list(bar.customdata) == [1, 2, 3, 0]
    assert fig.layout.yaxis.ticktext[0] == "&lt;b&gt;high&lt;/b&gt;"
    assert fig.layout.yaxis.autorange == "reversed"  # first bar at the top
    assert "&lt;q&gt;" in fig.layout.title.text and "<q>" not in fig.layout.title.text
    with pytest.raises(InputError):
        charts.ranking_bar_figure(["a"], [0.1, 0.2])


def test_vector_figure_bars_lines_and_second_vector():
    fig = charts.vector_figure(np.arange(16, dtype=np.float32), title="v")
    assert [t.type for t in fig.data] == ["bar"]
    fig = charts.vector_figure(np.ones(768), other=np.zeros(768), other_name="<x>")
    assert [t.type for t in fig.data] == ["scatter", "scatter"]
    assert fig.data[1].name == "&lt;x&gt;"
    with pytest.raises(InputError):
        charts.vector_figure(np.ones(3), other=np.ones(4))


def test_similarity_histogram_counts_each_pair_once():
    sim = _sim(40)
    fig = charts.similarity_histogram(sim, bins=20)
    assert sum(fig.data[0].y) == 40 * 39 // 2
    i, j = np.triu_indices(40, k=1)
    expected = np.histogram(sim[i, j], bins=np.linspace(-1, 1, 21))[0]
    assert list(fig.data[0].y) == expected.tolist()


def _unit(n: int, d: int, seed: int = 0) -> np.ndarray:
    # Random unit vectors: a test fixture only.
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_agreement_scatter_takes_vectors_all_pairs_when_small_and_sample_when_large():
    a = _unit(30, 8)
    fig = charts.agreement_scatter(a, a * 3.0, _texts(30), ("A", "B"))  # scale does not change a cosine
    pts = fig.data[0]
    assert pts.type == "scattergl"
    pairs = np.asarray(pts.customdata)
    assert pairs.shape == (30 * 29 // 2, 2) and (pairs[:, 0] < pairs[:, 1]).all()
    sim = a @ a.T
    np.testing.assert_allclose(np.asarray(pts.x), sim[pairs[:, 0], pairs[:, 1]], atol=1e-6)
    np.testing.assert_allclose(np.asarray(pts.y), np.asarray(pts.x), atol=1e-6)

    # Two models of different dimensions, 400 texts: a reproducible sample of pairs.
    big_a, big_b = _unit(400, 16, seed=1), _unit(400, 5, seed=2)
    fig = charts.agreement_scatter(big_a, big_b, _texts(400), ("A", "B"), max_pairs=5000)
    pairs = np.asarray(fig.data[0].customdata)
    assert pairs.shape == (5000, 2)
    assert len({tuple(p) for p in pairs.tolist()}) == 5000
    assert (pairs[:, 0] < pairs[:, 1]).all()
    i, j = pairs[:, 0], pairs[:, 1]
    np.testing.assert_allclose(np.asarray(fig.data[0].x), (big_a[i] * big_a[j]).sum(1), atol=1e-6)
    np.testing.assert_allclose(np.asarray(fig.data[0].y), (big_b[i] * big_b[j]).sum(1), atol=1e-6)
    assert "5,000 of 79,800 pairs" in fig.layout.title.text
    again = charts.agreement_scatter(big_a, big_b, _texts(400), ("A", "B"), max_pairs=5000)
    np.testing.assert_array_equal(np.asarray(again.data[0].customdata), pairs)  # reproducible


def test_agreement_scatter_refuses_different_texts():
    with pytest.raises(InputError, match="same texts"):
        charts.agreement_scatter(_unit(5, 4), _unit(6, 4), _texts(5))
    with pytest.raises(InputError):
        charts.agreement_scatter(_unit(1, 4), _unit(1, 4), _texts(1))


def test_agreement_scatter_axes_fit_the_cosines_of_the_data():
    # Only positive similarities, as most models give: the axes must not run from -1 (or to 1.5).
    base = _unit(1, 12)[0]
    a = np.abs(_unit(60, 12, seed=3)) + base  # all in one orthant: cosines well above 0
    b = np.abs(_unit(60, 12, seed=4)) + base
    fig = charts.agreement_scatter(a, b, _texts(60))
    x, y = np.asarray(fig.data[0].x), np.asarray(fig.data[0].y)
    lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
    assert lo > 0.3
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        start, stop = axis.range
        assert -1 <= start <= lo and hi <= stop <= 1  # within the cosine range, around the data
        assert stop - start < (hi - lo) + 0.15  # and tight: little empty space
    assert tuple(fig.layout.xaxis.range) == tuple(fig.layout.yaxis.range)
    # Square (equal scales) without stretching the x range to fill a wide page.
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.xaxis.constrain == "domain"


def test_agreement_scatter_payload_bound():
    n = 2000
    vectors = _unit(n, 32)
    texts = ["a fairly long sentence about something " * 5] * n
    size = len(charts.agreement_scatter(vectors, vectors, texts).to_json())
    assert size < 4_000_000, size


# --- room for Plotly's modebar -----------------------------------------------------------


def _title_top_px(fig: go.Figure) -> float:
    """How far below the figure's top edge the title's text starts, in pixels."""
    title = fig.layout.title
    assert title.yref == "container" and title.y == 1 and title.yanchor == "top", title
    return title.pad.t or 0


def _figures_with_titles() -> dict[str, go.Figure]:
    from embedcore.figures.charts import matrix_figure

    sim = _sim(12)
    return {
        "heatmap": charts.heatmap_figure(sim, _texts(12), title="A · a model with a long name"),
        "heatmap_row": charts.heatmap_row([sim, sim], ["A · one", "B · two"], _texts(12)),
        "scatter": charts.scatter_figure(_coords(20), _texts(20), title="A map"),
        "agreement": charts.agreement_scatter(_unit(20, 4), _unit(20, 6), _texts(20), title="Pairs"),
        "matrix": matrix_figure(np.eye(3) * 0.5, ["de", "en", "fr"], title="Accuracy"),
    }


@pytest.mark.parametrize("name", ["heatmap", "heatmap_row", "scatter", "agreement", "matrix"])
def test_titles_and_plots_start_below_the_modebar(name):
    """Plotly's modebar floats over the figure's top-right corner (~30 px) on hover: titles,
    subplot titles, top axes and the plot area must start below it."""
    fig = _figures_with_titles()[name]
    clearance = charts.MODEBAR_CLEARANCE
    assert clearance >= 30
    if fig.layout.title.text:
        assert _title_top_px(fig) >= clearance
        title_line = 1.4 * (fig.layout.title.font.size or charts.TEMPLATE.layout.title.font.size)
        assert fig.layout.margin.t >= clearance + title_line
    else:
        assert fig.layout.margin.t >= clearance
    # Subplot titles are annotations just above their plot: inside the margin, under the modebar.
    titles = [a for a in fig.layout.annotations if a.yref == "paper" and a.y == 1]
    if titles:
        assert fig.layout.margin.t >= clearance + 1.4 * max(a.font.size or 13 for a in titles)
    if fig.layout.xaxis.side == "top":  # tick labels and axis title above the grid
        assert fig.layout.margin.t >= clearance + 60


def test_untitled_figures_keep_the_modebar_off_the_plot():
    fig = charts.scatter_figure(_coords(20), _texts(20))
    assert fig.layout.margin.t >= charts.MODEBAR_CLEARANCE


def test_alignment_figure_links_translations():
    n_sent, langs = 6, ["en", "de", "fr"]
    coords = _coords(n_sent * len(langs))
    languages = [lang for _ in range(n_sent) for lang in langs]
    sids = [s for s in range(n_sent) for _ in langs]
    # sentence 5 has no French translation
    keep = [k for k in range(len(sids)) if not (sids[k] == 5 and languages[k] == "fr")]
    fig = charts.alignment_figure(
        coords[keep], [languages[k] for k in keep], [sids[k] for k in keep], [f"s{sids[k]}" for k in keep]
    )
    links = fig.data[0]
    assert links.mode == "lines" and links.hoverinfo == "skip"
    # 5 sentences × 2 links + 1 link for the incomplete one, each "a, b, None"
    assert len(links.x) == (5 * 2 + 1) * 3
    assert {t.name for t in fig.data[1:]} == set(langs)
    assert sorted(_rows(fig)) == list(range(len(keep)))


def test_heatmap_data_range_spans_the_pairs_of_different_texts():
    sim = np.array([[1.0, 0.2, 0.5], [0.2, 1.0, 0.1], [0.5, 0.1, 1.0]], dtype=np.float32)
    hm = charts.heatmap_figure(sim, ["a", "b", "c"], zrange="data").data[0]
    # The diagonal (1.0) is left out: 0.1 … 0.5 fills the whole colour scale.
    assert (hm.zmin, hm.zmax, hm.zmid) == (pytest.approx(0.1), pytest.approx(0.5), None)
    alike = charts.heatmap_figure(np.full((3, 3), 0.7, np.float32), ["a", "b", "c"], zrange="data").data[0]
    assert alike.zmin < 0.7 < alike.zmax  # no zero-width scale when every pair is alike
    single = charts.heatmap_figure(np.ones((1, 1), np.float32), ["a"], zrange="data").data[0]
    assert (single.zmin, single.zmax) == (-1.0, 1.0)


def test_scatter_emphasis_fades_the_rest_and_draws_the_matches_on_top():
    coords = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
    fig = charts.scatter_figure(coords, [f"t{i}" for i in range(20)], color=["a", "b"] * 10, emphasis=[3, 7])
    base = [t for t in fig.data if t.name in ("a", "b")]
    assert all(t.marker.opacity <= 0.25 for t in base)
    matches = [t for t in fig.data if t.name.startswith("matches")]
    assert len(matches) == 1 and matches[0].name == "matches (2)"
    assert sorted(np.asarray(matches[0].customdata).ravel().tolist()) == [3, 7]
    assert matches[0].marker.opacity == 1.0 and fig.data[-1] is matches[0]
    nothing = charts.scatter_figure(coords, [f"t{i}" for i in range(20)], emphasis=[])
    assert len(nothing.data) == 1 and nothing.data[0].marker.opacity <= 0.25  # no match: all faded
    with pytest.raises(InputError):
        charts.scatter_figure(coords, [f"t{i}" for i in range(20)], emphasis=[20])


@pytest.mark.parametrize("dims", [2, 3])
def test_scatter_names_each_category_at_the_middle_of_its_points(dims):
    coords = np.zeros((6, dims), np.float32)
    coords[3:, 0] = 10.0
    fig = charts.scatter_figure(
        coords, list("abcdef"), color=["0 · jazz"] * 3 + ["1 · goal"] * 3, label_centres=True
    )
    if dims == 3:
        names = [t for t in fig.data if t.name == "names"]
        assert len(names) == 1 and names[0].mode == "text"
        assert list(names[0].text) == ["0 · jazz", "1 · goal"] and list(names[0].x) == [0.0, 10.0]
    else:  # annotations: drawn above a WebGL map's canvas, which covers every SVG trace
        names = _names_2d(fig)
        assert [(a.text, a.x) for a in names] == [("0 · jazz", 0.0), ("1 · goal", 10.0)]
        assert not [t for t in fig.data if t.name == "names"]


def _names_2d(fig):
    return [a for a in fig.layout.annotations if a.name == charts.NAME_ANNOTATION]


def test_names_at_the_left_and_right_edges_run_inwards_and_are_not_clipped():
    coords = np.array([[0, 0], [0, 1], [5, 0], [5, 1], [10, 0], [10, 1]], np.float32)
    fig = charts.scatter_figure(
        coords, list("abcdef"), color=["left"] * 2 + ["mid"] * 2 + ["right"] * 2, label_centres=True
    )
    assert {a.text: a.xanchor for a in _names_2d(fig)} == {"left": "left", "mid": "center", "right": "right"}


@pytest.mark.parametrize("dims", [2, 3])
def test_neighbour_rings_are_drawn_in_a_visible_colour(dims):
    coords = np.random.default_rng(1).normal(size=(10, dims)).astype(np.float32)
    fig = charts.scatter_figure(coords, list("abcdefghij"), highlight=[1, 2])
    ring = next(t for t in fig.data if t.name == "neighbours")
    # Plotly paints an open symbol in the marker colour: a transparent one drew nothing.
    assert ring.marker.color not in (None, "rgba(0,0,0,0)")


@pytest.mark.parametrize(("n", "dims"), [(10, 2), (2_000, 2), (10, 3)])
def test_links_join_the_given_rows_with_lines_under_the_points(n, dims):
    coords = np.arange(n * dims, dtype=np.float32).reshape(n, dims)
    fig = charts.scatter_figure(coords, [f"t{i}" for i in range(n)], links=[(0, 3), (0, 5)])
    lines = fig.data[0]
    assert lines.name == "links" and lines.mode == "lines" and lines.hoverinfo == "skip"
    xs = np.asarray(lines.x, dtype=float)
    np.testing.assert_array_equal(xs[[0, 1, 3, 4]], coords[[0, 3, 0, 5], 0])
    assert np.isnan(xs[[2, 5]]).all()  # a gap after each segment
    assert lines.type == {2: "scattergl" if n > 1000 else "scatter", 3: "scatter3d"}[dims]
    with pytest.raises(InputError):
        charts.scatter_figure(coords, [f"t{i}" for i in range(n)], links=[(0, n)])


# --- clusters with noise, selections in 3-D, group colours on heatmaps ---------------------------


@pytest.mark.parametrize("dims", [2, 3])
def test_unassigned_rows_are_one_grey_trace_last_and_never_shift_the_cluster_colours(dims):
    coords = np.random.default_rng(2).normal(size=(9, dims)).astype(np.float32)
    colour = ["0 · jazz"] * 4 + ["1 · goal"] * 2 + ["unclustered"] * 3
    fig = charts.scatter_figure(
        coords,
        list("abcdefghi"),
        color=colour,
        palette=charts.CLUSTER_PALETTE,
        unassigned="unclustered",
        label_centres=True,
    )
    points = [t for t in fig.data if t.customdata is not None]
    assert [t.name for t in points] == ["0 · jazz", "1 · goal", "unclustered (3)"]
    assert [t.marker.color for t in points] == [*charts.CLUSTER_PALETTE[:2], charts.MUTED]
    assert sorted(np.asarray(points[2].customdata).tolist()) == [6, 7, 8]
    written = (
        list(next(t for t in fig.data if t.name == "names").text)
        if dims == 3
        else [a.text for a in _names_2d(fig)]
    )
    assert written == ["0 · jazz", "1 · goal"]
    # The same clusters without noise keep their colours.
    clean = charts.scatter_figure(
        coords[:6], list("abcdef"), color=colour[:6], palette=charts.CLUSTER_PALETTE
    )
    assert [t.marker.color for t in clean.data] == list(charts.CLUSTER_PALETTE[:2])


def test_category_colors_are_the_map_colours_in_legend_order():
    values = ["b", "a", "b", "c", "b", "a", "noise"] + [f"x{i}" for i in range(3)]
    fig = charts.scatter_figure(
        _coords(len(values)), _texts(len(values)), color=values, unassigned="noise", max_categories=3
    )
    colours = charts.category_colors(values, unassigned="noise", max_categories=3)
    drawn = {t.name: t.marker.color for t in fig.data}
    assert list(colours)[:2] == ["b", "a"]  # largest first, as in the legend
    assert colours["b"] == drawn["b"] and colours["a"] == drawn["a"]
    assert colours["noise"] == colours["x0"] == charts.MUTED  # pooled into "other" on the map


def test_selected_rows_are_drawn_on_top_in_3d_and_as_plotly_selection_in_2d():
    coords3 = _coords(12, 3)
    fig = charts.scatter_figure(coords3, _texts(12), color=["a", "b"] * 6, selected=[4, 1])
    chosen = [t for t in fig.data if t.name.startswith("selected")]
    assert len(chosen) == 1 and chosen[0].name == "selected (2)"
    assert sorted(np.asarray(chosen[0].customdata).tolist()) == [1, 4]
    fig2 = charts.scatter_figure(_coords(12), _texts(12), color=["a", "b"] * 6, selected=[4, 1])
    marked = sorted(
        int(np.asarray(t.customdata)[i]) for t in fig2.data if t.selectedpoints for i in t.selectedpoints
    )
    assert marked == [1, 4] and not [t for t in fig2.data if t.name.startswith("selected")]
    with pytest.raises(InputError):
        charts.scatter_figure(coords3, _texts(12), selected=[12])


def _bands(fig: go.Figure) -> tuple[list, list]:
    """(left band, top band) rectangles: ``(first cell, last cell, colour)`` in display order."""
    left = [s for s in fig.layout.shapes if s.xref == "x domain"]
    top = [s for s in fig.layout.shapes if s.yref == "y domain"]

    def cells(shapes, a, b):
        return [(int(getattr(s, a) + 0.5), int(getattr(s, b) - 0.5), s.fillcolor) for s in shapes]

    return cells(left, "y0", "y1"), cells(top, "x0", "x1")


def test_heatmap_label_band_runs_along_both_axes_in_the_map_colours():
    n = 6
    sim = np.eye(n, dtype=np.float32)
    groups = ["music", "space", "music", "space", "space", "cooking"]
    colours = charts.category_colors(groups)
    fig = charts.heatmap_figure(sim, _texts(n), order=[0, 2, 1, 3, 4, 5], groups=groups)
    left, top = _bands(fig)
    # One rectangle per run of equal labels in display order: music ×2, space ×3, cooking.
    expected = [(0, 1, colours["music"]), (2, 4, colours["space"]), (5, 5, colours["cooking"])]
    assert left == top == expected
    legend = [t for t in fig.data if t.type == "scatter"]
    assert [t.name for t in legend] == list(colours) and all(t.showlegend for t in legend)
    # A subset keeps the colours it is given (the full map's), not its own.
    sub = charts.heatmap_figure(sim, _texts(n), order=[5, 1], groups=groups, group_colors=colours)
    assert [c for *_, c in _bands(sub)[0]] == [colours["cooking"], colours["space"]]
    with pytest.raises(InputError):
        charts.heatmap_figure(sim, _texts(n), groups=groups[:-1])


def test_block_heatmap_draws_the_means_with_sizes_and_group_colours():
    means = np.array([[0.6, 0.1, np.nan], [0.1, 0.5, 0.2], [np.nan, 0.2, np.nan]], dtype=np.float32)
    names = ["music", "sports", "<b>x</b>"]
    fig = charts.block_heatmap_figure(means, names, [20, 15, 1])
    heat = fig.data[0]
    assert heat.type == "heatmap"
    np.testing.assert_array_equal(np.asarray(heat.z, dtype=float), means)
    assert list(heat.x) == list(heat.y) == ["music (20)", "sports (15)", "&lt;b&gt;x&lt;/b&gt; (1)"]
    assert (heat.zmin, heat.zmax) == pytest.approx((0.1, 0.6))
    left, top = _bands(fig)
    colours = charts.category_colors(names)
    assert left == top == [(i, i, colours[name]) for i, name in enumerate(names)]
    with pytest.raises(InputError):
        charts.block_heatmap_figure(means, names[:2], [20, 15])


def test_maps_fade_their_points_as_they_grow_unless_told_otherwise():
    from embedcore.figures.charts import opacity_for, scatter_figure

    def base_opacity(n, **kw):
        coords = np.random.default_rng(0).normal(size=(n, 2))
        fig = scatter_figure(coords, [f"t{i}" for i in range(n)], **kw)
        return {t.marker.opacity for t in fig.data}

    assert base_opacity(100) == {0.8}
    assert base_opacity(12_000) == {opacity_for(12_000)} and opacity_for(12_000) < 0.6
    assert [opacity_for(n) for n in (10, 2_000, 10_000, 50_000, 100_000)] == sorted(
        [opacity_for(n) for n in (10, 2_000, 10_000, 50_000, 100_000)], reverse=True
    )
    assert base_opacity(12_000, opacity=0.9) == {0.9}  # a caller's choice wins


# --- frozen: a finished figure serialised once -------------------------------------------------


_AWKWARD_TEXTS = ["café … naïve", "emoji 😀 and 漢字", "line\u2028separator", "<b>markup</b> & /slash"]


def _streamlit_json(fig: go.Figure) -> str:
    """The spec JSON exactly as ``st.plotly_chart`` makes it (streamlit/elements/plotly_chart.py)."""
    import plotly.io as pio
    import plotly.tools

    return pio.to_json(
        plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True), validate=False
    )


def _awkward_map() -> go.Figure:
    return charts.scatter_figure(
        _coords(4),
        _AWKWARD_TEXTS,
        color=["café", "東京", "café", "東京"],
        hover=charts.hover_texts(_AWKWARD_TEXTS),
    )


def test_frozen_figure_sends_the_same_figure_as_ascii():
    before = _streamlit_json(_awkward_map())
    fig = charts.frozen(_awkward_map())
    after = _streamlit_json(fig)
    assert isinstance(fig, charts.FrozenFigure)
    assert json.loads(after) == json.loads(before)
    assert after.isascii() and not before.isascii()
    # Plotly's escaping for a page (no "</script>" in a spec) is kept.
    assert "<" not in after and "\u2028" not in json.loads(after)["data"][0]["hovertext"][0]
    assert {t["name"] for t in json.loads(after)["data"]} == {"café", "東京"}
    hover = [html.unescape(h) for t in json.loads(after)["data"] for h in t["hovertext"]]
    assert any("😀" in h for h in hover) and any("café …" in h for h in hover)


def test_frozen_figure_is_a_snapshot_serialised_once(monkeypatch):
    import plotly.io._json as pio_json

    fig = charts.frozen(_awkward_map())
    first = _streamlit_json(fig)
    cleaned = []
    clean = pio_json.clean_to_json_compatible
    monkeypatch.setattr(
        pio_json, "clean_to_json_compatible", lambda *a, **k: cleaned.append(1) or clean(*a, **k)
    )
    assert _streamlit_json(fig) == first
    assert not cleaned  # the arrays were not walked again
    assert charts.frozen(fig) is fig
    # Still a figure: its traces are there to read.
    assert sum(len(t.x) for t in fig.data) == 4


def test_frozen_figure_under_plotlys_plain_json_engine_gives_the_same_figure():
    import plotly.io as pio

    expected = json.loads(_streamlit_json(_awkward_map()))
    fig = charts.frozen(_awkward_map())
    engine = pio.json.config.default_engine
    pio.json.config.default_engine = "json"
    try:
        assert json.loads(_streamlit_json(fig)) == expected
    finally:
        pio.json.config.default_engine = engine


def test_frozen_without_orjson_leaves_the_figure_as_it_is(monkeypatch):
    monkeypatch.setattr(charts, "orjson", None)
    fig = _awkward_map()
    assert charts.frozen(fig) is fig and type(fig) is go.Figure


# --- colours that belong to the data set, many labels, the clicked text, names kept apart --------


def test_a_label_keeps_its_colour_on_any_part_of_the_data_set():
    labels = ["music"] * 5 + ["sports"] * 4 + ["space"] * 3 + ["cooking"] * 2
    colours = charts.category_colors(labels)
    assert list(colours) == ["music", "sports", "space", "cooking"]  # largest first
    # A part where the order by size is reversed, then one label alone.
    for part in ([9, 10, 11, 12, 13, 5], [12, 13]):
        sub = [labels[i] for i in part]
        fig = charts.scatter_figure(_coords(len(sub)), _texts(len(sub)), color=sub, colors=colours)
        drawn = {t.name: t.marker.color for t in fig.data}
        assert drawn == {label: colours[label] for label in set(sub)}
        # The legend keeps the data set's order too.
        assert [t.name for t in fig.data] == [label for label in colours if label in set(sub)]


def test_more_labels_than_the_palette_each_get_their_own_colour():
    labels = [f"package {i}" for i in range(11) for _ in range(3)]
    colours = charts.category_colors(labels)
    assert len(set(colours.values())) == 11
    assert charts.MUTED not in colours.values()
    assert charts._QUERY_COLOR not in colours.values()
    fig = charts.scatter_figure(_coords(len(labels)), _texts(len(labels)), color=labels)
    assert len({t.marker.color for t in fig.data}) == 11
    assert {t.marker.symbol for t in fig.data} == {"circle"}  # told apart by colour, not shape
    # Within the qualitative palette, its colours.
    assert set(charts.category_colors(labels[:24]).values()) <= set(charts.PALETTE)
    assert len(charts.many_palette(40)) == 40 and len(set(charts.many_palette(40))) == 40


def test_clusters_are_listed_in_the_order_given_whatever_their_size():
    values = ["0 · jazz"] * 2 + ["1 · goal"] * 5 + ["2 · pasta"] * 3 + ["unclustered"] * 2
    order = ["0 · jazz", "1 · goal", "2 · pasta"]
    colours = charts.category_colors(
        values, palette=charts.CLUSTER_PALETTE, unassigned="unclustered", order=order
    )
    fig = charts.scatter_figure(
        _coords(len(values)), _texts(len(values)), color=values, colors=colours, unassigned="unclustered"
    )
    assert [t.name for t in fig.data] == [*order, "unclustered (2)"]
    assert [t.marker.color for t in fig.data[:3]] == list(charts.CLUSTER_PALETTE[:3])


@pytest.mark.parametrize("dims", [2, 3])
def test_the_clicked_text_is_marked_in_its_own_colour_above_its_neighbours(dims):
    labels = ["a", "b"] * 5
    fig = charts.scatter_figure(
        _coords(10, dims), _texts(10), color=labels, highlight=[2, 4], links=[(3, 2), (3, 4)], focus=3
    )
    marks = [t for t in fig.data if t.name == "clicked text"]
    assert len(marks) == 1 and np.asarray(marks[0].customdata).tolist() == [3]
    assert fig.data[-1] is marks[0]  # on top
    drawn = {t.name: t.marker for t in fig.data}
    assert marks[0].marker.color == drawn["b"].color
    assert marks[0].marker.size > drawn["b"].size and marks[0].marker.line.width >= 2
    assert marks[0].showlegend is False
    with pytest.raises(InputError):
        charts.scatter_figure(_coords(10, dims), _texts(10), focus=10)


def _name_boxes(fig, plot_px=charts.NAMES_PLOT_PX):
    """Boxes (in the pixels place_names assumes) of the names a figure writes on its map."""
    names = _names_2d(fig)
    points = np.concatenate(
        [
            np.column_stack([t.x, t.y])
            for t in fig.data
            if t.customdata is not None and t.name != "clicked text"
        ]
    )
    lo, hi = points.min(axis=0), points.max(axis=0)
    spots = {spot: (x, y) for spot, x, y in charts._NAME_SPOTS}
    anchors = {(a["xanchor"], a["yanchor"]): spot for spot, a in charts._SPOT_ANCHORS.items()}
    boxes = []
    for x, y, text, spot in ((a.x, a.y, a.text, anchors[(a.xanchor, a.yanchor)]) for a in names):
        px = (np.array([x, y]) - lo) / (hi - lo) * np.array(plot_px)
        (x0, x1), (y0, y1) = spots[spot]
        w, h = len(text) * charts._CHAR_PX, charts._LINE_PX
        boxes.append((px[0] + x0 * w, px[0] + x1 * w, px[1] + y0 * h, px[1] + y1 * h))
    return [a.text for a in names], boxes


def test_cluster_names_on_the_map_never_overlap_and_the_largest_are_written():
    rng = np.random.default_rng(3)
    # 12 clusters, several crowded around the middle of the map.
    centres = np.concatenate([rng.normal(0, 0.3, size=(8, 2)), [[-10, -10], [10, 10], [-10, 10], [10, -10]]])
    sizes = [40, 5, 30, 6, 25, 7, 8, 9, 20, 21, 22, 23]
    coords = np.concatenate(
        [c + rng.normal(0, 0.05, size=(s, 2)) for c, s in zip(centres, sizes, strict=True)]
    )
    values = [f"{i} · words, more, words" for i, s in enumerate(sizes) for _ in range(s)]
    fig = charts.scatter_figure(
        coords.astype(np.float32), _texts(len(values)), color=values, label_centres=True
    )
    written, boxes = _name_boxes(fig)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[1] <= b[0] or b[1] <= a[0] or a[3] <= b[2] or b[3] <= a[2], (a, b)
    assert "0 · words, more" in written  # the largest cluster is always named (two terms on the map)
    assert 4 <= len(written) < 12  # the crowded middle cannot hold every name
