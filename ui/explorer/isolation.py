"""Isolating part of the explorer's map: a stack of narrowings, undone one by one with Back.

"Isolate selection" and "Only this label" narrow the map to part of the texts, which the page
then projects again with the same method and settings as any other text set; "Back" pops one
narrowing and restores the map before it — the same projection (from the cache) and the
selection it had. Which rows a narrowing keeps is :mod:`embedcore.analysis.explore`'s business
(:func:`~embedcore.analysis.groups.isolate_selection`, :func:`~embedcore.analysis.groups.isolate_label`);
this module keeps the stack in session state and draws the controls.

Each narrowed map is its own *dataset* for the rest of the page (``"<dataset>|isolated:<rows>"``),
so selections, cached projections and figures of different maps never mix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from embedcore.analysis.groups import MIN_ISOLATED, Isolation, isolate_label, isolate_selection, take_rows
from embedcore.errors import InputError
from ui.common.format import md_escape
from ui.explorer import selection_state as selstate
from ui.explorer.keys import P

#: Session key: ``{"dataset": str, "stack": [{"step": Isolation, "selection": list[int]}, ...]}``.
STACK = f"{P}_isolation"
#: Session key: a message from the last isolation that could not be done (shown once).
_PROBLEM = f"{P}_isolation_problem"
#: Session key: ``{view dataset: (vectors, texts, labels)}`` — the parts shown recently.
_PARTS = f"{P}_isolation_parts"
#: Two parts: the one shown and the one Back returns to (100k × 1024 floats is 400 MB each).
_MAX_PARTS = 2
#: Widget key of the "Only this label" picker.
LABEL_PICKER = f"{P}_only_label"


@dataclass(frozen=True)
class MapView:
    """What the map shows: all texts, or the part left by the isolations on the stack.

    ``rows`` are rows of the full set (None: all of them); ``dataset`` and ``digest`` identify
    this part for caches and the selection.
    """

    texts: list
    labels: list | None
    vectors: np.ndarray
    dataset: str
    digest: str
    total: int
    full_dataset: str
    rows: np.ndarray | None = None
    steps: tuple[Isolation, ...] = field(default=())

    @property
    def isolated(self) -> bool:
        return bool(self.steps)

    @property
    def positions(self) -> np.ndarray:
        """Rows of the full set shown, in map order."""
        return np.arange(self.total, dtype=np.int64) if self.rows is None else self.rows

    def status(self) -> str:
        """``Showing 37 of 100 texts — isolated selection``; steps joined by arrows."""
        how = " → ".join(step.description for step in self.steps)
        return f"Showing {len(self.texts):,} of {self.total:,} texts — {how}"


def _part_id(dataset: str, rows: np.ndarray) -> str:
    return f"{dataset}|isolated:{hashlib.blake2b(rows.tobytes(), digest_size=8).hexdigest()}"


def _stack(dataset: str) -> list[dict]:
    saved = st.session_state.get(STACK)
    if not saved or saved.get("dataset") != dataset:
        return []
    return saved["stack"]


def _view(texts, labels, vectors, dataset: str, digest: str, stack: list[dict]) -> MapView:
    if not stack:
        # The lists themselves, not copies: the caches keyed on them (long texts' digests, the
        # neighbour table) know a list by identity, and a copy per rerun would redo them all.
        return MapView(
            texts if isinstance(texts, list) else list(texts),
            labels if labels is None or isinstance(labels, list) else list(labels),
            vectors,
            dataset,
            digest,
            len(texts),
            dataset,
        )
    rows = stack[-1]["step"].rows
    part = _part_id(dataset, rows)
    parts: dict = st.session_state.setdefault(_PARTS, {})
    if part not in parts:
        parts[part] = take_rows(rows, vectors, texts, labels)
        while len(parts) > _MAX_PARTS:
            parts.pop(next(iter(parts)))
    sub_vectors, sub_texts, sub_labels = parts[part]
    part_digest = hashlib.blake2b(f"{digest}|{part}".encode(), digest_size=16).hexdigest()
    return MapView(
        sub_texts,
        sub_labels,
        sub_vectors,
        part,
        part_digest,
        len(texts),
        dataset,
        rows,
        tuple(entry["step"] for entry in stack),
    )


def current_view(
    texts: Sequence[str], labels: Sequence[str] | None, vectors: np.ndarray, dataset: str, digest: str
) -> MapView:
    """The map's part of the texts now: everything, or what the isolations on the stack left."""
    return _view(texts, labels, vectors, dataset, digest, _stack(dataset))


