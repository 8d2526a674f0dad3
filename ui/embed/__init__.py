"""The Embed page's widgets."""
