"""Compare models: the same texts through two or three models, and how much they agree."""

from __future__ import annotations

import numpy as np
import streamlit as st

from embedcore import catalog, charts, compare
from embedcore.similarity import cluster_order, cosine_matrix
from ui.compute import cached_cosine, texts_digest, vectors_digest
from ui.errors import friendly_errors
from ui.extra_tables import disagreements_frame, md_escape, model_runs_frame, neighbour_lists, pairs_frame
from ui.models_picker import embed_with, find_option, model_options, pick_model, stored
from ui.texts import text_source_panel

STORE = "compare_results"
#: Texts beyond which the agreement scatter uses a subset of rows (cosine matrices grow as n²).
SCATTER_ROWS = 2000


@st.cache_resource(show_spinner="Comparing…", max_entries=4, ttl=1800)
def _comparison(key: tuple, k: int, _vectors: dict, _texts: list) -> compare.ComparisonReport:
    return compare.compare_models(_vectors, _texts, k)


@st.cache_data(show_spinner=False, max_entries=8)
def _order(digest: str, _vectors) -> np.ndarray:
    return cluster_order(_vectors)


st.title("Compare models", anchor=False)
st.caption(
    "The same texts through two or three models. Dimensions differ between models, so the vectors "
    "are never compared directly: what is compared is how each model ranks the pairs of texts "
    "(Spearman correlation) and which neighbours it gives each text (Jaccard overlap)."
)

table = text_source_panel("compare")
options = model_options()
if not options:
    st.warning(
        "No model is available: the bundled models are not installed here and no API is connected. "
        "Choose **IONOS AI Model Hub** or an **OpenAI-compatible URL** in the sidebar.",
        icon=":material/cloud_off:",
    )
    st.stop()

minilm = find_option(options, catalog.MINILM_ID, prefer="local")
static = find_option(options, catalog.MINILM_STATIC_ID, prefer="local")
left, middle, right = st.columns(3)
chosen = {
    "A": pick_model(
        "Model A (sets the heatmaps' row order)",
        options,
        key="compare_model_a",
        default=minilm or options[0],
        container=left,
    ),
    "B": pick_model(
        "Model B", options, key="compare_model_b", default=static or options[-1], container=middle
    ),
}
if right.toggle("Add a third model", key="compare_use_c"):
    chosen["C"] = pick_model("Model C", options, key="compare_model_c", default=options[-1], container=right)

names = {slot: f"{slot} · {option.model.rsplit('/', 1)[-1]}" for slot, option in chosen.items()}
if len({o.key for o in chosen.values()}) < len(chosen):
    st.caption(
        ":material/info: The same model appears twice: its agreement with itself is 1 by construction "
        "(a sanity check)."
    )

n_texts = len(table) if table is not None else 0
k = st.slider(
    "Neighbours per text (k) for the overlap",
    min_value=1,
    max_value=max(2, min(20, n_texts - 1)),
    value=min(5, max(1, n_texts - 1)),
    key="compare_k",
    disabled=n_texts < 3,
)
clicked = st.button(
    "Compare",
    key="compare_run",
    type="primary",
    icon=":material/compare_arrows:",
    disabled=table is None,
    help="Bundled models run by themselves; API models are embedded when you press this.",
)

if table is None:
    st.stop()
if n_texts < 3:
    st.warning("Comparing models needs at least 3 texts.", icon=":material/info:")
    st.stop()

texts = table.texts
results = {}
with friendly_errors():
    for slot, option in chosen.items():
        result = stored(option, texts, store=STORE)
        # The bundled models cost nothing, so they run at once: a new user sees a comparison
        # without pressing anything. API models are billed, so they wait for the button.
        if result is None and (clicked or option.is_local):
            result = embed_with(option, texts, store=STORE, progress_label=f"Model {slot}")
        if result is not None:
            results[slot] = result

missing = [slot for slot in chosen if slot not in results]
if missing:
    if not clicked:
        st.info(
            f"Press **Compare** to embed the {n_texts:,} texts with model(s) {', '.join(missing)} "
            "through the API (texts already embedded come from the cache).",
            icon=":material/compare_arrows:",
        )
    st.stop()

st.subheader("Models", anchor=False)
st.dataframe(
    model_runs_frame(
        [
            (names[slot], "bundled" if chosen[slot].is_local else chosen[slot].host, results[slot])
            for slot in chosen
        ]
    ),
    key="compare_runs",
    hide_index=True,
    width="stretch",
    column_config={
        "seconds": st.column_config.NumberColumn("time (s)", format="%.2f"),
        "tokens": st.column_config.NumberColumn(
            "tokens", format="%d", help="Billed in the call that made the vectors."
        ),
    },
)
for slot in chosen:
    for warning in results[slot].warnings:
        st.warning(md_escape(f"{names[slot]}: {warning}"), icon=":material/warning:")

vectors = {names[slot]: results[slot].vectors for slot in chosen}
digests = {name: vectors_digest(v) for name, v in vectors.items()}
report = None
with friendly_errors():
    key = (texts_digest(texts), tuple(digests.items()))
    report = _comparison(key, int(k), vectors, list(texts))
