"""Compare models: the same texts through two or three models, and how much they agree.

Nothing is computed until **Compare** is pressed: embedding costs seconds with the bundled
models (minutes if the static one still has to be built) and money with an API. The last
comparison stays on screen across reruns, marked when the settings have changed since.
"""

from __future__ import annotations

import streamlit as st

from embedcore import catalog, charts, compare
from embedcore.tables import disagreements_frame, model_pairs_frame, model_runs_frame, neighbour_lists
from ui.cached import cached_cluster_order, cached_cosine, digest_of
from ui.embedding import embed_button, embed_texts
from ui.errors import friendly_errors
from ui.format import md_escape
from ui.models_picker import find_option, model_options, pick_model
from ui.static_build import show_build_stopped
from ui.texts import text_source_panel

#: Embedding results per model (ui.models_picker's store for this page).
STORE = "compare_results"
#: What the last press of Compare asked for, until it is done (survives reruns in between).
REQUEST = "compare_request"
#: The last finished comparison: what is drawn.
SHOWN = "compare_shown"


def _clear_request() -> None:
    st.session_state.pop(REQUEST, None)


def _run(chosen: dict, texts: list[str], k: int, request: tuple) -> None:
    """Embed with every chosen model, compare, and keep the outcome in ``SHOWN``."""
    with friendly_errors():
        results = {
            slot: embed_texts(
                texts, option=option, store=STORE, progress_label=f"Model {slot}", on_stop=_clear_request
            )
            for slot, option in chosen.items()
        }
        names = {slot: f"{slot} · {option.model.rsplit('/', 1)[-1]}" for slot, option in chosen.items()}
        vectors = {names[slot]: results[slot].vectors for slot in chosen}
        with st.spinner("Comparing…"):
            report = compare.compare_models(vectors, texts, k)
        st.session_state[SHOWN] = {
            "request": request,
            "texts": texts,
            "runs": [
                (names[slot], "bundled" if option.is_local else option.host, results[slot])
                for slot, option in chosen.items()
            ],
            "vectors": vectors,
            "digests": {name: digest_of(v) for name, v in vectors.items()},
            "report": report,
        }
    _clear_request()


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
# The toggle above the row, not inside it: the three pickers then line up.
use_c = st.toggle("Add a third model", key="compare_use_c")
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
if use_c:
    chosen["C"] = pick_model("Model C", options, key="compare_model_c", default=options[-1], container=right)
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

texts = list(table.texts)
request = (tuple((slot, option.key) for slot, option in chosen.items()), digest_of(texts), int(k))
if clicked:
    st.session_state[REQUEST] = request
if st.session_state.get(REQUEST) == request:
    _run(chosen, texts, int(k), request)

shown = st.session_state.get(SHOWN)
if shown is None:
    st.info(
        f"Press **Compare** to embed the {n_texts:,} texts with each model and compare them. The bundled "
        "models take seconds; API models are billed per token (texts embedded before come from the cache).",
        icon=":material/compare_arrows:",
    )
    st.stop()
if shown["request"] != request:
    st.info(
        "Below is the comparison for the earlier choice of models, texts or k: press **Compare** to update it.",
        icon=":material/update:",
    )

texts, report, vectors, digests = shown["texts"], shown["report"], shown["vectors"], shown["digests"]
n_texts = len(texts)
names = list(vectors)
st.subheader("Models", anchor=False)
st.dataframe(
    model_runs_frame(shown["runs"]),
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
for name, _where, result in shown["runs"]:
    for warning in result.warnings:
        st.warning(md_escape(f"{name}: {warning}"), icon=":material/warning:")

st.subheader("Agreement", anchor=False)
pair = report.pair(names[0], names[1])
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
if len(names) > 2:
    st.dataframe(
        model_pairs_frame(report),
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
shown_pair = report.pairs[
    pair_names.index(st.selectbox("Models", pair_names, key="compare_scatter_pair"))
    if len(pair_names) > 1
    else 0
]
st.plotly_chart(
    charts.agreement_scatter(
        vectors[shown_pair.model_a],
        vectors[shown_pair.model_b],
        texts,
        (shown_pair.model_a, shown_pair.model_b),
    ),
    key="compare_scatter",
    width="stretch",
    theme=None,
)
st.caption("Each point is a pair of texts; on the dotted diagonal both models find them equally similar.")

st.subheader("Where the models disagree most", anchor=False)
top = st.slider("Texts to list", 5, 50, 15, key="compare_top")
items = compare.disagreements(report, top, models=[shown_pair.model_a, shown_pair.model_b])
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
