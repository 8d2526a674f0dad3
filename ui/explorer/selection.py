"""Around the explorer's map: the Find bar, its matches, the selection with its neighbours, downloads.

What is selected lives in session state (:mod:`ui.explorer.selection_state`), so the list
below the map, the 3-D picker and Find's table all change the same selection the map shows.
"""

from __future__ import annotations

from functools import partial

import streamlit as st

from embedcore import io
from embedcore.analysis.explore import neighbours_frame
from embedcore.analysis.find import find_rows
from ui.common import state
from ui.common.errors import friendly_errors
from ui.common.format import file_stem, plural
from ui.common.tables import show_pair, text_table
from ui.explorer import computed
from ui.explorer import isolation as iso
from ui.explorer import selection_state as selstate
from ui.explorer.keys import SESSION, P

#: Selected texts (and Find's matches) listed on the page; downloads have all of them.
MAX_LISTED = 200


def find_bar(texts, labels):
    """The "Find" box beside the map: rows whose text or label matches, or None when it is empty."""
    pattern = st.text_input(
        "Find",
        key=f"{P}_find",
        placeholder="a word in the texts or labels, e.g. guitar",
        persist_state=SESSION,
        help="Matching texts stand out on the map and are listed below it; the others fade.",
    )
    right, count = st.columns([1, 1], vertical_alignment="center")
    regex = right.toggle("Regex", key=f"{P}_find_regex", persist_state=SESSION)
    if not str(pattern or "").strip():
        return None
    with friendly_errors() as outcome:
        matches = find_rows(texts, pattern, labels=labels, regex=regex)
    if outcome.failed:
        return None
    count.markdown(f"**{plural(len(matches), 'match')}** of {len(texts):,}")
    return matches


def matches_list(texts, labels, matches, dataset) -> None:
    """Find's matches as a table whose rows, when clicked, become the map's selection."""
    if matches is None or not len(matches):
        return
    shown = matches[:MAX_LISTED]
    st.caption(
        "Click rows to select those texts on the map"
        + (f" (the first {MAX_LISTED} of {len(matches):,} are listed)." if len(matches) > MAX_LISTED else ".")
    )
    frame = {"row": shown, "text": [texts[i] for i in shown]}
    if labels is not None:
        frame["label"] = [labels[i] for i in shown]
    st.dataframe(
        frame,
        key=f"{P}_find_table",
        hide_index=True,
        width="stretch",
        height=min(300, 38 + 35 * len(shown)),
        on_select=lambda: _select_found(dataset, shown),
        selection_mode="multi-row",
        column_config={
            "row": st.column_config.NumberColumn("#", format="%d", width="small"),
            "text": st.column_config.TextColumn("Text", width="large"),
            "label": st.column_config.TextColumn("Label", width="small"),
        },
    )


def _select_found(dataset, shown) -> None:
    picked = st.session_state[f"{P}_find_table"]["selection"]["rows"]
    if picked:
        selstate.select_rows(dataset, [int(shown[i]) for i in picked])


def selection_section(texts, labels, vectors, coords, rows, dims, view) -> None:
    """The selected texts with their nearest neighbours, and the buttons that act on them."""
    if not rows:
        hint = (
            "Click a point, or drag a lasso or box on the map (pick the tool at its top right), to list "
            "the texts and their nearest neighbours."
            if dims == 2
            else "Pick a text above, or switch to the 2-D view to select points with the mouse."
        )
        st.caption(f":material/touch_app: {hint}")
        return
    state.seed(f"{P}_neighbours_k", 5)
    head, isolate_col, clear_col, k_col = st.columns([3, 1.2, 1.2, 1], vertical_alignment="bottom")
    head.subheader(f"{len(rows):,} selected", anchor=False)
    iso.isolate_button(isolate_col, view, len(rows))
    # "map": the table below has a "Clear selection" of its own in its toolbar (its selected line).
    clear_col.button(
        "Clear map selection",
        key=f"{P}_clear_selection",
        on_click=selstate.clear_selection,
        icon=":material/deselect:",
    )
    k = k_col.number_input("Neighbours each", 1, 20, step=1, key=f"{P}_neighbours_k", persist_state=SESSION)
    # The table's toolbar appears on hover in the ~75 px above its top right corner, where the
    # controls above would be: this line and the space keep them out of its way.
    st.caption("Each selected text with its nearest neighbours, nearest first.")
    st.space("small")
    shown = rows[:MAX_LISTED]
    if len(rows) > MAX_LISTED:
        st.caption(f"Listing the first {MAX_LISTED} of {len(rows):,}; the download has all of them.")
    frame = computed.neighbours_table(vectors, shown, texts, labels, k=int(k), digest=view.digest)
    has_labels = labels is not None

    def detail(line) -> None:
        if line["neighbour"] is None:  # one text: no neighbour to show
            st.text(line["text"])
            return
        show_pair(
            line["text"],
            line["neighbour"],
            heading=f"**Neighbour {line['rank']}** · cosine {line['cosine']:.3f}",
            label_a=line.get("label") if has_labels else None,
            label_b=line.get("neighbour_label") if has_labels else None,
        )

    # Both texts wrapped, and the selected line's in full below: a neighbour is read, not guessed.
    text_table(
        frame,
        key=f"{P}_selection_table",
        column_order=["text", *(["label"] if has_labels else []), "rank", "cosine", "neighbour"]
        + (["neighbour_label"] if has_labels else []),
        column_config={
            "text": st.column_config.TextColumn("Selected text", width="medium"),
            "label": st.column_config.TextColumn("Label", width="small"),
            "rank": st.column_config.NumberColumn("#", format="%d", width="small"),
            "cosine": st.column_config.ProgressColumn(
                "Cosine", min_value=-1.0, max_value=1.0, format="%.3f", width="small"
            ),
            "neighbour": st.column_config.TextColumn("Nearest neighbour", width="medium"),
            "neighbour_label": st.column_config.TextColumn("Its label", width="small"),
        },
        detail=detail,
        select_hint="Select a line to read both texts in full.",
    )


def _csv(frame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def map_downloads(texts, labels, vectors, coords, rows, model, method, dims) -> None:
    """The map's coordinates, and the selection with its neighbours, as CSV files."""
    stem = f"{file_stem(model)}-{method}-{dims}d"
    left, right = st.columns(2)
    # Callables: a file is built only when its button is clicked, not on every rerun.
    left.download_button(
        "Coordinates (CSV)",
        data=partial(io.coordinates_csv_bytes, texts, coords, labels),
        file_name=f"{stem}-coordinates.csv",
        mime="text/csv",
        key=f"{P}_download_coords",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
    )
    right.download_button(
        "Selected + neighbours (CSV)",
        data=lambda: _csv(
            neighbours_frame(
                vectors,
                rows,
                texts,
                labels,
                k=int(st.session_state.get(f"{P}_neighbours_k", 5)),
                coords=coords,
            )
        ),
        file_name=f"{stem}-selected.csv",
        mime="text/csv",
        key=f"{P}_download_selected",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
        disabled=not rows,
        help="One line per selected text and neighbour: text, label, map position, neighbour, cosine.",
    )
