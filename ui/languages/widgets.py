"""Streamlit glue of the Across-languages page (``pages/languages.py``): the sentences, the model, the tables.

The measuring is :func:`embedcore.analysis.alignment.alignment_report`; the tables come from
:mod:`embedcore.analysis.multilingual`. This module draws the inputs (built-in sample or an uploaded table
with its three columns) and the results.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from embedcore import io
from embedcore.analysis.alignment import AlignmentReport
from embedcore.analysis.multilingual import (
    aligned_table,
    guess_columns,
    sentence_detail,
    sentence_table,
    worst_table,
)
from embedcore.figures import charts
from embedcore.providers import catalog
from embedcore.types import EmbeddingResult
from ui.common.cached import sample_table
from ui.common.errors import friendly_errors
from ui.common.format import md_escape, noun_for, plural
from ui.common.models_picker import ModelOption, find_option, pick_model, sidebar_option
from ui.common.tables import WRAP_ROW_HEIGHT
from ui.common.uploads import refused, uploaded_table

#: API models that place translations together, best first (catalogue: 50+ / 100+ languages).
MULTILINGUAL_MODELS = ("BAAI/bge-m3", "sentence-transformers/paraphrase-multilingual-mpnet-base-v2")
_UPLOAD = "languages_upload"
_ROLES = [("text", "Text column"), ("sentence_id", "Sentence id column"), ("language", "Language column")]


def sentences() -> io.TextTable | None:
    """The sentences in several languages: the built-in sample, or an uploaded table and its columns."""
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
            _UPLOAD,
            "CSV / TSV / JSON Lines with a text column, a sentence id column (the same id = the same "
            "sentence) and a language column",
        )
        if got is None and not refused(_UPLOAD):
            st.info(
                "Upload a table of translations, or use the built-in sample.", icon=":material/upload_file:"
            )
        elif got is not None:
            with friendly_errors():
                table = _columns_of(got[0])
    if table is not None:
        n_sentences = len(set(table.extra["sentence_id"]))
        n_languages = len(set(table.extra["language"]))
        st.caption(
            f"**{len(table):,}** {noun_for(len(table), 'text')} · {plural(n_sentences, 'sentence')} · "
            f"{plural(n_languages, 'language')}"
        )
        for warning in table.warnings:
            st.caption(f":material/warning: {md_escape(warning)}")
    return table


def _columns_of(frame) -> io.TextTable:
    """Three column pickers (guessed first) and the table they make; a column in two roles raises."""
    columns = [str(c) for c in frame.columns]
    guess = guess_columns(frame)
    picks = {}
    for col, (role, label) in zip(st.columns(3), _ROLES, strict=True):
        key = f"languages_{role}_col"
        if st.session_state.get(key) not in columns:
            st.session_state[key] = guess[role] if guess[role] in columns else columns[0]
        picks[role] = col.selectbox(label, columns, key=key)
    return aligned_table(frame, picks["text"], picks["sentence_id"], picks["language"])


def pick_multilingual(options: Sequence[ModelOption], container) -> ModelOption:
    """The model picker, starting on a multilingual API model when one is served."""
    multilingual = next(
        (o for m in MULTILINGUAL_MODELS if (o := find_option(options, m, prefer="api"))), None
    )
    return pick_model(
        "Model",
        options,
        key="languages_model",
        default=multilingual or sidebar_option(options) or options[0],
        container=container,
    )


def english_only_hint(option: ModelOption) -> None:
    """Say what to expect from a model trained on English only (the contrast the page is for)."""
    info = catalog.KNOWN_MODELS.get(option.model)
    if info is None or info.languages != "English":
        return
    st.info(
        f"**{md_escape(option.model)} was trained on English only**, so expect a low score: it places texts by "
        "their surface (shared words, names, numbers) more than by meaning across languages. That is "
        "the contrast this page is for — compare it with a multilingual model such as "
        "`sentence-transformers/paraphrase-multilingual-mpnet-base-v2` or `BAAI/bge-m3` (choose "
        "**IONOS AI Model Hub** in the sidebar).",
        icon=":material/translate:",
    )


def alignment_metrics(report: AlignmentReport, result: EmbeddingResult, model: str) -> None:
    """The score against chance, the two mean cosines, and how the vectors were made."""
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
    st.caption(f"{md_escape(model)} · {result.dimensions} dimensions · {result.elapsed:.2f} s to embed")
    for warning in result.warnings:
        st.warning(md_escape(warning), icon=":material/warning:")


def sentence_tables(report: AlignmentReport, result: EmbeddingResult, ids, langs, texts) -> None:
    """Every sentence (worst first), the worst-aligned ones, and what one of them found instead."""
    st.subheader("Sentence by sentence", anchor=False)
    # Every column in sight (a "pt" column hid behind a horizontal scroll): the text narrower and
    # wrapped, the per-language figures small.
    st.dataframe(
        sentence_table(result.vectors, ids, langs, texts, report),
        hide_index=True,
        width="stretch",
        row_height=WRAP_ROW_HEIGHT,
        column_config={
            "sentence_id": st.column_config.Column("sentence", width="small"),
            "text": st.column_config.TextColumn(width="medium"),
            "accuracy": st.column_config.ProgressColumn(
                "found",
                format="percent",
                min_value=0.0,
                max_value=1.0,
                help="Share of its trials that succeeded.",
                width="small",
            ),
            "similarity": st.column_config.NumberColumn(
                "cosine", format="%.3f", help="Mean cosine between its translations.", width="small"
            ),
            **{
                str(lang): st.column_config.NumberColumn(
                    str(lang),
                    format="%.2f",
                    help=f"Mean cosine of the {lang} version to the other versions.",
                    width=48,
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
        row_height=WRAP_ROW_HEIGHT,
        column_config={
            "sentence_id": st.column_config.Column("sentence", width="small"),
            "text": st.column_config.TextColumn(width="medium"),
            "accuracy": st.column_config.NumberColumn("found", format="percent"),
            "similarity": st.column_config.NumberColumn("cosine", format="%.3f"),
            "mistakes": st.column_config.NumberColumn(help="Trials that found another sentence instead."),
        },
    )
    if not report.worst:
        return
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
        return
    st.dataframe(
        detail,
        hide_index=True,
        width="stretch",
        column_config={
            "from": st.column_config.TextColumn(width="small"),
            "looked in": st.column_config.TextColumn(width="small"),
        },
    )
