"""Strict checks of what an OpenAI-compatible endpoint answered: JSON, then the embeddings in it.

An answer with the wrong number of vectors, a missing or repeated ``index``, vectors of
different lengths, NaN or infinite values, or a web page instead of JSON is refused with an
:class:`InvalidResponseError` saying what was wrong — never passed on as vectors.

Examples
--------
>>> vector_from([0.5, 1.0], 0, ValueError)
array([0.5, 1. ])
>>> vector_from("AAAAPwAAgD8=", 0, ValueError)  # base64 of little-endian float32 0.5, 1.0
array([0.5, 1. ])
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import requests

from embedcore.errors import InvalidResponseError
from embedcore.providers.api_errors import looks_like_html, server_message

__all__ = ["parse_embeddings", "parse_json", "vector_from"]


def parse_json(response: requests.Response, where: str, attempts: int) -> Any:
    """The JSON of a 2xx answer from ``where``; :class:`InvalidResponseError` for a web page, cut or no JSON."""
    body = response.content
    if looks_like_html(response, body):
        raise InvalidResponseError(
            f"{where} answered with a web page instead of JSON (HTTP {response.status_code}); the base "
            "URL probably points at a website, not the API (it usually ends in /v1).",
            attempts=attempts,
        )
    try:
        return json.loads(body)
    except ValueError as exc:
        cut = isinstance(exc, json.JSONDecodeError) and exc.pos >= len(body.rstrip()) - 1
        raise InvalidResponseError(
            f"{where} answered with {'JSON cut off after' if cut else 'something that is not JSON'} "
            f"({len(body)} bytes). Try again; if it persists, the server is misbehaving.",
            attempts=attempts,
        ) from None


def parse_embeddings(
    response: requests.Response, n: int, attempts: int, *, endpoint_id: str, key: str
) -> tuple[np.ndarray, int, int]:
    """Check an embeddings answer for ``n`` texts; return (vectors float32 (n, d), prompt_tokens, total_tokens)."""

    def bad(why: str) -> InvalidResponseError:
        return InvalidResponseError(
            f"{endpoint_id}/embeddings gave an unusable answer: {why}", attempts=attempts
        )

    payload = parse_json(response, f"{endpoint_id}/embeddings", attempts)
    usage: Any = None
    if isinstance(payload, dict):
        if "data" not in payload and "error" in payload:
            raise bad(f"an error with status 200: {server_message(response, key)}")
        data, usage = payload.get("data"), payload.get("usage")
    else:
        data = payload
    if not isinstance(data, list):
        raise bad("no list of embeddings in it.")
    if len(data) != n:
        raise bad(f"{len(data)} vectors for {n} texts.")
    rows: list[np.ndarray | None] = [None] * n
    for pos, item in enumerate(data):
        if not isinstance(item, dict):
            raise bad(f"item {pos} is not an object.")
        index = item.get("index")
        if index is None:
            raise bad(f"item {pos} has no 'index'.")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n:
            raise bad(f"item {pos} has index {index!r}, outside 0..{n - 1}.")
        if rows[index] is not None:
            raise bad(f"index {index} appears twice.")
        rows[index] = vector_from(item.get("embedding"), index, bad)
    lengths = sorted({len(r) for r in rows if r is not None})
    if len(lengths) > 1:
        raise bad(f"vectors of different lengths ({', '.join(map(str, lengths))}).")
    with np.errstate(over="ignore", invalid="ignore"):
        vectors = np.stack(rows).astype(np.float32)
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        which = ", ".join(f"#{i + 1}" for i in np.flatnonzero(~finite)[:5])
        raise bad(f"NaN or infinite values in the vector(s) of text(s) {which} of the batch.")
    prompt_tokens = total_tokens = 0
    if isinstance(usage, dict):
        prompt_tokens = _int_or_zero(usage.get("prompt_tokens"))
        total_tokens = _int_or_zero(usage.get("total_tokens")) or prompt_tokens
    return vectors, prompt_tokens, total_tokens


def vector_from(value: Any, index: int, bad: Callable[[str], Exception]) -> np.ndarray:
    """One embedding as float64: a list of numbers, or base64 float32 (a server that ignored
    ``encoding_format="float"``); ``bad(why)`` is raised for anything else."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise bad(f"the embedding at index {index} is a string but not base64.") from None
        if not raw or len(raw) % 4:
            raise bad(f"the base64 embedding at index {index} is not a whole number of float32 values.")
        return np.frombuffer(raw, dtype="<f4").astype(np.float64)
    if not isinstance(value, list) or not value:
        raise bad(f"no embedding at index {index}.")
    try:
        vec = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad(f"the embedding at index {index} holds something other than numbers.") from None
    if vec.ndim != 1:
        raise bad(f"the embedding at index {index} is not a flat list of numbers.")
    return vec


def _int_or_zero(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0
