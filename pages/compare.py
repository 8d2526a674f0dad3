"""Compare models: the same texts through two or three models, and how much they agree.

Top to bottom: texts, models and k; on **Compare** one engine call (:func:`embedcore.analysis.compare.compare_models`
after each model embedded the texts); then the agreement, heatmaps on one row order, a pair-by-pair
scatter and the texts the models disagree on. The request that waits for the button and the last
comparison kept on screen are in :mod:`ui.compare.widgets`.
"""

from __future__ import annotations

import streamlit as st

from embedcore.analysis import compare
from embedcore.figures import charts
from ui.common.cached import cached_cluster_order, cached_cosine
from ui.common.embedding import embed_button
from ui.common.format import md_escape
from ui.common.models_picker import options_or_stop
from ui.common.navigation import ensure_routed
from ui.common.static_build import show_build_stopped
from ui.common.texts import text_source_panel
from ui.compare import widgets as cw

ensure_routed()  # first: Streamlit may have run this file without app.py (ui.common.navigation)

st.title("Compare models", anchor=False)
st.caption(
    "The same texts through two or three models. Dimensions differ between models, so the vectors "
    "are never compared directly: what is compared is how each model ranks the pairs of texts "
    "(Spearman correlation) and which neighbours it gives each text (Jaccard overlap)."
)

table = text_source_panel("compare")
chosen = cw.pick_models(options_or_stop())
n_texts = len(table) if table is not None else 0
k = st.slider(
    "Neighbours per text (k) for the overlap",
    min_value=1,
    max_value=max(2, min(20, n_texts - 1)),
    value=min(5, max(1, n_texts - 1)),
    key="compare_k",
    disabled=n_texts < 3,
)
clicked = embed_button(
    "Compare",
    options=chosen.values(),
    key="compare_run",
    type="primary",
    icon=":material/compare_arrows:",
    disabled=table is None,
    help="Embeds the texts with each model (texts embedded before come from the cache) and compares.",
)
show_build_stopped()

if table is None:
    st.stop()
if n_texts < 3:
    st.warning("Comparing models needs at least 3 texts.", icon=":material/info:")
    st.stop()
shown = cw.comparison(chosen, list(table.texts), int(k), clicked)
if shown is None:
    st.stop()

texts, report, vectors, digests = shown["texts"], shown["report"], shown["vectors"], shown["digests"]
names = report.models
st.subheader("Models", anchor=False)
cw.runs_table(shown["runs"])
st.subheader("Agreement", anchor=False)
cw.agreement(report)

st.subheader("Similarity heatmaps", anchor=False)
if len(texts) > charts.HEATMAP_LIMIT:
    st.info(
        f"Heatmaps are drawn for up to {charts.HEATMAP_LIMIT} texts; you have {len(texts):,}. "
        "The agreement numbers above use all of them.",
        icon=":material/grid_off:",
    )
else:
    st.caption(
        f"Rows in the order of {md_escape(names[0])}'s clusters, the same for every model, so blocks can be "
        "compared. One colour scale for all (the bar on the right): blue below 0, white at 0, red above."
    )
    st.plotly_chart(
        charts.heatmap_row(
            [cached_cosine(vectors[name], digest=digests[name]) for name in names],
            names,
            texts,
            order=cached_cluster_order(vectors[names[0]], digest=digests[names[0]]),
        ),
        key="compare_heatmaps",
        width="stretch",
        theme=None,
    )

st.subheader("Pair by pair", anchor=False)
pair_names = [f"{p.model_a}  vs  {p.model_b}" for p in report.pairs]
pair = report.pairs[
    pair_names.index(st.selectbox("Models", pair_names, key="compare_scatter_pair"))
    if len(pair_names) > 1
    else 0
]
st.plotly_chart(
    charts.agreement_scatter(
        vectors[pair.model_a], vectors[pair.model_b], texts, (pair.model_a, pair.model_b)
    ),
    key="compare_scatter",
    width="stretch",
    theme=None,
)
st.caption("Each point is a pair of texts; on the dotted diagonal both models find them equally similar.")

st.subheader("Where the models disagree most", anchor=False)
top = st.slider("Texts to list", 5, 50, 15, key="compare_top")
cw.disagreements(compare.disagreements(report, top, models=[pair.model_a, pair.model_b]), report.k)
