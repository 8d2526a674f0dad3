"""Embed texts: choose texts and a model, embed, inspect the vectors and download them."""

from __future__ import annotations

import streamlit as st

from embedcore.figures import charts
from embedcore.figures.tables import result_frame
from ui.common.connection import current_connection, current_model, set_model
from ui.common.embedding import embed_button, embed_texts, stored_result, token_missing
from ui.common.errors import friendly_errors
from ui.common.models_picker import served_ids
from ui.common.navigation import ensure_routed
from ui.common.texts import text_source_panel
from ui.embed import widgets as ew

ensure_routed()  # first: Streamlit may have run this file without app.py (ui.common.navigation)

st.title("Embed texts", anchor=False)
st.caption(
    "Turn texts into vectors with the model chosen here or in the sidebar. Vectors are cached: "
    "embedding the same texts again costs nothing."
)

table = text_source_panel("embed", allow_edit=True)


#: This page's results: the explorer's (kept under ui.common.state.RESULTS) are not shown here as if
#: this page's Embed had made them.
RESULTS = "embed_results"

conn = current_connection()
ids = served_ids(conn) or []  # None: the sidebar says why, once
model = current_model()
left, right = st.columns([3, 1], vertical_alignment="bottom")
if model in ids:
    st.session_state["embed_model"] = model
    left.selectbox(
        "Model", ids, key="embed_model", on_change=lambda: set_model(st.session_state["embed_model"])
    )
else:
    shown = model if conn.kind == "local" or ids or not token_missing() else "(no model: see the sidebar)"
    left.text_input("Model", value=shown, disabled=True, key="embed_model_fixed")
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
            result = embed_texts(table.texts, model=model, reuse=False, store=RESULTS)
        else:
            result = stored_result(table.texts, model=model, store=RESULTS)

if table is not None and result is None and not clicked and not token_missing():
    st.info("Press **Embed** to compute the vectors.", icon=":material/bolt:")

if table is not None and result is not None:
    st.subheader("Result", anchor=False)
    ew.result_metrics(result)

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
    ew.vector_downloads(table, result)
