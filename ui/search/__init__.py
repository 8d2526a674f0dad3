"""The Semantic search page's widgets and its collection store."""
