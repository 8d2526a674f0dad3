"""The explorer map's controls: method, view, colouring, point size and the projection settings.

Widgets keep their values for the session (``persist_state``), seeded once through session
state; what they say reaches the map as one :class:`MapControls`.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from embedcore.analysis.projection import DEFAULTS, auto_perplexity
from embedcore.analysis.similarity import default_min_cluster_size
from ui.explorer import widgets as xw
from ui.explorer.widgets import SESSION, P


@dataclass(frozen=True)
class MapControls:
    """What the map's widgets ask for.

    ``params`` holds each method's settings (``{"umap": {...}, "tsne": {...}, "pca": {}}``), so a
    fallback to PCA finds its own; ``k`` / ``min_cluster`` are None unless that colouring is chosen.
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


def map_controls(n: int, has_labels: bool) -> MapControls:
    """The widgets beside the map and in its "Projection settings" expander."""
    ss = st.session_state
    xw.seed(f"{P}_method", "umap")
    xw.seed(f"{P}_dims", 2)
    colour_options = (["label"] if has_labels else []) + ["cluster", "hdbscan", "none"]
    if ss.get(f"{P}_colour") not in colour_options:
        ss[f"{P}_colour"] = colour_options[0]
    if ss.get(f"{P}_colour_had_labels") is False and has_labels:
        ss[f"{P}_colour"] = "label"  # labelled texts came: show their labels, not the last clustering
    ss[f"{P}_colour_had_labels"] = has_labels
    xw.seed(f"{P}_k", 5)
    xw.follow_default(f"{P}_min_cluster", default_min_cluster_size(n))
    xw.seed(f"{P}_size", 7 if n <= 1_000 else 5 if n <= 5_000 else 3)
    xw.seed(f"{P}_n_neighbors", DEFAULTS["umap"]["n_neighbors"])
    xw.seed(f"{P}_min_dist", DEFAULTS["umap"]["min_dist"])
    xw.seed(f"{P}_perplexity_auto", True)
    xw.seed(f"{P}_seed", 42)

    # One column beside the map (pages/explorer.py): the widgets stack, one to a row.
    method = st.segmented_control(
        "Method",
        list(xw.METHOD_NAMES),
        format_func=xw.METHOD_NAMES.__getitem__,
        required=True,
        key=f"{P}_method",
        persist_state=SESSION,
        help="UMAP keeps neighbourhoods and clusters; PCA is linear, instant and faithful to large "
        "distances; t-SNE separates clusters strongly.",
    )
    dims = st.segmented_control(
        "View", [2, 3], format_func=lambda d: f"{d}-D", required=True, key=f"{P}_dims", persist_state=SESSION
    )
    colour = st.selectbox(
        "Colour by",
        colour_options,
        format_func=xw.COLOUR_NAMES.__getitem__,
        key=f"{P}_colour",
        persist_state=SESSION,
        help="k-means: as many clusters as you ask for. HDBSCAN: finds how many there are, and "
        "leaves texts in no dense group unclustered (grey).",
    )
    k = min_cluster = None
    if colour == "cluster":
        k = st.number_input("Clusters", 2, 30, step=1, key=f"{P}_k", persist_state=SESSION)
    elif colour == "hdbscan":
        min_cluster = st.number_input(
            "Smallest cluster",
            2,
            1_000,
            step=1,
            key=f"{P}_min_cluster",
            persist_state=SESSION,
            help="Fewest texts HDBSCAN calls a cluster; smaller groups count as unclustered.",
        )
    size = st.slider("Point size", 2, 16, key=f"{P}_size", persist_state=SESSION)

    with st.expander("Projection settings", icon=":material/tune:"):
        n_neighbors = st.slider(
            "UMAP n_neighbors",
            2,
            100,
            key=f"{P}_n_neighbors",
            persist_state=SESSION,
            help="Small: local detail; large: global structure.",
        )
        min_dist = st.slider(
            "UMAP min_dist",
            0.0,
            0.99,
            step=0.01,
            key=f"{P}_min_dist",
            persist_state=SESSION,
            help="How tightly points may pack.",
        )
        auto = st.toggle(
            "Auto t-SNE perplexity",
            key=f"{P}_perplexity_auto",
            persist_state=SESSION,
            help="About a tenth of the texts (a twelfth in 3-D), between 5 and 30.",
        )
        suggested = round(auto_perplexity(n, int(dims)))
        if auto:  # show the value the engine will choose
            ss[f"{P}_perplexity"] = suggested
        else:
            xw.seed(f"{P}_perplexity", suggested)
        perplexity = st.slider(
            "t-SNE perplexity",
            2,
            100,
            key=f"{P}_perplexity",
            persist_state=SESSION,
            disabled=auto,
            help="Roughly the number of neighbours each point attends to.",
        )
        seed = st.number_input("Random seed", 0, 2**31 - 1, step=1, key=f"{P}_seed", persist_state=SESSION)
        st.caption(
            "These recompute the map. Colour, point size and switching back to a 2-D / 3-D view "
            "already computed come from the cache."
        )
    params = {
        "umap": {"n_neighbors": int(n_neighbors), "min_dist": float(min_dist)},
        "tsne": {} if auto else {"perplexity": float(perplexity)},
        "pca": {},
    }
    return MapControls(
        method=method,
        dims=int(dims),
        colour=colour,
        k=k,
        min_cluster=min_cluster,
        size=size,
        seed=int(seed),
        params=params,
    )