if report is None:
    st.stop()

st.subheader("Agreement", anchor=False)
name_a, name_b = names["A"], names["B"]
pair = report.pair(name_a, name_b)
cols = st.columns(3)
cols[0].metric(
    "Spearman (pair similarities)",
    f"{pair.spearman:.3f}",
    help="Rank correlation of the cosine similarity of every pair of texts under A and under B: "
    "1 = both models order all pairs alike.",
)
cols[1].metric(
    f"Mean Jaccard@{report.k}",
    f"{pair.mean_jaccard:.3f}",
    help=f"Overlap of each text's {report.k} nearest neighbours under A and B, averaged: 1 = same neighbours.",
)
cols[2].metric(
    "Chance level",
    f"{report.k / (n_texts - 1):.3f}",
    help="About the Jaccard overlap two unrelated models would reach by luck.",
)
if len(chosen) > 2:
    st.dataframe(
        pairs_frame(report),
        key="compare_pairs",
        hide_index=True,
        width="stretch",
        column_config={
            "spearman": st.column_config.NumberColumn(format="%.3f"),
            f"jaccard@{report.k}": st.column_config.NumberColumn(format="%.3f"),
        },
    )

st.subheader("Similarity heatmaps", anchor=False)
if n_texts > charts.HEATMAP_LIMIT:
    st.info(
        f"Heatmaps are drawn for up to {charts.HEATMAP_LIMIT} texts; you have {n_texts:,}. "
        "The agreement numbers above use all of them.",
        icon=":material/grid_off:",
    )
else:
    order = _order(digests[name_a], vectors[name_a])
    st.caption(
        f"Rows in the order of {md_escape(name_a)}'s clusters, the same for every model, so blocks can be compared. "
        "Colour: cosine from −1 (blue) through 0 (white) to +1 (red), the same scale in every heatmap."
    )
    for column, (name, X) in zip(st.columns(len(vectors)), vectors.items(), strict=True):
        figure = charts.heatmap_figure(
            cached_cosine(X, digest=digests[name]), texts, order=order, title=name, max_tick_labels=25
        )
        # Side by side the figures are narrow: the row labels are enough (hover names both texts),
        # and no colour bar, so every heatmap gets the same size; the caption states the scale.
        figure.update_xaxes(showticklabels=False)
        figure.update_traces(showscale=False)
        column.plotly_chart(
            figure,
            key=f"compare_heatmap_{name[0]}",
            width="stretch",
            theme=None,
        )

st.subheader("Pair by pair", anchor=False)
pair_names = [f"{p.model_a}  vs  {p.model_b}" for p in report.pairs]
shown = report.pairs[
    pair_names.index(st.selectbox("Models", pair_names, key="compare_scatter_pair"))
    if len(pair_names) > 1
    else 0
]
if n_texts > SCATTER_ROWS:
    # A reproducible subset of texts: two full n × n matrices would not fit in memory for 20k texts.
    rows = np.sort(np.random.default_rng(0).choice(n_texts, SCATTER_ROWS, replace=False))
    st.caption(f"The scatter uses {SCATTER_ROWS:,} of the {n_texts:,} texts (a fixed random subset).")
    sims = [cosine_matrix(vectors[shown.model_a][rows]), cosine_matrix(vectors[shown.model_b][rows])]
    scatter_texts = [texts[i] for i in rows]
else:
    sims = [cached_cosine(vectors[m], digest=digests[m]) for m in (shown.model_a, shown.model_b)]
    scatter_texts = texts
st.plotly_chart(
    charts.agreement_scatter(*sims, scatter_texts, (shown.model_a, shown.model_b)),
    key="compare_scatter",
    width="stretch",
    theme=None,
)
st.caption("Each point is a pair of texts; on the dotted diagonal both models find them equally similar.")

st.subheader("Where the models disagree most", anchor=False)
top = st.slider("Texts to list", 5, 50, 15, key="compare_top")
items = compare.disagreements(report, top, models=[shown.model_a, shown.model_b])
st.dataframe(
    disagreements_frame(items, report.k),
    key="compare_disagreements",
    hide_index=True,
    width="stretch",
    column_config={
        "text": st.column_config.TextColumn(width="large"),
        "jaccard": st.column_config.NumberColumn(
            f"jaccard@{report.k}", format="%.2f", help="Overlap of the two neighbour lists; 0 = none shared."
        ),
        "shared": st.column_config.TextColumn("neighbours shared"),
    },
)
if items:
    pick = st.selectbox(
        "Neighbours of",
        range(len(items)),
        format_func=lambda i: charts.short_label(items[i].text, 90),
        key="compare_detail",
    )
    for column, (model, frame) in zip(st.columns(2), neighbour_lists(items[pick]).items(), strict=True):
        column.markdown(f"**{md_escape(model)}**")
        column.dataframe(
            frame,
            hide_index=True,
            width="stretch",
            column_config={
                "#": st.column_config.NumberColumn(width="small"),
                "neighbour": st.column_config.TextColumn(width="large"),
                "shared": st.column_config.CheckboxColumn(help="Also a neighbour under the other model."),
            },
        )
