"""What is selected on the map, kept in session state: the map's own selection, a list's, the 3-D picker's.

Kept for the data set it was made on, so it survives reruns in which the chart is not drawn
(another tab) or is redrawn with new colours; the map, the list below it, the 3-D "Pick a text"
box and Find's table all change this one selection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

from embedcore.figures.scatter import selected_rows
from ui.explorer.keys import MAP_DRAWN, PICKER, SELECTION, SELECTION_GENERATION

#: Most texts the "Pick a text" box offers: every option is sent to the browser on every run.
PICK_MAX = 2_000


def remember_selection(widget_key: str, dataset: str) -> None:
    """``on_select`` callback of the map: keep the selected rows for ``dataset``.

    Called by Streamlit only when the user changes the selection (including clearing it with
    a double-click), so a chart redrawn empty after a tab switch does not erase it.
    """
    event = st.session_state.get(widget_key)
    st.session_state[SELECTION] = {"dataset": dataset, "rows": selected_rows(event)}


def clear_selection() -> None:
    """``on_click`` callback: forget the selection and redraw the map without marks.

    Forgetting is not enough: the browser still holds the box or lasso the user drew and
    sends it back with every rerun. A new :func:`selection_generation` makes the next map
    differ from the one on screen (its ``selectionrevision``), so Streamlit mounts it
    afresh and Plotly drops the drawn selection; zoom and pan (``uirevision``) are kept.
    """
    st.session_state[SELECTION] = {"dataset": None, "rows": []}
    st.session_state[SELECTION_GENERATION] = selection_generation() + 1
    st.session_state.pop(MAP_DRAWN, None)


def select_rows(dataset: str, rows: Sequence[int]) -> None:
    """Make ``rows`` the map's selection (from a list, not the mouse); the map redraws them marked."""
    clear_selection()
    st.session_state[SELECTION] = {"dataset": dataset, "rows": sorted({int(r) for r in rows})}


def selection_generation() -> int:
    """How often the selection was cleared in this session: part of the map's identity."""
    return int(st.session_state.get(SELECTION_GENERATION, 0))


def selection(dataset: str, event: Mapping | None = None) -> list[int]:
    """Rows selected on the map for ``dataset`` (sorted; empty when none or another dataset).

    ``event`` is what ``st.plotly_chart(on_select=...)`` returned this run: a non-empty
    selection in it wins (and is remembered), otherwise the remembered rows are used.
    """
    rows = selected_rows(event) if event else []
    if rows:
        st.session_state[SELECTION] = {"dataset": dataset, "rows": rows}
        return rows
    saved = st.session_state.get(SELECTION) or {}
    return list(saved.get("rows", [])) if saved.get("dataset") == dataset else []


def rows_to_mark(signature: tuple, dataset: str, widget_key: str) -> tuple[int, ...] | None:
    """Which selected rows the map must draw as selected itself (None: leave it to Plotly).

    When the chart is redrawn with the same figure it is not remounted, and Plotly keeps
    showing whatever the user selected: keep the figure byte-identical (same marks as last
    time). When the figure changed (colour, size, query...) or the chart was not on screen in
    the previous run (another tab; Streamlit then dropped its state), it is mounted afresh:
    mark the remembered selection.
    """
    ss = st.session_state
    last = ss.get(MAP_DRAWN)
    if last is not None and last["signature"] == signature and widget_key in ss:
        marked = last["marked"]
    else:
        marked = tuple(selection(dataset)) or None
    ss[MAP_DRAWN] = {"signature": signature, "marked": marked}
    return marked


def _picked(dataset: str) -> None:
    row = st.session_state.get(PICKER)
    if row is None:
        clear_selection()
    else:
        select_rows(dataset, [int(row)])


def _option_text(texts: Sequence[str], row: int) -> str:
    text = " ".join(str(texts[row]).split())
    return f"#{row} · {text[:117] + '…' if len(text) > 120 else text}"


def text_picker(column, dataset: str, texts: Sequence[str], matches: Sequence[int] | None) -> None:
    """A searchable box that selects one text, as a click on the map does (lines to its neighbours).

    Offers Find's matches when a pattern is typed, otherwise every text, up to :data:`PICK_MAX`.
    """
    options = [int(r) for r in (range(len(texts)) if matches is None else matches)]
    if not options:
        return
    if len(options) > PICK_MAX:
        column.caption(
            f":material/search: Type in **Find** to pick a text: {len(options):,} are too many for a list."
        )
        return
    rows = selection(dataset)
    # Follows the selection made elsewhere (the map, Find's list, Clear), so the box never
    # names a text that is no longer the one selected.
    st.session_state[PICKER] = rows[0] if len(rows) == 1 and rows[0] in set(options) else None
    column.selectbox(
        "Pick a text",
        options,
        index=None,
        format_func=lambda row: _option_text(texts, row),
        key=PICKER,
        placeholder="Type to search the texts…",
        # "contains": the default fuzzy filter offered texts with g…u…i…t…a…r scattered in them
        # for "guitar"; a person typing a word wants the texts with that word.
        filter_mode="contains",
        on_change=_picked,
        args=(dataset,),
        help="Selects the text as a click on the map would: lines join it to its nearest neighbours.",
    )
