"""What the fake IONOS AI Model Hub answers: one definition for the test server and the bench server.

Two servers speak it, each for what it is for: tests/fake_openai.py (pytest-httpserver in the
test process: every request recorded, answers scriptable per request) and bench/fake_api.py
(the standard library's threaded HTTP/1.1 server in a process of its own, with keep-alive, for
benchmarks that measure transport). Both build every answer from here, so the model list,
the vectors, token counts, the envelopes and the errors cannot drift apart.

As IONOS does (docs/FACTS.md): three models, 768/1024/1024 dimensions; the multilingual MPNet's
vectors are **not** unit length, the two BGE models' are; a bearer token (401 without it);
404 for an unknown model id; 400 for an empty input or more than 2,048 inputs; 429 with
``Retry-After`` beyond 5 requests/s (bursts of 10); the envelope OpenAI sends plus ``id`` and
``created``. Only the standard library and numpy: bench/fake_api.py imports this in a process
that has no pytest.

**The vectors are test fixtures, not embeddings**: a seeded normal vector per text (SHA-256 of
the text), so a client's batching, ordering, decoding and caching can be checked exactly.
"""

from __future__ import annotations

import base64
import hashlib
import math
import threading
import time
from typing import Any

import numpy as np

#: The IONOS AI Model Hub's embedding models and their dimensions (docs/FACTS.md).
IONOS_MODELS = {
    "sentence-transformers/paraphrase-multilingual-mpnet-base-v2": 768,
    "BAAI/bge-large-en-v1.5": 1024,
    "BAAI/bge-m3": 1024,
}
#: Models whose vectors IONOS sends as the model makes them, not unit length (docs/FACTS.md).
UNNORMALISED = frozenset({"sentence-transformers/paraphrase-multilingual-mpnet-base-v2"})
#: OpenAI's documented limit of inputs per request.
MAX_INPUTS = 2048
#: The token an operator configured for the endpoint, in tests that need one.
TOKEN = "ionos-secret-token-0123456789abcdef"
#: IONOS's rate limit: requests per second, steady, and the burst above it.
RATE, BURST = 5.0, 10


def fixture_vector(text: str, dims: int, *, normalised: bool = True) -> np.ndarray:
    """Test fixture only: a deterministic float32 vector per text, shaped like a real one.

    Unit length, or with ``normalised=False`` a length between 2 and 6 that varies by text (as
    the multilingual MPNet's vectors do through IONOS).

    Examples:
        >>> v = fixture_vector("a cat", 4)
        >>> v.shape, v.dtype.name, round(float(np.linalg.norm(v)), 5)
        ((4,), 'float32', 1.0)
        >>> bool(np.array_equal(v, fixture_vector("a cat", 4)))
        True
        >>> 2.0 <= float(np.linalg.norm(fixture_vector("a cat", 4, normalised=False))) <= 6.0
        True
    """
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dims).astype(np.float32)
    vector /= np.linalg.norm(vector)
    return vector if normalised else vector * np.float32(2.0 + (seed % 4001) / 1000.0)


def model_vector(text: str, model: str, dims: int) -> np.ndarray:
    """The vector the fake sends for ``text`` from ``model``: unit length unless IONOS's model is not."""
    return fixture_vector(text, dims, normalised=model not in UNNORMALISED)


def token_count(text: str) -> int:
    """The server's token count: words plus two (a [CLS] and a [SEP]).

    Examples:
        >>> token_count("two words")
        4
    """
    return len(text.split()) + 2


def texts_of(body: dict | None) -> list[str]:
    """``input`` of an embeddings request as a list (OpenAI accepts one string too)."""
    texts = (body or {}).get("input", [])
    return texts if isinstance(texts, list) else [texts]


def error_body(status: int, message: str, kind: str = "invalid_request_error") -> dict:
    """An error in OpenAI's shape: ``{"error": {"message", "type", "code"}}``."""
    return {"error": {"message": message, "type": kind, "code": status}}


def unauthorised(auth_header: str | None, token: str | None) -> tuple[int, dict] | None:
    """``(401, body)`` when ``token`` is required and the request's ``Authorization`` is not its bearer."""
    if token is not None and auth_header != f"Bearer {token}":
        return 401, error_body(401, "Unauthorized: a valid bearer token is required.", "authentication_error")
    return None


def request_error(body: Any, models: dict[str, int]) -> tuple[int, dict] | None:
    """``(status, error body)`` for an embeddings request IONOS would refuse, or None.

    Examples:
        >>> request_error({"model": "nope", "input": ["a"]}, IONOS_MODELS)[0]
        404
        >>> request_error({"model": "BAAI/bge-m3", "input": [""]}, IONOS_MODELS)[0]
        400
        >>> request_error({"model": "BAAI/bge-m3", "input": "a"}, IONOS_MODELS) is None
        True
    """
    if not isinstance(body, dict):
        return 400, error_body(400, "body is not JSON")
    model = body.get("model")
    if model not in models:
        return 404, error_body(404, f"model {model!r} not found", "not_found")
    texts = texts_of(body)
    if not texts or len(texts) > MAX_INPUTS:
        return 400, error_body(400, f"input must be 1..{MAX_INPUTS} strings")
    if not all(isinstance(t, str) and t for t in texts):
        return 400, error_body(400, "input must not contain empty strings")
    return None


def models_body(models: dict[str, int], owner: str = "fake") -> dict:
    """``GET /v1/models``'s answer."""
    data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": owner} for m in models]
    return {"object": "list", "data": data}


def embeddings_body(
    body: dict, dims: int, *, reverse: bool = False, count_tokens=token_count, request_id: str = "embd-fake"
) -> dict:
    """``POST /v1/embeddings``'s answer to a valid ``body``: IONOS's envelope, floats or base64.

    Examples:
        >>> answer = embeddings_body({"model": "BAAI/bge-m3", "input": ["a b", "c"]}, 3)
        >>> [d["index"] for d in answer["data"]], answer["usage"]
        ([0, 1], {'prompt_tokens': 7, 'total_tokens': 7})
    """
    model, texts = body["model"], texts_of(body)
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(texts):
        vector = model_vector(text, model, dims)
        encoded = base64.b64encode(vector.astype("<f4").tobytes()).decode() if as_base64 else vector.tolist()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    if reverse:
        data.reverse()
    tokens = sum(count_tokens(t) for t in texts)
    return {
        "id": request_id,
        "created": 1700000000,
        "object": "list",
        "model": model,
        "data": data,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


class TokenBucket:
    """IONOS's rate limit as a token bucket that never waits: ``take()`` says yes, or how long until a token."""

    def __init__(self, rate: float = RATE, burst: int = BURST) -> None:
        self.rate, self.burst = rate, burst
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.tokens, self.last = float(self.burst), time.monotonic()

    def take(self) -> float:
        """0.0 if a token was taken, else seconds until one will be there."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return 0.0
            return (1.0 - self.tokens) / self.rate


def rate_limited(wait: float, rate: float = RATE) -> tuple[int, dict, dict[str, str]]:
    """``(429, body, headers)``: ``Retry-After`` in whole seconds, rounded up (RFC 9110)."""
    body = error_body(429, f"Rate limit reached: {rate:g} requests/s.", "rate_limit_exceeded")
    return 429, body, {"Retry-After": str(max(1, math.ceil(wait)))}
