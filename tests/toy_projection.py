"""A toy projection method, added the way ARCHITECTURE.md's "How to add a projection method" says:
one function and one registration (tests/test_method_registry.py imports it, or finds it through the
``embedcore.projection_methods`` entry point in a subprocess).

It lines the texts up in input order, ``spacing`` apart: a map nobody needs, whose every coordinate
a test can predict.
"""

from __future__ import annotations

import numpy as np

from embedcore.analysis.projection import ProjectionMethod, Setting, register_method


def ladder(X, n_components, random_state, params, notes):
    """Row i at (i * spacing, 0): deterministic, no fitting."""
    coords = np.zeros((X.shape[0], n_components), dtype=np.float32)
    coords[:, 0] = np.arange(X.shape[0]) * params["spacing"]
    notes.append("A toy map: the texts in input order.")
    return coords


TOY = register_method(
    ProjectionMethod(
        "ladder",
        "Toy ladder",
        ladder,
        min_points=2,
        defaults={"spacing": 1.0},
        settings=(Setting("spacing", 1, 10, help="Distance between two texts."),),
        neighbour_based=False,
        slow=False,
        dimensions=(2,),
        summary=lambda p: f"spacing {p['spacing']:g}",
        description="Toy ladder lines the texts up",
    )
)
