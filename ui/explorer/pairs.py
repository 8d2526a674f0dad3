"""The explorer's Pairs tab: the distribution of pair similarities, the most and least similar pairs."""

from __future__ import annotations

import streamlit as st

from embedcore.analysis import explore
from embedcore.figures.bars import similarity_histogram
from ui.common import state
from ui.common.cached import cached_cosine
from ui.common.tables import pairs_table
from ui.explorer import computed, figure
from ui.explorer.keys import SESSION, P

#: Largest corpus for the pair-similarity histogram (it needs the full n × n matrix).
HISTOGRAM_MAX = 3_000


def _pairs_table(frame, labels, where: str) -> None:
    # Both texts wrapped, what tells near-duplicates apart, and the selected pair in full.
    pairs_table(frame, key=f"{P}_pairs_{where}", has_labels=labels is not None)


def pairs_tab(texts, labels, result, dataset, digest) -> None:
    """The histogram of all pair similarities, then the most and the least similar pairs."""
    n = len(texts)
    if n < 2:
        st.info("Pairs need at least two texts.", icon=":material/info:")
        return
    vectors = result.vectors
    if n > explore.PAIRS_MAX_ROWS:
        st.info(
            f"{n:,} texts make {n * (n - 1) // 2:,} pairs: scoring them all takes minutes, so this tab "
            f"works up to {explore.PAIRS_MAX_ROWS:,} texts. Select points on the map to see their nearest "
            "neighbours, or rank the texts against a query in the Query tab.",
            icon=":material/info:",
        )
        return
    total = n * (n - 1) // 2
    state.seed_within(f"{P}_pairs_n", min(15, total), 1, min(200, total))
    count = (
        st.columns([1, 4])[0].number_input(
            "Pairs per table", 1, min(200, total), step=1, key=f"{P}_pairs_n", persist_state=SESSION
        )
        if total > 1
        else 1
    )
    if n <= HISTOGRAM_MAX:
        histogram = figure.cached_figure(
            ("histogram", digest),
            lambda: similarity_histogram(cached_cosine(vectors, digest=digest), height=240),
        )
        st.plotly_chart(histogram, key=f"{P}_histogram", theme=None)
        st.caption(
            f"Cosine similarity of all {total:,} pairs: what counts as high for this model and these texts."
        )
    st.subheader("Most similar", anchor=False)
    _pairs_table(
        computed.pairs(vectors, digest, dataset, texts, labels, n=int(count), largest=True), labels, "most"
    )
    st.subheader("Least similar", anchor=False)
    _pairs_table(
        computed.pairs(vectors, digest, dataset, texts, labels, n=int(count), largest=False), labels, "least"
    )
