"""Embed texts: choose texts and a model, embed, inspect the vectors and download them."""

from __future__ import annotations

from functools import partial

import streamlit as st

from embedcore import charts, io
from embedcore.tables import result_frame
from ui.connection import available_models, current_connection, current_model, set_model
from ui.embedding import embed_button, embed_texts, stored_result, token_missing
from ui.errors import friendly_errors
from ui.format import cache_share, duration, file_stem, md_escape, plural
from ui.texts import text_source_panel

st.title("Embed texts", anchor=False)
st.caption(
    "Turn texts into vectors with the model chosen here or in the sidebar. Vectors are cached: "
    "embedding the same texts again costs nothing."
)

table = text_source_panel("embed", allow_edit=True)


conn = current_connection()
ids: list[str] = []
with friendly_errors():
    ids = [m.id for m in available_models(conn)]
model = current_model()
left, right = st.columns([3, 1], vertical_alignment="bottom")
if model in ids:
    st.session_state["embed_model"] = model
    left.selectbox(
        "Model", ids, key="embed_model", on_change=lambda: set_model(st.session_state["embed_model"])
    )
else:
    left.text_input("Model", value=model, disabled=True, key="embed_model_fixed")
clicked = embed_button(
    "Embed",
    key="embed_run",
    disabled=table is None,
    container=right,
    type="primary",
    icon=":material/bolt:",
    width="stretch",
)

result = None
if table is not None:
    with friendly_errors():
        if clicked:
            # reuse=False: go through the provider (and its cache) so "cached" shows what happened.
            result = embed_texts(table.texts, model=model, reuse=False)
        else:
            result = stored_result(table.texts, model=model)

if table is not None and result is None and not clicked and not token_missing():
    st.info("Press **Embed** to compute the vectors.", icon=":material/bolt:")

if table is not None and result is not None:
    st.subheader("Result", anchor=False)
    all_cached = result.fetched == 0 and result.cached > 0
    cols = st.columns(6)
    cols[0].metric("Texts", f"{len(result):,}")
    cols[1].metric("Dimensions", result.dimensions)
    cols[2].metric(
        "Tokens",
        # Not "0": the texts have tokens (the table counts them); this call just sent none.
        "—" if all_cached else f"{result.total_tokens:,}",
        help=(
            "Every text came from the cache: nothing was sent, nothing billed."
            if all_cached
            else f"Prompt tokens {result.prompt_tokens:,}, total {result.total_tokens:,} — "
            "billed for the texts sent; cache hits cost nothing."
        ),
    )
    cached_value, cached_help = cache_share(result.cached, result.fetched)
    cols[3].metric("From cache", cached_value, help=cached_help)
    cols[4].metric("Fetched", f"{result.fetched:,}", help="Distinct texts sent to the model.")
    cols[5].metric(
        "Elapsed",
        duration(result.elapsed),
        help=f"{plural(result.requests, 'request')}, {plural(result.retries, 'retry', 'retries')}.",
    )
    if all_cached:
        st.caption(
            f":material/database: All {plural(result.cached, 'distinct text')} came from the embedding cache: "
            "no model call, no tokens billed. The token counts in the table are from when each text was "
            "first embedded."
            if result.token_counts is not None
            else f":material/database: All {plural(result.cached, 'distinct text')} came from the embedding "
            "cache: no model call, no tokens billed."
        )
    for warning in result.warnings:
        st.warning(md_escape(warning), icon=":material/warning:")

    st.dataframe(
        result_frame(table.texts, result, table.labels),
        key="embed_table",
        hide_index=True,
        width="stretch",
        height=280,
        column_config={
            "text": st.column_config.TextColumn("Text", width="large"),
            "tokens": st.column_config.NumberColumn("Tokens", format="%d"),
            "norm": st.column_config.NumberColumn("Norm", format="%.4f", help="1.0 for normalised models."),
        },
    )

    row = st.selectbox(
        "Show the vector of",
        range(len(table.texts)),
        format_func=lambda i: f"{i}: {charts.short_label(table.texts[i], 60)}",
        key="embed_vector_row",
    )
    st.plotly_chart(
        charts.vector_figure(result.vectors[row], name=charts.short_label(table.texts[row]), height=260),
        key="embed_vector_chart",
        width="stretch",
    )

    st.subheader("Download", anchor=False)
    stem = file_stem(result.model)
    texts, labels, vectors = table.texts, table.labels, result.vectors
    # Callables: each file is built only when its button is clicked, not on every rerun.
    downloads = [
        ("CSV", partial(io.to_csv_bytes, texts, vectors, labels), f"{stem}.csv", "text/csv"),
        ("NumPy .npy", partial(io.to_npy_bytes, vectors), f"{stem}.npy", "application/octet-stream"),
        (
            "Parquet",
            partial(io.to_parquet_bytes, texts, vectors, labels, table.extra or None),
            f"{stem}.parquet",
            "application/vnd.apache.parquet",
        ),
        (
            "Projector (TSV zip)",
            partial(io.to_projector_zip, texts, vectors, labels),
            f"{stem}-projector.zip",
            "application/zip",
        ),
    ]
    for col, (label, data, file_name, mime) in zip(st.columns(len(downloads)), downloads, strict=True):
        col.download_button(
            label,
            data=data,
            file_name=file_name,
            mime=mime,
            key=f"embed_download_{file_name.rsplit('.', 1)[-1]}",
            on_click="ignore",
            icon=":material/download:",
            width="stretch",
        )
    st.caption(
        "The projector zip loads at projector.tensorflow.org (Load → vectors.tsv, then metadata.tsv). "
        "Exports hold texts, labels and vectors only."
    )
