"""The figures' old single module, kept as a re-export for callers not yet moved to the families.

New code imports the family module (:mod:`embedcore.figures.scatter`, ``.heatmaps``, ``.bars``,
``.compare``, ``.colours``, ``.names``, ``.style``, ``.labels``, ``.frozen``): each name below is
defined there, and this module can go once nothing imports it (tests/test_architecture.py lists
who still does).
"""

from __future__ import annotations

from embedcore.figures.bars import ranking_bar_figure, similarity_histogram, vector_figure
from embedcore.figures.colours import UNASSIGNED, category_colors, coded_categories, many_palette
from embedcore.figures.compare import agreement_scatter, alignment_figure, matrix_figure
from embedcore.figures.frozen import FrozenFigure, frozen
from embedcore.figures.heatmaps import (
    HEATMAP_HARD_LIMIT,
    HEATMAP_LIMIT,
    HeatmapTooLargeError,
    block_heatmap_figure,
    heatmap_figure,
    heatmap_row,
)
from embedcore.figures.labels import hover_chars_for, hover_text, hover_texts, opacity_for, short_label
from embedcore.figures.names import NAME_ANNOTATION, NAMES_PLOT_PX, SPOT_ANCHORS, place_names
from embedcore.figures.scatter import scatter_figure, selected_rows
from embedcore.figures.style import (
    CLUSTER_PALETTE,
    DIVERGING,
    MANY_PALETTE_NAME,
    MODEBAR_CLEARANCE,
    MUTED,
    PALETTE,
    QUERY_COLOR,
    SEQUENTIAL,
    SYMBOLS,
    TEMPLATE,
    TITLE_SPACE,
    as_float32,
    base_layout,
    checked_texts,
)

__all__ = [
    "CLUSTER_PALETTE",
    "DIVERGING",
    "HEATMAP_HARD_LIMIT",
    "HEATMAP_LIMIT",
    "MANY_PALETTE_NAME",
    "MODEBAR_CLEARANCE",
    "MUTED",
    "NAMES_PLOT_PX",
    "NAME_ANNOTATION",
    "PALETTE",
    "QUERY_COLOR",
    "SEQUENTIAL",
    "SPOT_ANCHORS",
    "SYMBOLS",
    "TEMPLATE",
    "TITLE_SPACE",
    "UNASSIGNED",
    "FrozenFigure",
    "HeatmapTooLargeError",
    "agreement_scatter",
    "alignment_figure",
    "as_float32",
    "base_layout",
    "block_heatmap_figure",
    "category_colors",
    "checked_texts",
    "coded_categories",
    "frozen",
    "heatmap_figure",
    "heatmap_row",
    "hover_chars_for",
    "hover_text",
    "hover_texts",
    "many_palette",
    "matrix_figure",
    "opacity_for",
    "place_names",
    "ranking_bar_figure",
    "scatter_figure",
    "selected_rows",
    "short_label",
    "similarity_histogram",
    "vector_figure",
]
