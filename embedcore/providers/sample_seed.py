"""The sample seed: the built-in sample sets embedded once with the bundled MiniLM, at install.

``python -m embedcore prepare --samples`` writes it; :class:`~embedcore.providers.local.LocalModel`
reads it (a :class:`~embedcore.stores.cache.SeededCache`), so a first visit's default page finds its
sample embedded without loading torch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from embedcore.providers import catalog
from embedcore.providers.bundled import sample_seed_path
from embedcore.providers.local import LocalModel

__all__ = ["build_sample_seed"]


def build_sample_seed(path: Path | None = None, *, names: Sequence[str] | None = None) -> tuple[Path, int]:
    """Embed the built-in sample sets with the bundled MiniLM into a seed file; ``(path, vectors)``.

    ``names``: the samples to embed, by default all of :data:`embedcore.io.SAMPLES` — the
    10,000-sentence ``docs`` sample included (measured: 10,243 texts, 85 CPU-seconds, a 22 MB
    file), so choosing it in the explorer needs no model either.

    Real vectors of the real model, made once at install time (``prepare --samples``), so a
    first visit's default page finds its sample embedded without loading torch (see
    :class:`embedcore.stores.cache.SeededCache`). Written to a temporary file and renamed into place:
    a reader never sees half a seed.
    """
    from embedcore import io
    from embedcore.stores.cache import EmbeddingCache

    target = Path(path) if path is not None else sample_seed_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    seed = EmbeddingCache(partial)
    chosen = tuple(io.SAMPLES) if names is None else tuple(names)
    texts = list(dict.fromkeys(t for name in chosen for t in io.load_sample(name).texts))
    try:
        LocalModel(cache=seed).embed(texts, catalog.MINILM_ID)
    finally:
        seed.close()
    for suffix in ("-wal", "-shm"):  # closed: SQLite has folded its journal into the file
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    os.replace(partial, target)
    return target, len(texts)
