"""The Across languages page's widgets."""
