"""The optional parts of embedcore (pyproject.toml's extras), and the check that names a missing one.

The core install (``pip install embedcore``) embeds through an API, caches, does the cosine
maths, draws the figures and reads and writes texts and vectors. What needs heavy libraries is
an extra, checked where it is first needed: :func:`require_extra` raises
:class:`~embedcore.errors.MissingExtraError` naming the extra, one message instead of a
``ModuleNotFoundError`` from deep inside a library. It looks the packages up without importing
them (``importlib.util.find_spec``), so the check costs microseconds and the import itself
stays where it was.
"""

from __future__ import annotations

import importlib.util

from embedcore.errors import MissingExtraError

#: Extra -> the import names of the packages it installs (pyproject.toml's lists;
#: tests/test_packaging.py keeps the two the same).
EXTRAS: dict[str, tuple[str, ...]] = {
    "maps": ("umap", "sklearn"),  # UMAP, t-SNE, PCA, k-means, HDBSCAN, cluster names
    "pdf": ("pypdf",),  # PDF documents in semantic search
    "static": ("model2vec",),  # the distilled static model
    "local": ("torch", "sentence_transformers"),  # the bundled all-MiniLM-L6-v2 on the CPU
    "postgres": ("psycopg", "psycopg_pool", "pgvector"),  # the team database
}


def require_extra(extra: str, feature: str, *packages: str) -> None:
    """Raise :class:`MissingExtraError` if a package of ``extra`` that ``feature`` needs is missing.

    ``packages`` are import names (default: every package of the extra).

    Examples:
        >>> require_extra("maps", "A UMAP map", "json")  # installed: nothing happens
        >>> require_extra("maps", "A UMAP map", "no_such_package_here")
        Traceback (most recent call last):
        ...
        embedcore.errors.MissingExtraError: A UMAP map needs no_such_package_here, which is not installed: install embedcore's "maps" extra (`pip install "embedcore[maps]"`), or the app's requirements.txt.
    """
    missing = [name for name in packages or EXTRAS[extra] if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtraError(extra, feature, missing)
