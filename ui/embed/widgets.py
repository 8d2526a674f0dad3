"""Streamlit glue of the Embed page (``pages/embed.py``): what a run cost, and the downloads."""

from __future__ import annotations

from functools import partial

import streamlit as st

from embedcore import io
from embedcore.types import EmbeddingResult
from ui.common.format import cache_share, duration, file_stem, md_escape, plural


def result_metrics(result: EmbeddingResult) -> None:
    """Texts, dimensions, tokens billed, cache share, texts sent and time; the engine's warnings."""
    all_cached = result.fetched == 0 and result.cached > 0
    cols = st.columns(6)
    cols[0].metric("Texts", f"{len(result):,}")
    cols[1].metric("Dimensions", result.dimensions)
    cols[2].metric(
        # "sent": the table counts every text's tokens; this tile only those of the texts this
        # call sent (cache hits and repeats send none), so the two differ and must say so.
        "Tokens sent",
        # Not "0": the texts have tokens (the table counts them); this call just sent none.
        "—" if all_cached else f"{result.total_tokens:,}",
        help=(
            "Every text came from the cache: nothing was sent, nothing billed."
            if all_cached
            else f"Tokens of the {plural(result.fetched, 'distinct text')} sent now (prompt "
            f"{result.prompt_tokens:,}, total {result.total_tokens:,}), as the model counted them "
            "after cutting over-long texts; the table counts every text. Cache hits cost nothing."
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


def vector_downloads(table: io.TextTable, result: EmbeddingResult) -> None:
    """CSV, NumPy, Parquet and the TensorFlow Projector's TSV pair, each built only when clicked."""
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
