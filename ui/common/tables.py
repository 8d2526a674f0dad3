"""Drawing tables: grid sizes, and tables where the texts are the answer (wrapped, and read in full).

The tables themselves are built in :mod:`embedcore.figures.tables` (and beside their computation);
this module only decides how Streamlit's grid shows them.

``st.dataframe`` cuts a text cell at the column's edge, so two near-duplicates look the same
and a search result ends mid-sentence. :func:`text_table` draws the grid with rows tall enough
for Streamlit to wrap text cells (it does so only above 4rem), and under it a detail of the
selected row (the first one until the user picks another) with every text in full. For pairs,
:func:`pairs_table` also marks the words that tell the two texts apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import pandas as pd
import streamlit as st

from embedcore.figures.tables import pair_difference, word_changes
from ui.common.format import md_escape

#: Row height in pixels: three lines of wrapped text. Streamlit wraps cells only when the
#: row is taller than 4rem (64 px); at or below it every text is one cut-off line.
WRAP_ROW_HEIGHT = 78
_HEADER_HEIGHT = 38
#: Tallest grid before it scrolls (about seven rows of three lines).
MAX_GRID_HEIGHT = 600


#: Width in pixels of a character in the dataframe grid's font, with a margin (model ids
#: measured 6.3 px a character in chromium), and the cell's padding.
_GRID_CHAR_PX = 6.8
_GRID_PADDING_PX = 24


def text_width(values: Iterable[object], *, most: int = 520) -> int:
    """A grid column width in pixels that shows the longest of ``values`` uncut (up to ``most``)."""
    longest = max((len(str(v)) for v in values), default=0)
    return int(min(most, _GRID_PADDING_PX + _GRID_CHAR_PX * longest))


def grid_height(n_rows: int) -> int:
    """Height in pixels of a grid showing ``n_rows`` wrapped rows, scrolling beyond :data:`MAX_GRID_HEIGHT`."""
    return min(MAX_GRID_HEIGHT, _HEADER_HEIGHT + WRAP_ROW_HEIGHT * max(n_rows, 1) + 2)


def _selected_row(event, n_rows: int) -> int | None:
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    return rows[0] if rows and 0 <= rows[0] < n_rows else None


def text_table(
    frame: pd.DataFrame,
    *,
    key: str,
    column_config: dict,
    column_order: Sequence[str] | None = None,
    detail: Callable[[pd.Series], None],
    select_hint: str = "Select a row to read it in full.",
    selected: int | None = 0,
) -> int | None:
    """A grid with wrapped texts, then ``detail(row)`` for the selected row (the first by default).

    Parameters
    ----------
    frame : DataFrame
        One row per item; the text columns should be configured ``width="large"``.
    key : str
        The grid's widget key; its selection lives in ``st.session_state[key]``.
    column_config, column_order
        As for ``st.dataframe``.
    detail : callable
        Draws one row in full (``frame.iloc[i]``); called once per run.
    select_hint : str
        Shown instead of the detail when the user unselected every row.
    selected : int or None
        The row selected when the grid is new (a link names one; None: none); later runs keep
        the user's choice.

    Returns
    -------
    int or None
        The row shown in the detail.
    """
    n = len(frame)
    first = [] if selected is None or not n else [min(max(selected, 0), n - 1)]
    event = st.dataframe(
        frame,
        key=key,
        hide_index=True,
        width="stretch",
        height=grid_height(n),
        row_height=WRAP_ROW_HEIGHT,
        column_order=list(column_order) if column_order is not None else None,
        column_config=column_config,
        on_select="rerun",
        selection_mode="single-row",
        selection_default={"selection": {"rows": first}} if n else None,
    )
    row = _selected_row(event, n)
    if row is None:
        if n:
            st.caption(select_hint)
        return None
    with st.container(border=True, key=f"{key}_detail"):
        detail(frame.iloc[row])
    return row


def _highlighted(runs: Sequence[tuple[str, bool]]) -> str:
    """Markdown of a text with its changed words on a coloured background (user text escaped)."""
    parts = []
    for text, changed in runs:
        escaped = md_escape(text)
        if not escaped:
            continue
        parts.append(f":orange-background[{escaped}]" if changed else escaped)
    return " ".join(parts)


def show_pair(
    text_a: str, text_b: str, *, heading: str, label_a: str | None = None, label_b: str | None = None
):
    """Both texts of a pair in full, side by side, with the words that differ marked when they are near-duplicates."""
    st.markdown(heading)
    near = pair_difference(text_a, text_b) not in ("", "identical")
    a_runs, b_runs = word_changes(text_a, text_b) if near else ([(text_a, False)], [(text_b, False)])
    for column, title, label, runs in zip(
        st.columns(2), ("Text", "Other text"), (label_a, label_b), (a_runs, b_runs), strict=True
    ):
        with column:
            st.caption(title + (f" · {md_escape(label)}" if label else ""))
            st.markdown(_highlighted(runs))
    if near:
        st.caption("Words that differ are highlighted.")


def pairs_table(frame: pd.DataFrame, *, key: str, has_labels: bool) -> int | None:
    """A pair table (``cosine``, ``text_a``, ``text_b`` [, ``label_a``, ``label_b``]) both of whose texts can be read.

    The grid wraps both texts and adds a ``difference`` column naming what tells near-identical
    texts apart; the selected pair is shown below in full, with the differing words marked.
    """
    shown = frame.assign(
        difference=[pair_difference(a, b) for a, b in zip(frame["text_a"], frame["text_b"], strict=True)]
    )
    order = [
        "cosine",
        "text_a",
        *(["label_a"] if has_labels else []),
        "text_b",
        *(["label_b"] if has_labels else []),
    ]
    if shown["difference"].ne("").any():
        order.insert(1, "difference")

    def detail(pair: pd.Series) -> None:
        show_pair(
            pair["text_a"],
            pair["text_b"],
            heading=f"**Cosine {pair['cosine']:.3f}**"
            + (f" · {md_escape(pair['difference'])}" if pair["difference"] else ""),
            label_a=pair.get("label_a") if has_labels else None,
            label_b=pair.get("label_b") if has_labels else None,
        )

    return text_table(
        shown,
        key=key,
        column_order=order,
        column_config={
            # Pinned: fixed on the left at their own width, so the free space goes to the texts.
            "cosine": st.column_config.ProgressColumn(
                "Cosine", min_value=-1.0, max_value=1.0, format="%.3f", width="small", pinned=True
            ),
            "difference": st.column_config.TextColumn(
                "Difference", width="small", help="What tells two near-identical texts apart.", pinned=True
            ),
            "text_a": st.column_config.TextColumn("Text", width="medium"),
            "label_a": st.column_config.TextColumn("Label", width="small"),
            "text_b": st.column_config.TextColumn("Other text", width="medium"),
            "label_b": st.column_config.TextColumn("Label", width="small"),
        },
        detail=detail,
        select_hint="Select a pair to read both texts in full.",
    )
