"""The explorer's texts and their embeddings: the source panel, the Embed button, the summary.

:func:`embed_view` keeps the result on screen in session state (:data:`VIEW`), so a later call
that fails, or texts that wait for a click on Embed, leave the previous map where it was.
"""

from __future__ import annotations

import streamlit as st

from ui.common.connection import current_connection, current_model
from ui.common.embedding import (
    cached_result,
    embed_button,
    embed_texts,
    file_result,
    result_key,
    stored_result,
    token_missing,
)
from ui.common.errors import friendly_errors
from ui.common.format import cache_share, md_escape, plural
from ui.common.texts import text_source_panel
from ui.explorer.widgets import P

#: Session key of the result on screen: kept when a later call fails or waits for a click.
VIEW = f"{P}_view"


def _show(texts, labels, result, dataset) -> tuple:
    st.session_state[VIEW] = {"texts": texts, "labels": labels, "result": result, "dataset": dataset}
    return texts, labels, result, dataset


def embed_view():
    """Texts in, ``(texts, labels, result, dataset)`` out — or None when there is nothing to show."""
    with st.container(border=True):
        table = text_source_panel(P, vectors_ok=True)
        if table is None or not len(table):
            return None
        if table.vectors is not None:  # a file of texts with their vectors: nothing to embed
            result, dataset = file_result(table)
            return _show(table.texts, table.labels, result, dataset)
        conn = current_connection()
        model = current_model()
        result = None
        clicked = False
        with friendly_errors() as outcome:
            result = stored_result(table.texts, model=model)
            if result is None and conn.kind != "local":
                # Texts whose vectors are all cached cost nothing: shown at once (on a hosted app,
                # the sample the server embedded as it started).
                result = cached_result(table.texts, model=model)
            if result is None and conn.kind != "local":
                # An API call costs money: wait for a click. The bundled model is free and quick.
                left, right = st.columns([4, 1], vertical_alignment="center")
                left.caption(
                    f"Embedding {plural(len(table), 'text')} with **{md_escape(model)}** calls the API; texts "
                    "embedded before come from the cache at no cost."
                )
                # No warning under the button: the page says where the token goes below, and only
                # while there is no earlier result to show.
                clicked = embed_button(
                    "Embed",
                    key=f"{P}_embed",
                    container=right,
                    warn=False,
                    type="primary",
                    icon=":material/bolt:",
                    width="stretch",
                )
            if result is None and (conn.kind == "local" or clicked):
                result = embed_texts(table.texts, model=model, progress_label="Embedding")
    if result is not None:
        return _show(table.texts, table.labels, result, "|".join(result_key(table.texts, model=model)))
    previous = st.session_state.get(VIEW)
    if previous is None:
        no_token = token_missing()
        if no_token:  # the button is disabled: say what to do instead of "press Embed"
            st.info(no_token, icon=":material/key:")
        elif not outcome.failed:
            st.info("Press **Embed** to compute the embeddings and explore them.", icon=":material/bolt:")
        return None
    shown = f"Showing the previous result ({plural(len(previous['texts']), 'text')}, {md_escape(previous['result'].model)})"
    no_token = None if outcome.failed else token_missing()
    if outcome.failed:
        st.info(f"{shown} until the call above succeeds.", icon=":material/history:")
    elif no_token:  # Embed is disabled: say what enables it, never "press Embed"
        st.info(f"{shown}.\n\n{no_token}", icon=":material/key:")
    else:
        st.info(f"{shown} — press **Embed** to use the texts above.", icon=":material/history:")
    return previous["texts"], previous["labels"], previous["result"], previous["dataset"]


def metrics(texts, result) -> None:
    """Model, number of texts, dimensions and the share that came from the cache (a narrow
    column beside the map: two to a row)."""
    # Model ids come from servers and users: shown literally, never as markdown. A line that wraps,
    # not a metric: in the narrow column "all-MiniLM-L6-v2" in a metric's large type was cut.
    st.caption(
        f":material/memory: Embedded with **{md_escape(result.model.rsplit('/', 1)[-1])}**",
        help=md_escape(result.model),
    )
    n = len(texts)  # "100,000" is cut to "100,…" in half the column
    value, help_text = cache_share(result.cached, result.fetched)
    texts_col, dims_col = st.columns(2)
    texts_col.metric("Texts", f"{n:,}" if n < 100_000 else f"{n / 1000:,.0f}k", help=f"{n:,} texts")
    dims_col.metric("Dimensions", result.dimensions)
    cache_col, _ = st.columns(2)
    # A share: "100 / 100" was cut to "100 …" in a third of the summary column.
    cache_col.metric("From cache", value, help=help_text)
