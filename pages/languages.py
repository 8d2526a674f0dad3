"""Across languages: do translations of a sentence land together, whatever the language?"""

from __future__ import annotations

import streamlit as st

from embedcore import catalog, charts, io
from embedcore.charts_extra import matrix_figure
from embedcore.multilingual import aligned_table, guess_columns, sentence_detail, sentence_table, worst_table
from ui.cached import cached_alignment, cached_projection, digest_of, sample_table
from ui.embedding import embed_button, embed_texts, stored_result, token_missing
from ui.errors import friendly_errors
from ui.format import md_escape, noun_for, plural
from ui.models_picker import find_option, model_options, pick_model, sidebar_option
from ui.uploads import refused, uploaded_table

STORE = "languages_results"
#: API models that place translations together, best first (catalogue: 50+ / 100+ languages).
MULTILINGUAL_MODELS = ("BAAI/bge-m3", "sentence-transformers/paraphrase-multilingual-mpnet-base-v2")


st.title("Across languages", anchor=False)
st.caption(
    "The same sentences in several languages. A multilingual model puts each sentence's translations "
    "next to each other; an English-only model groups texts by language instead. The score is the "
    "share of texts whose nearest text in another language is their own translation."
)

source = st.radio(
    "Sentences from",
    ["sample", "upload"],
    format_func={"sample": "Built-in sample", "upload": "Upload a table"}.__getitem__,
    horizontal=True,
    key="languages_source",
)
table = None
if source == "sample":
    st.caption(io.SAMPLES["multilingual"])
    with friendly_errors():
        table = sample_table("multilingual")
else:
    got = uploaded_table(
        "languages_upload",
        "CSV / TSV / JSON Lines with a text column, a sentence id column (the same id = the same "
        "sentence) and a language column",
    )
    if got is None and not refused("languages_upload"):
        st.info("Upload a table of translations, or use the built-in sample.", icon=":material/upload_file:")
    elif got is not None:
        frame = got[0]
        with friendly_errors():
            columns = [str(c) for c in frame.columns]
            guess = guess_columns(frame)
            picks = {}
            for col, (role, label) in zip(
                st.columns(3),
                [
                    ("text", "Text column"),
                    ("sentence_id", "Sentence id column"),
                    ("language", "Language column"),
                ],
                strict=True,
            ):
                key = f"languages_{role}_col"
                if st.session_state.get(key) not in columns:
                    st.session_state[key] = guess[role] if guess[role] in columns else columns[0]
                picks[role] = col.selectbox(label, columns, key=key)
            table = aligned_table(frame, picks["text"], picks["sentence_id"], picks["language"])

if table is not None:
    n_sentences = len(set(table.extra["sentence_id"]))
    n_languages = len(set(table.extra["language"]))
    st.caption(
        f"**{len(table):,}** {noun_for(len(table), 'text')} · {plural(n_sentences, 'sentence')} · "
        f"{plural(n_languages, 'language')}"
    )
    for warning in table.warnings:
        st.caption(f":material/warning: {md_escape(warning)}")

options = model_options()
if not options:
    st.warning(
        "No model is available: the bundled models are not installed here and no API is connected. "
        "Choose an API in the sidebar.",
        icon=":material/cloud_off:",
    )
    st.stop()
multilingual = next((o for m in MULTILINGUAL_MODELS if (o := find_option(options, m, prefer="api"))), None)
left, right = st.columns([3, 1], vertical_alignment="bottom")
option = pick_model(
    "Model",
    options,
    key="languages_model",
    default=multilingual or sidebar_option(options) or options[0],
    container=left,
)
clicked = embed_button(
    "Measure alignment",
    options=[option],
    key="languages_run",
    disabled=table is None,
    container=right,
    type="primary",
    icon=":material/translate:",
    width="stretch",
)

info = catalog.KNOWN_MODELS.get(option.model)
if info is not None and info.languages == "English":
    st.info(
        f"**{md_escape(option.model)} was trained on English only**, so expect a low score: it places texts by "
        "their surface (shared words, names, numbers) more than by meaning across languages. That is "
        "the contrast this page is for — compare it with a multilingual model such as "
        "`sentence-transformers/paraphrase-multilingual-mpnet-base-v2` or `BAAI/bge-m3` (choose "
        "**IONOS AI Model Hub** in the sidebar).",
        icon=":material/translate:",
    )

if table is None:
    st.stop()

result = None
with friendly_errors():
    result = stored_result(table.texts, option=option, store=STORE)
    # Bundled models cost nothing, so they run at once; API calls wait for the button.
    if result is None and (clicked or option.is_local):
        result = embed_texts(table.texts, option=option, store=STORE)
