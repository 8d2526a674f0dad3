"""A toy provider kind for the registry tests (a unit-test fixture: its vectors are made up).

It follows ARCHITECTURE.md's "how to add a provider": one class answering
:class:`embedcore.types.Provider` and one :func:`embedcore.providers.registry.register` call.
Importing this module registers it, which is how ``EMBEDCORE_PROVIDERS=tests.toy_provider``
brings it to a command line started in the repository's root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from embedcore.errors import ConfigurationError
from embedcore.providers.registry import ProviderKind, register
from embedcore.types import EmbeddingResult, ModelInfo

TOY_MODEL = "toy-model"
TOY_DIMENSIONS = 8


def toy_vectors(texts: Sequence[str]) -> np.ndarray:
    """Test fixture only: one deterministic unit vector per text."""
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        row = np.random.default_rng(seed).standard_normal(TOY_DIMENSIONS)
        rows.append(row / np.linalg.norm(row))
    return np.array(rows, dtype=np.float32)


class ToyProvider:
    """Serves one model, on this machine, from :func:`toy_vectors`."""

    endpoint_id = "toy:"

    def __init__(self, cache: Any = None) -> None:
        self.cache = cache

    def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(TOY_MODEL, dimensions=TOY_DIMENSIONS, description="A test fixture.")]

    def embed(self, texts: Sequence[str], model: str, *, progress=None, budget=None) -> EmbeddingResult:
        texts = list(texts)
        if progress is not None:
            progress(len(texts), len(texts))
        return EmbeddingResult(toy_vectors(texts), model, fetched=len(texts), requests=1)


def _create(base_url: str | None, api_key: str | None, cache: Any, **options: Any) -> ToyProvider:
    if options:
        raise ConfigurationError(f"The toy provider does not take: {', '.join(sorted(options))}.")
    return ToyProvider(cache)


TOY_KIND = ProviderKind(
    "toy",
    "Toy provider (test fixture)",
    "a test fixture's made-up vectors",
    create=_create,
    default_model=TOY_MODEL,
    preferred_models=(TOY_MODEL,),
)
register(TOY_KIND)
