"""The explorer map's controls: method, view, colouring, point size and the projection settings.

Widgets keep their values for the session (``persist_state``), seeded once through session
state; what they say reaches the map as one :class:`MapControls`.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from embedcore.analysis.clustering import default_min_cluster_size
from embedcore.analysis.projection import ProjectionMethod, display_name, get_method, registered_methods
from ui.common import state
from ui.explorer import colours, keys
from ui.explorer.keys import SESSION, P

#: The maps' random seed until the visitor sets one (a link leaves it out).
DEFAULT_SEED = 42


@dataclass(frozen=True)
class MapControls:
    """What the map's widgets ask for.

    ``params`` holds every registered method's settings (``{"umap": {...}, "tsne": {...}, "pca": {}}``),
    so a fallback to PCA finds its own; ``k`` / ``min_cluster`` are None unless that colouring is chosen.
    """

    method: str
    dims: int
    colour: str
    k: int | None
    min_cluster: int | None
    size: int
    seed: int
    params: dict

    @property
    def colour_key(self) -> tuple:
        """The colouring and the one setting it depends on (part of the figure's identity)."""
        return (
            self.colour,
            self.k if self.colour == "cluster" else None,
            self.min_cluster if self.colour == "hdbscan" else None,
        )


def _method_control() -> ProjectionMethod:
    """The method, from the registry (a method no longer registered falls back to the first)."""
    methods = registered_methods()
    names = [m.name for m in methods]
    if st.session_state.get(keys.METHOD) not in names:
        st.session_state[keys.METHOD] = names[0]
    method = st.segmented_control(
        "Method",
        names,
        format_func=display_name,
        required=True,
        key=keys.METHOD,
        persist_state=SESSION,
        help="; ".join(m.description for m in methods if m.description) + ".",
    )
    return get_method(method)


def _setting_sliders(spec: ProjectionMethod, n: int, dims: int) -> dict:
    """The sliders of ``spec``'s settings (its registration's ranges); ``{name: value}`` of those set.

    A setting the engine can choose (``Setting.auto``) gets an "Auto" toggle; while it is on the
    slider shows the value the engine will choose, and the parameter is left out.
    """
    ss = st.session_state
    params = {}
    for setting in spec.settings:
        key = keys.setting(spec.name, setting.name)
        label = f"{spec.display_name} {setting.name}"
        auto = False
        if setting.auto is not None:
            auto_key = keys.setting_auto(spec.name, setting.name)
            state.seed(auto_key, True)
            auto = st.toggle(f"Auto {label}", key=auto_key, persist_state=SESSION, help=setting.auto_help)
            suggested = setting.auto(n, dims)
            if auto:  # show the value the engine will choose
                ss[key] = suggested
            else:
                state.seed(key, suggested)
        else:
            state.seed(key, spec.defaults[setting.name])
        value = st.slider(
            label,
            setting.low,
            setting.high,
            step=setting.step,
            key=key,
            persist_state=SESSION,
            disabled=auto,
            help=setting.help,
        )
        if not auto:
            params[setting.name] = int(value) if setting.integer else float(value)
    return params


def map_controls(n: int, has_labels: bool) -> MapControls:
    """The widgets beside the map and in its "Projection settings" expander."""
    ss = st.session_state
    state.seed(keys.DIMS, 2)
    colour_options = (["label"] if has_labels else []) + ["cluster", "hdbscan", "none"]
    if ss.get(keys.COLOUR) not in colour_options:
        ss[keys.COLOUR] = colour_options[0]
    if ss.get(f"{P}_colour_had_labels") is False and has_labels:
        ss[keys.COLOUR] = "label"  # labelled texts came: show their labels, not the last clustering
    ss[f"{P}_colour_had_labels"] = has_labels
    state.seed(keys.K, 5)
    state.follow_default(keys.MIN_CLUSTER, default_min_cluster_size(n))
    state.seed(f"{P}_size", 7 if n <= 1_000 else 5 if n <= 5_000 else 3)
    state.seed(f"{P}_seed", DEFAULT_SEED)

    # One column beside the map (pages/explorer.py): the widgets stack, one to a row.
    spec = _method_control()
    views = list(spec.dimensions)
    if ss.get(keys.DIMS) not in views:
        ss[keys.DIMS] = views[0]
    dims = st.segmented_control(
        "View", views, format_func=lambda d: f"{d}-D", required=True, key=keys.DIMS, persist_state=SESSION
    )
    colour = st.selectbox(
        "Colour by",
        colour_options,
        format_func=colours.COLOUR_NAMES.__getitem__,
        key=keys.COLOUR,
        persist_state=SESSION,
        help="k-means: as many clusters as you ask for. HDBSCAN: finds how many there are, and "
        "leaves texts in no dense group unclustered (grey).",
    )
    k = min_cluster = None
    if colour == "cluster":
        k = st.number_input("Clusters", 2, 30, step=1, key=keys.K, persist_state=SESSION)
    elif colour == "hdbscan":
        min_cluster = st.number_input(
            "Smallest cluster",
            2,
            1_000,
            step=1,
            key=keys.MIN_CLUSTER,
            persist_state=SESSION,
            help="Fewest texts HDBSCAN calls a cluster; smaller groups count as unclustered.",
        )
    size = st.slider("Point size", 2, 16, key=f"{P}_size", persist_state=SESSION)

    with st.expander("Projection settings", icon=":material/tune:"):
        params = {m.name: _setting_sliders(m, n, int(dims)) for m in registered_methods()}
        seed = st.number_input("Random seed", 0, 2**31 - 1, step=1, key=f"{P}_seed", persist_state=SESSION)
        st.caption(
            "These recompute the map. Colour, point size and switching back to a 2-D / 3-D view "
            "already computed come from the cache."
        )
    return MapControls(
        method=spec.name,
        dims=int(dims),
        colour=colour,
        k=k,
        min_cluster=min_cluster,
        size=size,
        seed=int(seed),
        params=params,
    )
