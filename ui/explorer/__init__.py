"""The Similarity explorer page: controls, map, heatmap, pairs, neighbours, selection, isolation."""
