"""The map's colours (label, k-means, HDBSCAN or none), which the heatmap's bands and blocks follow.

Clusters are computed through the caches of :mod:`ui.common.cached` (keyed by the vectors' digest)
and named by their most distinctive words (:func:`embedcore.analysis.groups.cluster_names`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import streamlit as st

from embedcore.analysis.clustering import default_min_cluster_size
from embedcore.figures import colours as palettes
from embedcore.figures import style
from ui.common import cached
from ui.common.format import plural
from ui.explorer import keys

#: Display names of the map's colourings (see :func:`colouring`).
COLOUR_NAMES = {
    "label": "Label",
    "cluster": "k-means clusters",
    "hdbscan": "HDBSCAN clusters",  # finds the number itself (the help says so); the longer name was cut
    "none": "Nothing",
}
#: What the groups of a block heatmap are, by :attr:`Colouring.kind`.
GROUP_NAMES = {"label": "labels", "cluster": "k-means clusters", "hdbscan": "HDBSCAN clusters"}
#: What HDBSCAN's noise is called on the map (one grey group).
UNCLUSTERED = "unclustered"

#: Most clusters the map colours one by one; more share a grey "other" entry (a legend of 100
#: entries helps nobody), and the legend's title then says how many of them are coloured.
CLUSTERS_COLOURED = 30


def kmeans(vectors: np.ndarray, digest: str, k: int) -> np.ndarray:
    """:func:`embedcore.analysis.similarity.kmeans_labels`, cached: ndarray of shape (n,), int64."""
    return cached.kmeans_labels(digest, int(k), vectors)


def _named(clusters: np.ndarray, names: list[str]) -> tuple[list[str], list[str]]:
    """Each row's cluster as ``"2 · guitar, album"`` (or :data:`UNCLUSTERED`), and the clusters in order."""
    labelled = [f"{c} · {name}" if not name.startswith("cluster ") else name for c, name in enumerate(names)]
    return [labelled[c] if c >= 0 else UNCLUSTERED for c in clusters.tolist()], labelled


def clustered_colours(
    vectors: np.ndarray, digest: str, k: int, texts: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Each text's k-means cluster, as ``"2 · guitar, album, song"``; and the clusters in order.

    The number is the cluster's (stable across reruns: row 0 is in cluster 0), the words its
    most distinctive ones (:func:`embedcore.analysis.groups.cluster_names`). Cached per vectors and k.
    """
    clusters = kmeans(vectors, digest, k)
    names = cached.cluster_names(("kmeans", digest, int(k)), texts, clusters)
    return _named(clusters, names)


def density_colours(
    vectors: np.ndarray, digest: str, min_cluster_size: int, texts: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Each text's HDBSCAN cluster (named as in :func:`clustered_colours`) or :data:`UNCLUSTERED`,
    and the clusters in order. Cached per vectors and smallest cluster size.
    """
    clusters = cached.hdbscan_labels(digest, int(min_cluster_size), vectors)
    names = cached.cluster_names(("hdbscan", digest, int(min_cluster_size)), texts, clusters)
    return _named(clusters, names)


@dataclass(frozen=True)
class Colouring:
    """How the map colours its points, which the heatmap's bands and blocks follow.

    ``values`` has one entry per text (None: one colour for all); ``unassigned`` is the value
    drawn grey as "in no cluster"; ``named`` writes each cluster's name at its centre.
    """

    values: list | None
    title: str | None
    palette: tuple = style.PALETTE
    named: bool = False
    unassigned: str | None = None
    kind: str = "none"
    #: ``{value: colour}`` in legend order, over the whole data set (:func:`palettes.category_colors`).
    palette_map: dict | None = None

    def colors(self) -> dict:
        """``{value: colour}`` as the map draws them (for the map and the heatmap's colour bands)."""
        if self.values is None:
            return {}
        if self.palette_map is not None:
            return self.palette_map
        return palettes.category_colors(self.values, palette=self.palette, unassigned=self.unassigned)


def _cluster_colouring(method: str, values: list[str], order: list[str], kind: str) -> Colouring:
    colors = palettes.category_colors(
        values,
        palette=style.CLUSTER_PALETTE,
        max_categories=CLUSTERS_COLOURED,
        unassigned=UNCLUSTERED,
        order=order,
    )
    coloured = sum(1 for value, colour in colors.items() if colour != style.MUTED and value != UNCLUSTERED)
    # The legend's title counts what it colours: "39 clusters" over 19 coloured ones misled.
    title = (
        f"{method}, {plural(coloured, 'cluster')}"
        if coloured == len(order)
        else f"{method}, {coloured} largest of {len(order)} clusters"
    )
    return Colouring(values, title, style.CLUSTER_PALETTE, True, UNCLUSTERED, kind=kind, palette_map=colors)


def colouring(
    choice: str,
    vectors: np.ndarray,
    digest: str,
    texts: Sequence[str],
    labels: Sequence[str] | None,
    *,
    k: int | None = None,
    min_cluster_size: int | None = None,
    all_labels: Sequence[str] | None = None,
) -> Colouring:
    """The map's colours for ``choice``: ``"label"``, ``"cluster"`` (k-means), ``"hdbscan"`` or ``"none"``.

    ``all_labels``: the labels of the whole data set when ``labels`` are those of a part of it
    (an isolated selection): each label keeps the colour it has on the whole map.
    """
    if choice == "label" and labels is not None:
        colors = palettes.category_colors(list(all_labels if all_labels is not None else labels))
        return Colouring(list(labels), "label", kind="label", palette_map=colors)
    if choice == "cluster":
        # The number found, not the one asked for: 3 distinct texts make at most 3 clusters.
        values, order = clustered_colours(vectors, digest, int(k or 5), texts)
        return _cluster_colouring("k-means", values, order, "cluster")
    if choice == "hdbscan":
        size = int(min_cluster_size or default_min_cluster_size(len(texts)))
        # The unclustered count is in the grey legend entry ("unclustered (12)"): the title
        # stays short enough to be shown whole.
        values, order = density_colours(vectors, digest, size, texts)
        return _cluster_colouring("HDBSCAN", values, order, "hdbscan")
    return Colouring(None, None)


def map_colouring(
    vectors: np.ndarray,
    digest: str,
    texts: Sequence[str],
    labels: Sequence[str] | None,
    *,
    groups: bool = False,
) -> Colouring:
    """The colouring chosen on the Map tab (label, k-means, HDBSCAN or none), for the heatmap.

    With ``groups=True`` a map coloured by nothing still gets groups: its labels, or else the
    k-means clusters (for a block heatmap, which needs some).
    """
    ss = st.session_state
    choice = ss.get(keys.COLOUR) or ("label" if labels is not None else "none")
    found = colouring(
        choice,
        vectors,
        digest,
        texts,
        labels,
        k=ss.get(keys.K, 5),
        min_cluster_size=ss.get(keys.MIN_CLUSTER),
    )
    if groups and found.values is None:
        fallback = "label" if labels is not None else "cluster"
        found = colouring(fallback, vectors, digest, texts, labels, k=ss.get(keys.K, 5))
    return found
