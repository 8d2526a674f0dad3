"""The values that cross embedcore's surface: what a model is, what an embedding call returns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: ``progress(done, total)`` — texts finished so far out of all texts in the call.
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ModelInfo:
    """What is known about one embedding model.

    ``None`` means "not known", never "none": an endpoint may serve a model our
    catalogue has never heard of.
    """

    id: str
    dimensions: int | None = None
    max_input_tokens: int | None = None
    languages: str | None = None
    description: str | None = None
    normalized: bool | None = None
    owned_by: str | None = None
    #: True when the endpoint listed the model (False: known to the catalogue only).
    served: bool = True


@dataclass
class EmbeddingResult:
    """Vectors for a list of texts, in the order the texts were given.

    Attributes
    ----------
    vectors : ndarray of shape (n_texts, dimensions), float32
    model : str
    prompt_tokens, total_tokens : int
        Tokens billed for the texts actually sent (cache hits cost nothing).
    cached : int
        Texts answered from the cache (duplicates within the call count once).
    fetched : int
        Distinct texts sent to the model or API.
    requests : int
        HTTP requests (or local batches) made, retries included.
    retries : int
        Requests repeated after a retryable failure.
    elapsed : float
        Wall-clock seconds for the whole call.
    token_counts : ndarray of shape (n_texts,) or None
        Tokens per text where the provider can tell (the local model can, an API cannot).
    warnings : list of str
        Things a person should know (texts over the model's input limit, ...).
    """

    vectors: np.ndarray
    model: str
    prompt_tokens: int = 0
    total_tokens: int = 0
    cached: int = 0
    fetched: int = 0
    requests: int = 0
    retries: int = 0
    elapsed: float = 0.0
    token_counts: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def dimensions(self) -> int:
        return int(self.vectors.shape[1]) if self.vectors.ndim == 2 else 0

    def __len__(self) -> int:
        return int(self.vectors.shape[0])


@runtime_checkable
class Provider(Protocol):
    """One surface for the bundled models and any OpenAI-compatible endpoint."""

    #: Identifies the endpoint in the cache (a normalised URL or ``local:``); never holds a key.
    endpoint_id: str

    def list_models(self) -> list[ModelInfo]: ...

    def embed(
        self,
        texts: Sequence[str],
        model: str,
        *,
        progress: ProgressCallback | None = None,
        budget: Any = None,
    ) -> EmbeddingResult: ...
