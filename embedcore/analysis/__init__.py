"""What is computed from vectors: cosine similarity and clusters, 2-D/3-D maps, the explorer's
tables, model comparison, cross-lingual alignment and semantic search."""
