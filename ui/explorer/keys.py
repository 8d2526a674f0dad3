"""The explorer's session-state keys: every one is ``f"{P}_<name>"``; those read in more than one
module, or holding state that is no widget's, are named here.

Tests and benches that set the explorer's state use these names (or the same ``explorer_<name>``
spelling for a widget's own key).
"""

from __future__ import annotations

#: Prefix of the explorer's widget and session keys.
P = "explorer"
#: ``persist_state`` of the explorer's widgets: those in closed tabs keep their values.
SESSION = "session"

#: The projection method (a registered method's name).
METHOD = f"{P}_method"
#: The view: 2 or 3 dimensions.
DIMS = f"{P}_dims"
#: The map's colouring: ``"label"``, ``"cluster"``, ``"hdbscan"`` or ``"none"``.
COLOUR = f"{P}_colour"
#: k of the k-means colouring.
K = f"{P}_k"
#: HDBSCAN's smallest cluster.
MIN_CLUSTER = f"{P}_min_cluster"
#: Find's pattern, and whether it is a regular expression.
FIND = f"{P}_find"
FIND_REGEX = f"{P}_find_regex"
#: Neighbours listed per selected text (and joined by lines on the map).
NEIGHBOURS_K = f"{P}_neighbours_k"
#: The open tab.
TAB = f"{P}_tab"
#: The 2-D map's chart (its selection event).
MAP = f"{P}_map"

#: ``{"dataset": str, "rows": list[int]}`` — the rows selected on the map.
SELECTION = f"{P}_selection"
#: How often the selection was cleared (part of the map's identity).
SELECTION_GENERATION = f"{P}_selection_generation"
#: ``{"signature", "marked"}`` of the map drawn last.
MAP_DRAWN = f"{P}_map_drawn"
#: The "Pick a text" box (the 3-D map's selection).
PICKER = f"{P}_pick"
#: ``{(endpoint_id, model, text digest): EmbeddingResult}`` — recent query vectors.
QUERY_VECTORS = f"{P}_query_vectors"
#: ``{dataset: digest}`` — digests of recent result vectors.
DIGESTS = f"{P}_digests"
#: ``{"dataset", "coords", "texts", "labels"}`` of the map drawn last (what "Save view" keeps).
DRAWN_MAP = f"{P}_drawn_map"
#: The last neighbours table, with what it was made from.
NEIGHBOURS_TABLE = f"{P}_neighbours_table"


def setting(method: str, name: str) -> str:
    """Key of a projection method's setting slider (``explorer_umap_n_neighbors``).

    >>> setting("tsne", "perplexity")
    'explorer_tsne_perplexity'
    """
    return f"{P}_{method}_{name}"


def setting_auto(method: str, name: str) -> str:
    """Key of the "Auto" toggle of a setting that the engine can choose (``explorer_tsne_perplexity_auto``)."""
    return f"{setting(method, name)}_auto"
