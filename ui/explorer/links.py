"""The explorer's part of a link (:mod:`ui.common.links`): the settings the URL carries, and restoring them.

The state names the method and the settings the visitor chose (a setting left on "Auto" is left
out: the same texts give the same value), the view, the colouring, Find, the isolated part and
the selection — both as rows of the *full* text set, so a link stays right whatever part is
shown. A saved view also brings the map's coordinates: the first map drawn after it opened uses
them (:func:`saved_projection`) as long as the method, its settings, the view and the model are
the ones it was saved with; any change computes a map as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import streamlit as st

from embedcore.analysis.groups import isolate_selection
from embedcore.analysis.projection import ProjectionResult, get_method, method_names
from embedcore.errors import InputError
from ui.common import links
from ui.explorer import isolation as iso
from ui.explorer import keys
from ui.explorer import selection_state as selstate
from ui.explorer.colours import COLOUR_NAMES
from ui.explorer.controls import DEFAULT_SEED

PAGE = "explorer"
#: Session key: ``{"coords", "model", "signature"}`` of a saved view's map, until another map is asked for.
SAVED_MAP = f"{keys.P}_saved_map"


def explorer_state(view: iso.MapView) -> dict[str, Any]:
    """The explorer's settings now, as a link carries them (``None``: left out of the URL)."""
    ss = st.session_state
    method = ss.get(keys.METHOD)
    params: dict[str, Any] = {}
    if method in method_names():
        for setting in get_method(method).settings:
            if ss.get(keys.setting_auto(method, setting.name)) is True:
                continue  # "Auto": follows the texts, which the link names
            value = ss.get(keys.setting(method, setting.name))
            if value is not None:
                params[setting.name] = value
    colour = ss.get(keys.COLOUR)
    seed = ss.get(f"{keys.P}_seed", DEFAULT_SEED)
    return {
        "method": method,
        "params": params,
        "dims": ss.get(keys.DIMS),
        "colour": colour,
        "k": ss.get(keys.K) if colour == "cluster" else None,
        "min_cluster": ss.get(keys.MIN_CLUSTER) if colour == "hdbscan" else None,
        "size": ss.get(f"{keys.P}_size"),
        "seed": None if seed == DEFAULT_SEED else seed,
        "find": ss.get(keys.FIND) or None,
        "regex": True if ss.get(keys.FIND_REGEX) and ss.get(keys.FIND) else None,
        "isolated": [int(r) for r in view.rows] if view.isolated else None,
        "selection": iso.full_selection(view.full_dataset) or None,
    }


def _as(kind, value, default=None):
    try:
        if kind is bool:
            return str(value).lower() in ("1", "true", "yes")
        return kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        return default


def _seed_settings(page_state: Mapping[str, Any]) -> None:
    ss = st.session_state
    method = page_state.get("method")
    if method in method_names():
        ss[keys.METHOD] = method
        spec = get_method(method)
        for setting in spec.settings:
            if setting.name not in (page_state.get("params") or {}):
                continue
            default = spec.defaults.get(setting.name, setting.low)
            value = _as(type(default), page_state["params"][setting.name])
            if value is None or not setting.low <= value <= setting.high:
                continue
            ss[keys.setting(method, setting.name)] = value
            if setting.auto is not None:
                ss[keys.setting_auto(method, setting.name)] = False
    for key, name, kind in (
        (keys.DIMS, "dims", int),
        (keys.K, "k", int),
        (keys.MIN_CLUSTER, "min_cluster", int),
        (f"{keys.P}_size", "size", int),
        (f"{keys.P}_seed", "seed", int),
    ):
        value = _as(kind, page_state.get(name))
        if value is not None:
            ss[key] = value
    if "seed" not in page_state:
        ss[f"{keys.P}_seed"] = DEFAULT_SEED
    if page_state.get("colour") in COLOUR_NAMES:
        ss[keys.COLOUR] = page_state["colour"]
    ss[keys.FIND] = str(page_state.get("find") or "")
    ss[keys.FIND_REGEX] = _as(bool, page_state.get("regex", False), False)


def _rows_within(rows: Any, n: int) -> list[int]:
    rows = sorted({int(r) for r in rows or []})
    return rows if all(0 <= r < n for r in rows) else []


def apply(pending: dict, dataset: str, n_texts: int, model: str, *, embedded_here: int = 0) -> None:
    """Restore a link's explorer part on the texts it opened (``dataset`` of ``n_texts``, ``model``).

    Rows outside the texts (a link made on other texts) are dropped with a notice, never
    guessed; an isolated part too small to map opens the full map. ``embedded_here``: how many
    of the texts were not in this deployment's cache (an imported view says it re-embedded them).
    """
    page_state = pending.get("state") or {}
    if pending.get("view") is not None and embedded_here:
        links.notice(
            f"This view's texts were embedded here: {embedded_here:,} of {n_texts:,} were not in this "
            "app's cache (a view imported from another deployment is re-embedded through this one's)."
        )
    _seed_settings(page_state)
    st.session_state.pop(iso.STACK, None)
    selstate.clear_selection()
    isolated = _rows_within(page_state.get("isolated"), n_texts)
    shown_dataset, shown = dataset, np.arange(n_texts)
    if isolated:
        try:
            step = isolate_selection(np.arange(n_texts), isolated)
        except InputError:
            step = None
        if step is not None:
            shown_dataset = iso.restore_isolation(dataset, step)
            shown = step.rows
    selection = _rows_within(page_state.get("selection"), n_texts)
    if page_state.get("selection") and not selection:
        links.notice("The link's selection does not fit these texts; nothing is selected.")
    if selection:
        position = {int(row): i for i, row in enumerate(shown)}
        selstate.select_rows(shown_dataset, [position[r] for r in selection if r in position])
    st.session_state.pop(SAVED_MAP, None)
    if pending.get("coordinates") is not None:
        st.session_state[SAVED_MAP] = {
            "coords": np.asarray(pending["coordinates"], dtype=np.float32),
            "model": page_state.get(links.MODEL) or model,
            "signature": None,
        }


def saved_projection(signature: tuple, n: int, dims: int, model: str) -> ProjectionResult | None:
    """The saved view's map when ``signature`` (texts, method, view, seed, settings) is the one it opened with.

    The first map asked for after the view opened claims the coordinates; a map with other
    settings is computed as usual, and coming back to the first one finds them again.
    """
    saved = st.session_state.get(SAVED_MAP)
    if saved is None or model != saved["model"]:
        return None
    coords = saved["coords"]
    if saved["signature"] is None:
        if coords.shape != (n, dims):
            st.session_state.pop(SAVED_MAP, None)
            return None
        saved["signature"] = signature
    if saved["signature"] != signature:
        return None
    method, params = signature[1], dict(signature[4])
    return ProjectionResult(
        coords=coords,
        method=method,
        params=params,
        notes=("the map as it was saved (not recomputed)",),
        seconds=0.0,
        cached=True,
    )


def follow(view: iso.MapView) -> None:
    """End of a run: the URL follows the explorer (naming a saved view while nothing changed)."""
    links.follow(PAGE, {**links.shared_state(), **explorer_state(view)})
