"""The explorer's Query tab: a typed text ranked against the texts; the Map tab places it too."""

from __future__ import annotations

import streamlit as st

from embedcore.analysis.explore import identical_rows, rank_query
from embedcore.figures.bars import ranking_bar_figure
from ui.common import state
from ui.common.errors import friendly_errors
from ui.common.format import md_escape
from ui.common.tables import text_table
from ui.explorer import computed
from ui.explorer.keys import SESSION, P


def current_query(result):
    """``(text, vector)`` of the query typed in the Query tab, or None (nothing typed, or embedding it failed)."""
    text = str(st.session_state.get(f"{P}_query") or "").strip()
    if not text:
        return None
    with friendly_errors() as outcome:
        vector = computed.query_vector(result.model, text)
    return None if outcome.failed else (text, vector)


def query_tab(texts, labels, result, dataset, digest) -> None:
    """A typed query, the texts ranked by cosine to it (bar chart and table)."""
    n = len(texts)
    state.seed_within(f"{P}_query_k", min(10, n), 1, min(100, n))
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    left.text_input(
        "Query",
        key=f"{P}_query",
        placeholder="e.g. best selling music artists",
        persist_state=SESSION,
        help="Embedded with the same model as the texts, then compared with each of them.",
    )
    if n > 1:
        k = right.number_input("Results", 1, min(100, n), step=1, key=f"{P}_query_k", persist_state=SESSION)
    else:
        k = 1
    query = current_query(result)
    if query is None:
        if not str(st.session_state.get(f"{P}_query") or "").strip():
            st.caption(":material/search: Type a text and press Enter to rank the texts by similarity to it.")
        return
    text, vector = query
    same = identical_rows(texts, text)
    if same.size:
        state.seed(f"{P}_query_exclude", True)
        leave_out = st.checkbox(
            f"Leave out the text identical to the query ({same.size:,} × cosine 1.000)",
            key=f"{P}_query_exclude",
            persist_state=SESSION,
        )
        if not leave_out:
            same = same[:0]
    with friendly_errors():
        ranking = rank_query(vector, result.vectors, texts, labels, k=int(k), exclude=same)
        st.plotly_chart(
            ranking_bar_figure(ranking["text"].tolist(), ranking["cosine"].to_numpy(), query=text),
            key=f"{P}_ranking",
            theme=None,
        )
        has_labels = labels is not None

        def detail(hit) -> None:
            st.markdown(
                f"**{hit['rank']}.** cosine {hit['cosine']:.3f}"
                + (f" · {md_escape(hit['label'])}" if has_labels else "")
            )
            st.text(hit["text"])

        # The text is the answer: first, wrapped, and the selected one in full below.
        text_table(
            ranking,
            key=f"{P}_ranking_table",
            column_order=["text", "cosine", *(["label"] if has_labels else []), "rank"],
            column_config={
                "rank": st.column_config.NumberColumn("#", format="%d", width="small"),
                "text": st.column_config.TextColumn("Text", width="large"),
                "label": st.column_config.TextColumn("Label", width="small"),
                "cosine": st.column_config.ProgressColumn(
                    "Cosine", min_value=-1.0, max_value=1.0, format="%.3f", width="small"
                ),
            },
            detail=detail,
            select_hint="Select a result to read it in full.",
        )
        st.caption("The query is marked with a star on the Map tab, its nearest texts circled.")
