"""What we know about embedding models that endpoints do not say about themselves.

``GET /models`` returns little more than ids; the dashboard wants dimensions,
input limits and languages. The facts for the IONOS models come from IONOS'
model cards; the local ones from the bundled model files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from embedcore.types import ModelInfo

IONOS_BASE_URL = "https://openai.inference.de-txl.ionos.com/v1"

#: Local model ids (served by :class:`embedcore.LocalModel`).
MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_STATIC_ID = "all-MiniLM-L6-v2-static (model2vec)"

KNOWN_MODELS: dict[str, ModelInfo] = {
    m.id: m
    for m in (
        ModelInfo(
            id="sentence-transformers/paraphrase-multilingual-mpnet-base-v2",
            dimensions=768,
            max_input_tokens=128,
            languages="50+ languages",
            description="Multilingual paraphrase model (MPNet); maps translations close together. "
            "Output is not normalised.",
            normalized=False,
        ),
        ModelInfo(
            id="BAAI/bge-large-en-v1.5",
            dimensions=1024,
            max_input_tokens=512,
            languages="English",
            description="BGE large, English retrieval and similarity.",
            normalized=True,
        ),
        ModelInfo(
            id="BAAI/bge-m3",
            dimensions=1024,
            max_input_tokens=8192,
            languages="100+ languages",
            description="BGE-M3: multilingual, long inputs (up to 8192 tokens); dense vectors only "
            "through this API.",
            normalized=True,
        ),
        ModelInfo(
            id=MINILM_ID,
            dimensions=384,
            max_input_tokens=256,
            languages="English",
            description="all-MiniLM-L6-v2, bundled and run on this machine (no network).",
            normalized=True,
            owned_by="local",
        ),
        ModelInfo(
            id=MINILM_STATIC_ID,
            dimensions=256,
            max_input_tokens=None,
            languages="English",
            description="A static (model2vec) distillation of all-MiniLM-L6-v2: much faster, "
            "visibly less accurate. Built once on this machine (`python -m embedcore prepare`, part of `make run`).",
            normalized=True,
            owned_by="local",
        ),
    )
}


def describe(model_id: str, *, served: bool = True, **known: Any) -> ModelInfo:
    """A :class:`ModelInfo` for ``model_id``: catalogue facts, overridden by ``known`` non-None values."""
    base = KNOWN_MODELS.get(model_id, ModelInfo(id=model_id))
    overrides = {k: v for k, v in known.items() if v is not None and k in ModelInfo.__annotations__}
    return replace(base, served=served, **overrides)


def api_models(*, served: bool = False) -> list[ModelInfo]:
    """The API models the catalogue knows (the IONOS ones), never the bundled local models."""
    return [replace(m, served=served) for m in KNOWN_MODELS.values() if m.owned_by != "local"]


def merge_listing(items: Iterable[Mapping[str, Any] | str]) -> list[ModelInfo]:
    """Turn the items of a ``GET /models`` answer into ``ModelInfo`` records, catalogue merged in.

    Items may be dicts with an ``id`` (OpenAI style) or bare id strings. Unknown
    keys are ignored; ``owned_by`` is kept. Order is the server's; duplicates are dropped.
    """
    seen: set[str] = set()
    models: list[ModelInfo] = []
    for item in items:
        if isinstance(item, str):
            model_id, extra = item, {}
        elif isinstance(item, Mapping) and isinstance(item.get("id"), str):
            model_id, extra = item["id"], item
        else:
            continue
        if model_id in seen:
            continue
        seen.add(model_id)
        models.append(describe(model_id, owned_by=extra.get("owned_by")))
    return models