if result is None:
    if not clicked and not token_missing([option]):
        st.info(
            f"Press **Measure alignment** to embed the {plural(len(table), 'text')} with {md_escape(option.model)}.",
            icon=":material/translate:",
        )
    st.stop()

ids, langs, texts = table.extra["sentence_id"], table.extra["language"], table.texts
report = None
with friendly_errors():
    digest = digest_of(result.vectors)
    report = cached_alignment(result.vectors, ids, langs, texts)
if report is None:
    st.stop()

st.subheader("Alignment", anchor=False)
cols = st.columns(4)
cols[0].metric(
    "Alignment score",
    f"{report.score:.0%}",
    help=f"{report.n_trials:,} trials: for each text and each other language, is the most similar text "
    "in that language its translation?",
)
cols[1].metric("Chance level", f"{report.chance:.0%}", help="What a model ranking at random would score.")
cols[2].metric(
    "Cosine · translations",
    f"{report.mean_translation_similarity:.3f}",
    help="Mean cosine similarity between translations of the same sentence.",
)
cols[3].metric(
    "Cosine · other sentences",
    f"{report.mean_other_similarity:.3f}",
    help="Mean cosine between different sentences in different languages: the baseline.",
)
st.caption(f"{md_escape(option.model)} · {result.dimensions} dimensions · {result.elapsed:.2f} s to embed")
for warning in result.warnings:
    st.warning(md_escape(warning), icon=":material/warning:")

left, right = st.columns([2, 3])
with left:
    st.markdown("**Accuracy by language pair**")
    st.plotly_chart(
        matrix_figure(
            report.accuracy, report.languages, counts=report.trials, row_title="from", col_title="to"
        ),
        key="languages_pairs",
        width="stretch",
        theme=None,
    )
    st.caption("Row: the language of the text; column: the language its translation was looked for in.")
with right:
    st.markdown("**Map** — coloured by language, lines join translations")
    method = st.radio(
        "Projection",
        ["umap", "pca"],
        format_func=str.upper,
        horizontal=True,
        key="languages_projection",
        label_visibility="collapsed",
    )
    coords = None
    with friendly_errors():
        coords = cached_projection(result.vectors, method, digest=digest)
    if coords is not None:
        st.plotly_chart(
            charts.alignment_figure(coords, langs, ids, texts, uirevision=f"languages-{method}"),
            key="languages_map",
            width="stretch",
            theme=None,
        )
        st.caption("Short lines: translations together. Islands of one colour: grouped by language instead.")

st.subheader("Sentence by sentence", anchor=False)
per_sentence = sentence_table(result.vectors, ids, langs, texts, report)
st.dataframe(
    per_sentence,
    hide_index=True,
    width="stretch",
    column_config={
        "sentence_id": st.column_config.Column("sentence"),
        "text": st.column_config.TextColumn(width="large"),
        "accuracy": st.column_config.ProgressColumn(
            "found",
            format="percent",
            min_value=0.0,
            max_value=1.0,
            help="Share of its trials that succeeded.",
        ),
        "similarity": st.column_config.NumberColumn(
            "cosine", format="%.3f", help="Mean cosine between its translations."
        ),
        **{
            str(lang): st.column_config.NumberColumn(
                str(lang), format="%.2f", help=f"Mean cosine of the {lang} version to the other versions."
            )
            for lang in report.languages
        },
    },
)

st.subheader("Worst-aligned sentences", anchor=False)
worst = worst_table(report, texts, langs)
st.dataframe(
    worst,
    hide_index=True,
    width="stretch",
    column_config={
        "sentence_id": st.column_config.Column("sentence"),
        "text": st.column_config.TextColumn(width="large"),
        "accuracy": st.column_config.NumberColumn("found", format="percent"),
        "similarity": st.column_config.NumberColumn("cosine", format="%.3f"),
        "mistakes": st.column_config.NumberColumn(help="Trials that found another sentence instead."),
    },
)
if report.worst:
    pick = st.selectbox(
        "What was found instead, for",
        range(len(report.worst)),
        format_func=lambda i: (
            f"{worst.loc[i, 'sentence_id']}: {charts.short_label(worst.loc[i, 'text'], 80)}"
        ),
        key="languages_detail",
    )
    detail = sentence_detail(report.worst[pick], texts, langs)
    if detail.empty:
        st.caption("Every version of this sentence found its translations.")
    else:
        st.dataframe(
            detail,
            hide_index=True,
            width="stretch",
            column_config={
                "from": st.column_config.TextColumn(width="small"),
                "looked in": st.column_config.TextColumn(width="small"),
            },
        )
