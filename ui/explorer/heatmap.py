"""The explorer's Heatmap tab: cosine of every pair of texts, or of every pair of groups when they are many.

Rows follow the map: its colouring (labels, k-means, HDBSCAN) draws the bands along the axes and
makes the groups of the block heatmap; a selection on the map narrows a large set to its texts.
"""

from __future__ import annotations

import streamlit as st

from embedcore.analysis.groups import take_rows
from embedcore.analysis.similarity import cosine_matrix
from embedcore.figures import heatmaps
from ui.common import state
from ui.common.cached import cached_cosine, digest_of
from ui.common.errors import friendly_errors
from ui.explorer import colours as colouring_of
from ui.explorer import computed
from ui.explorer import isolation as iso
from ui.explorer.keys import SESSION, P


def heatmap_tab(texts, labels, result, dataset, digest) -> None:
    """One cell per pair of texts; above :data:`embedcore.figures.heatmaps.HEATMAP_LIMIT` texts, per pair of groups."""
    vectors = result.vectors
    n = len(texts)
    state.seed(f"{P}_heatmap_order", "clustered")
    state.seed(f"{P}_heatmap_scale", "data")
    order_col, scale_col = st.columns(2)
    scale = scale_col.segmented_control(
        "Colour range",
        ["data", "full"],
        format_func={"data": "These texts", "full": "Full −1 … 1"}.__getitem__,
        required=True,
        key=f"{P}_heatmap_scale",
        persist_state=SESSION,
        help="These texts: from their lowest to their highest similarity, so the structure shows. "
        "Full: the same colour means the same cosine for every model and data set.",
    )
    clustered = (
        order_col.segmented_control(
            "Row order",
            ["clustered", "input"],
            format_func={"clustered": "Clustered", "input": "Input order"}.__getitem__,
            required=True,
            key=f"{P}_heatmap_order",
            persist_state=SESSION,
        )
        == "clustered"
    )
    zrange = "data" if scale == "data" else (-1.0, 1.0)
    rows = None
    if n > heatmaps.HEATMAP_LIMIT:
        selected = iso.full_selection(dataset)
        if 2 <= len(selected) <= heatmaps.HEATMAP_LIMIT:
            rows = selected
            st.info(
                f"{n:,} texts are more than a readable heatmap holds ({heatmaps.HEATMAP_LIMIT}); "
                f"showing the {len(selected)} texts selected on the map.",
                icon=":material/info:",
            )
        else:
            _block_heatmap(texts, labels, vectors, dataset, digest, clustered, zrange)
            return
    colours = colouring_of.map_colouring(vectors, digest, texts, labels)
    order = computed.heatmap_order(vectors, digest, rows, clustered=clustered)
    with friendly_errors():
        groups = colours.values
        if rows is None:
            # The whole (small) matrix, so hover labels carry each text's row number.
            sim, labels_for, order_in = cached_cosine(vectors, digest=digest), texts, order
        else:
            # Only the texts selected on the map, already in display order.
            part, labels_for, groups = take_rows(order, vectors, texts, colours.values)
            sim, order_in = cosine_matrix(part), None
        fig = heatmaps.heatmap_figure(
            sim,
            labels_for,
            order=order_in,
            zrange=zrange,
            groups=groups,
            group_colors=colours.colors() or None,
            uirevision=f"{dataset}|{len(order)}",
            height=420 if len(order) <= 12 else 720,
        )
        st.plotly_chart(fig, key=f"{P}_heatmap", theme=None)
    st.caption(
        "Cosine similarity of every pair; hover a cell for both texts. "
        + (
            "Rows are ordered by hierarchical clustering (average linkage), so groups of similar "
            "texts form blocks along the diagonal."
            if clustered
            else "Rows are in input order."
        )
        + (
            f" The bands along the axes show each text's {colouring_of.GROUP_NAMES[colours.kind][:-1]}, in the map's colours."
            if colours.values is not None
            else ""
        )
    )


def _block_heatmap(texts, labels, vectors, dataset, digest, clustered, zrange) -> None:
    """Mean cosine between the map's groups (labels or clusters): one cell per pair of groups."""
    n = len(texts)
    colours = colouring_of.map_colouring(vectors, digest, texts, labels, groups=True)
    what = colouring_of.GROUP_NAMES[colours.kind]
    st.info(
        f"{n:,} texts are more than a heatmap of one cell per text holds ({heatmaps.HEATMAP_LIMIT}): each "
        f"cell here is the mean cosine between two {what}. Select 2 to {heatmaps.HEATMAP_LIMIT} points on "
        "the map for a heatmap of their texts.",
        icon=":material/grid_view:",
    )
    with friendly_errors():
        blocks = computed.block_means(
            vectors, digest, colours.values, (colours.kind, digest_of(colours.values)), clustered=clustered
        )
        fig = heatmaps.block_heatmap_figure(
            blocks.means,
            blocks.names,
            blocks.sizes,
            colors=colours.colors(),
            zrange=zrange,
            uirevision=f"{dataset}|blocks|{colours.kind}",
            height=420 if len(blocks.names) <= 12 else 720,
        )
        st.plotly_chart(fig, key=f"{P}_heatmap_blocks", theme=None)
        st.caption(
            f"Mean cosine between the texts of two {what} (on the diagonal: between different texts of "
            "one); hover a cell for both names and sizes. "
            + ("Similar groups are ordered next to each other." if clustered else "Largest groups first.")
        )
