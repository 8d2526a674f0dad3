"""The projection-method choice of the pages that draw a small map beside their main work (search,
languages): the registered methods that scale to any collection, from the registry.
"""

from __future__ import annotations

import streamlit as st

from embedcore.analysis.projection import display_name, registered_methods


def scalable_methods(*, fast_first: bool = False) -> list[str]:
    """Registered methods without a point limit (``max_points``), in registration order or the
    instant ones first."""
    methods = [m for m in registered_methods() if m.max_points is None]
    if fast_first:
        methods.sort(key=lambda m: m.slow)  # stable: registration order within each group
    return [m.name for m in methods]


def method_radio(key: str, *, fast_first: bool = False, **kwargs) -> str:
    """A horizontal "Projection" radio over :func:`scalable_methods`, labelled by display name."""
    return st.radio(
        "Projection",
        scalable_methods(fast_first=fast_first),
        format_func=display_name,
        horizontal=True,
        key=key,
        **kwargs,
    )