def restore_isolation(full_dataset: str, step: Isolation) -> str:
    """Show the part ``step`` keeps, as the only isolation (a link's); the part's dataset id."""
    st.session_state[STACK] = {"dataset": full_dataset, "stack": [{"step": step, "selection": []}]}
    return _part_id(full_dataset, step.rows)


def _push(view: MapView, step: Isolation) -> None:
    stack = [*_stack(view.full_dataset), {"step": step, "selection": selstate.selection(view.dataset)}]
    st.session_state[STACK] = {"dataset": view.full_dataset, "stack": stack}
    # A new map: nothing selected on it yet, no label picked.
    selstate.clear_selection()
    st.session_state[LABEL_PICKER] = None


def _try(action) -> None:
    try:
        action()
    except InputError as exc:
        st.session_state[_PROBLEM] = str(exc)


def isolate_selected(view: MapView) -> None:
    """``on_click``: narrow the map to the texts selected on it."""
    _try(lambda: _push(view, isolate_selection(view.positions, selstate.selection(view.dataset))))


def isolate_picked_label(view: MapView, full_labels: Sequence[str]) -> None:
    """``on_change`` of the label picker: narrow the map to the texts with the picked label."""
    label = st.session_state.get(LABEL_PICKER)
    if label is None:
        return
    _try(lambda: _push(view, isolate_label(view.positions, full_labels, label)))
    st.session_state[LABEL_PICKER] = None


def back(full_dataset: str) -> None:
    """``on_click``: undo the last isolation; the map before it comes back with its selection."""
    stack = _stack(full_dataset)
    if not stack:
        return
    last = stack.pop()
    st.session_state[STACK] = {"dataset": full_dataset, "stack": stack}
    parent = _part_id(full_dataset, stack[-1]["step"].rows) if stack else full_dataset
    if last["selection"]:
        selstate.select_rows(parent, last["selection"])
    else:
        selstate.clear_selection()


def show_all(full_dataset: str) -> None:
    """``on_click``: undo every isolation at once (no selection is restored)."""
    st.session_state.pop(STACK, None)
    selstate.clear_selection()


def full_selection(dataset: str) -> list[int]:
    """The rows selected on the map now, as rows of the full set ``dataset`` (isolated or not)."""
    stack = _stack(dataset)
    if not stack:
        return selstate.selection(dataset)
    rows = stack[-1]["step"].rows
    return sorted(int(rows[i]) for i in selstate.selection(_part_id(dataset, rows)) if i < rows.size)


def isolation_bar(view: MapView, full_labels: Sequence[str] | None, picker=None) -> None:
    """Above the map: what part is shown, "Back" and "All texts"; "Only this label" in ``picker``
    (a container beside the map; default: here)."""
    problem = st.session_state.pop(_PROBLEM, None)
    if problem:
        st.warning(md_escape(problem), icon=":material/filter_alt_off:")
    labels_here = sorted(set(view.labels)) if view.labels is not None else []
    if len(labels_here) >= 2 and full_labels is not None:
        (picker or st).selectbox(
            "Only this label",
            labels_here,
            index=None,
            key=LABEL_PICKER,
            placeholder="Only this label…",
            label_visibility="collapsed",
            on_change=isolate_picked_label,
            args=(view, full_labels),
            help="Map only the texts with this label: projected again on their own, with the same settings.",
        )
    if not view.isolated:
        return
    status, back_col, all_col = st.columns([4, 1, 1], vertical_alignment="center")
    status.markdown(f":material/filter_alt: **{md_escape(view.status())}**")
    back_col.button(
        "Back",
        key=f"{P}_isolation_back",
        icon=":material/undo:",
        on_click=back,
        args=(view.full_dataset,),
        width="stretch",
        help="Undo the last isolation: the map before it, with its selection.",
    )
    all_col.button(
        "All texts",
        key=f"{P}_isolation_all",
        on_click=show_all,
        args=(view.full_dataset,),
        width="stretch",
        disabled=len(view.steps) < 2,
        help="Undo every isolation.",
    )


def isolate_button(column, view: MapView, selected: int) -> None:
    """ "Isolate selection" for ``selected`` rows: disabled, with the reason, when it cannot work."""
    why = None
    if selected < MIN_ISOLATED:
        why = f"Select at least {MIN_ISOLATED} texts to map them on their own."
    elif selected >= len(view.texts):
        why = "Every text on the map is selected."
    column.button(
        "Isolate selection",
        key=f"{P}_isolate",
        icon=":material/filter_alt:",
        on_click=isolate_selected,
        args=(view,),
        disabled=why is not None,
        help=why or "Map only the selected texts: projected again on their own, with the same settings.",
    )
