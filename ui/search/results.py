"""The search page's results: the last search per collection, its cost and hits, and the map's height."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from embedcore.analysis import search
from ui.common import state
from ui.common.format import duration, md_escape, plural
from ui.common.tables import text_table
from ui.search import keys

if TYPE_CHECKING:
    import pandas as pd

    from embedcore.stores.collections import CollectionInfo

#: Collections with fewer chunks than this get a short map (:func:`map_height`).
SMALL_MAP = 30


def map_height(n_points: int) -> int | None:
    """Pixels for the map of ``n_points`` chunks: a few points get a small chart, not 600 px of empty space."""
    return 360 if n_points < SMALL_MAP else None


def remember_result(info: CollectionInfo, result: search.SearchResult, k: int) -> None:
    """Keep ``result`` (of ``k`` asked for) for this collection; the result grid opens on its best
    hit, not on the old selection."""
    st.session_state[keys.LAST] = (info.name, info.created, result, int(k))
    state.reset_widget(keys.RESULTS)


def last_search(info: CollectionInfo) -> tuple[search.SearchResult, int] | None:
    """``(result, k asked for)`` of the last search of this very collection (a rebuilt one with
    the same name is another)."""
    last = st.session_state.get(keys.LAST)
    return (last[2], last[3]) if last and last[0] == info.name and last[1] == info.created else None


def last_result(info: CollectionInfo) -> search.SearchResult | None:
    """The result of :func:`last_search`."""
    last = last_search(info)
    return None if last is None else last[0]


def _hit_detail(hit: pd.Series) -> None:
    st.markdown(
        f"**{hit['rank']}.** {md_escape(hit['source'])} · chunk {hit['chunk']} · characters "
        f"{hit['characters']} · score {hit['score']:.3f}"
    )
    st.text(hit["text"])


def show_result(
    result: search.SearchResult, info: CollectionInfo, *, in_database: bool, selected: int | None = 0
) -> int | None:
    """What the query cost, what was left out as unrelated, and the hits (each readable in full).

    ``selected``: the hit read in full when the grid is new (a link names one; None: none).
    Returns the hit shown in full (its position, best first), None when none is.
    """
    emb = result.embedding
    spent = "from the cache" if emb.cached else plural(emb.total_tokens, "token") if emb.total_tokens else ""
    st.caption(
        f"“{md_escape(result.query)}” · embedded in {duration(emb.elapsed)}"
        + (f" ({spent})" if spent else "")
        + (" · ranked by pgvector in the team database" if in_database else "")
    )
    if result.below_floor:
        left_out = plural(result.below_floor, "chunk")
        asked_for = len(result.hits) + result.below_floor
        if result.hits:
            verb = "was" if result.below_floor == 1 else "were"
            st.caption(
                f":material/filter_alt: Of the {asked_for} nearest chunks, {left_out} scored "
                f"{result.min_score:g} or less (nothing in common with the query) and {verb} left out."
            )
        else:
            st.info(
                f"Nothing in **{md_escape(info.name)}** is like this query: the {left_out} nearest to it "
                f"all scored {result.min_score:g} or less.",
                icon=":material/search_off:",
            )
    if not result.hits:
        return None
    return text_table(
        result.to_frame(),
        key=state.widget_key(keys.RESULTS),
        # The text is the answer: first, wrapped, and in full below the table.
        column_order=["text", "score", "source", "chunk", "characters"],
        column_config={
            "text": st.column_config.TextColumn("Text", width="large"),
            "score": st.column_config.ProgressColumn(
                "Score", format="%.3f", min_value=0.0, max_value=1.0, help="Cosine similarity to the query."
            ),
            "source": st.column_config.TextColumn("Document"),
            "chunk": st.column_config.NumberColumn("Chunk #", help="Position of the chunk in its document."),
            "characters": st.column_config.TextColumn(
                "Characters", help="Where the chunk sits in the document."
            ),
        },
        detail=_hit_detail,
        select_hint="Select a result to read it in full.",
        selected=selected,
    )
