"""The Compare page's widgets."""
