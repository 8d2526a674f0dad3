"""The package surface a notebook user relies on, and what importing it costs."""

from __future__ import annotations

import subprocess
import sys

import embedcore


def test_documented_names_import():
    from embedcore import EmbeddingClient, LocalModel, cosine_matrix  # noqa: F401

    missing = [name for name in embedcore.__all__ if not hasattr(embedcore, name)]
    assert missing == []


def test_every_error_derives_from_the_base():
    for name in embedcore.__all__:
        obj = getattr(embedcore, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, embedcore.EmbedcoreError), name


def test_import_is_light():
    # The dashboard and notebooks import embedcore first; torch, umap and streamlit load on use.
    code = (
        "import sys, embedcore, embedcore.analysis.similarity, embedcore.io, embedcore.providers.client;"
        "heavy = [m for m in ('torch', 'umap', 'sklearn', 'streamlit', 'sentence_transformers', 'psycopg') "
        "if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
