"""Across languages: do translations of a sentence land together, whatever the language?

Top to bottom: the sentences and a model; the embedding (at once for a bundled model, on the
button for an API one); one engine call, :func:`embedcore.analysis.alignment.alignment_report`; then the
score, the language-pair matrix, the map and the sentence tables (:mod:`ui.languages.widgets`).
"""

from __future__ import annotations

import streamlit as st

from embedcore.figures.compare import alignment_figure, matrix_figure
from ui.common.cached import cached_alignment, cached_projection
from ui.common.embedding import embed_button, embed_texts, stored_result, token_missing
from ui.common.errors import friendly_errors
from ui.common.format import md_escape, plural
from ui.common.methods import method_radio
from ui.common.models_picker import options_or_stop
from ui.common.navigation import ensure_routed
from ui.languages import widgets as lw

ensure_routed()  # first: Streamlit may have run this file without app.py (ui.common.navigation)

STORE = "languages_results"

st.title("Across languages", anchor=False)
st.caption(
    "The same sentences in several languages. A multilingual model puts each sentence's translations "
    "next to each other; an English-only model groups texts by language instead. The score is the "
    "share of texts whose nearest text in another language is their own translation."
)

table = lw.sentences()
options = options_or_stop()
left, right = st.columns([3, 1], vertical_alignment="bottom")
option = lw.pick_multilingual(options, left)
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
lw.english_only_hint(option)
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
    report = cached_alignment(result.vectors, ids, langs, texts)
if report is None:
    st.stop()

st.subheader("Alignment", anchor=False)
lw.alignment_metrics(report, result, option.model)
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
    method = method_radio("languages_projection", label_visibility="collapsed")
    coords = None
    with friendly_errors():
        coords = cached_projection(result.vectors, method)
    if coords is not None:
        st.plotly_chart(
            alignment_figure(coords, langs, ids, texts, uirevision=f"languages-{method}"),
            key="languages_map",
            width="stretch",
            theme=None,
        )
        st.caption("Short lines: translations together. Islands of one colour: grouped by language instead.")

lw.sentence_tables(report, result, ids, langs, texts)
