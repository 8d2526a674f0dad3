"""What a failed API call says: typed errors a person can act on, never holding the token.

Everything a server sent back (its message, its request id, the ``Location`` of a redirect, the
body carried on the error) is scrubbed of the token — of any 16-character piece of it, too —
before it reaches an exception, since an error message ends up in logs and on the page.

Examples
--------
>>> scrub("echo: Bearer sk-0123456789abcdefXYZ", "sk-0123456789abcdefXYZ")
'echo: Bearer ***'
>>> after_attempts(1), after_attempts(3)
('', ' after 3 attempts')
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import NameResolutionError

from embedcore.errors import (
    APIStatusError,
    EmbedcoreError,
    NotFoundError,
    RateLimitError,
    status_error_class,
)

__all__ = [
    "after_attempts",
    "connection_reason",
    "looks_like_html",
    "nobody_there",
    "redirect_error",
    "response_body",
    "scrub",
    "server_message",
    "status_error",
    "trim",
]

MESSAGE_LIMIT = 300
#: The most of a response body read for a message or kept on an error.
BODY_LIMIT = 20_000


def scrub(text: str, key: str) -> str:
    """``text`` with the key, and any 16-character piece of it, replaced by ``***``."""
    if not key or not text:
        return text
    text = text.replace(key, "***")
    if len(key) <= 16:
        return text
    masked = bytearray(len(text))
    for i in range(len(key) - 15):
        piece = key[i : i + 16]
        start = text.find(piece)
        while start != -1:
            masked[start : start + 16] = b"\x01" * 16
            start = text.find(piece, start + 1)
    if not any(masked):
        return text
    out, i = [], 0
    while i < len(text):
        if masked[i]:
            while i < len(text) and masked[i]:
                i += 1
            out.append("***")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def trim(text: str) -> str:
    """One line of at most :data:`MESSAGE_LIMIT` characters.

    >>> trim("a   b\\n c")
    'a b c'
    """
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def connection_reason(exc: BaseException, key: str) -> str:
    """Why a connection failed, in a few words (``Connection refused``, ``TLS/SSL error: ...``)."""
    text = str(exc)
    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        reason = found[-1].strip()
    elif isinstance(exc, requests.exceptions.SSLError):
        reason = "TLS/SSL error: " + text
    else:
        reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return trim(scrub(reason, key))


def server_message(response: requests.Response, key: str) -> str:
    """The server's own words in an error answer (OpenAI, FastAPI or plain shapes), scrubbed and trimmed."""
    body = response.content[:BODY_LIMIT]
    message: Any = None
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            message = error.get("message") or error.get("code")
        elif isinstance(error, str):
            message = error
        detail = payload.get("detail")
        if message is None and isinstance(detail, str):
            message = detail
        elif message is None and isinstance(detail, list):  # FastAPI validation errors
            message = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
        if message is None and isinstance(payload.get("message"), str):
            message = payload["message"]
    if message is None:
        text = body.decode("utf-8", "replace")
        if looks_like_html(response, body):
            title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
            message = f"an HTML page{': ' + title.group(1) if title else ''}"
        else:
            message = text
    return trim(scrub(str(message), key))


def response_body(response: requests.Response, key: str) -> Any:
    """The body an error carries (``APIError.body``): the JSON it held, else its text; scrubbed of the key.

    The first :data:`BODY_LIMIT` bytes only; ``None`` for an empty body.
    """
    raw = response.content[:BODY_LIMIT]
    if not raw:
        return None
    text = scrub(raw.decode("utf-8", "replace"), key)
    try:
        return json.loads(text)
    except ValueError:
        return text


def request_id(response: requests.Response, key: str) -> str | None:
    rid = response.headers.get("x-request-id") or response.headers.get("request-id")
    return trim(scrub(rid, key)) if rid else None


def redirect_error(response: requests.Response, where: str, key: str, attempts: int) -> APIStatusError:
    """A 3xx, which is never followed: the token could be carried to another address."""
    location = response.headers.get("location", "")
    try:
        target = urlsplit(urljoin(response.url, location))
        shown = f"{target.scheme}://{target.hostname or ''}{':' + str(target.port) if target.port else ''}{target.path}"
    except ValueError:
        shown = "another address"
    return APIStatusError(
        f"{where} redirects to {scrub(shown, key)}. Redirects are not followed so "
        "the token cannot leak; if that address is right, use it as the base URL.",
        status_code=response.status_code,
        request_id=request_id(response, key),
        attempts=attempts,
        body=response_body(response, key),
    )


def status_error(
    response: requests.Response,
    *,
    endpoint_id: str,
    path: str,
    attempts: int,
    key: str,
    model: str | None,
    retry_after: float | None,
    retry_after_cap: float,
    served_models: Callable[[], list[str]],
) -> APIStatusError:
    """The typed error for an error status, saying what to do about it.

    ``served_models`` is asked (best effort) after a 404 on ``/embeddings``, to name the models
    that are served instead.
    """
    status = response.status_code
    server = server_message(response, key)
    kwargs: dict[str, Any] = {
        "status_code": status,
        "request_id": request_id(response, key),
        "attempts": attempts,
        "body": response_body(response, key),
    }
    tries = after_attempts(attempts)
    response.close()
    if status == 401:
        hint = (
            "no token was sent; set IONOS_API_TOKEN or enter one"
            if not key
            else ("check that the token is complete and has not expired")
        )
        return status_error_class(status)(
            f"The server at {endpoint_id} refused the API token ({hint}). Server said: {server}",
            **kwargs,
        )
    if status == 403:
        return status_error_class(status)(
            f"The token may not use {'model ' + repr(model) if model else endpoint_id + path}. "
            f"Server said: {server}",
            **kwargs,
        )
    if status == 404:
        return _not_found(endpoint_id, path, model, server, kwargs, served_models)
    if status == 429:
        wait = (
            f" The server asks to wait {retry_after:.0f} s."
            if retry_after is not None and retry_after > retry_after_cap
            else ""
        )
        return RateLimitError(
            f"{endpoint_id} is rate limiting us{tries}.{wait} Wait a moment and try again; "
            f"finished batches are kept. Server said: {server}",
            retry_after=retry_after,
            **kwargs,
        )
    if status in (400, 413, 422):
        hint = " The request is too large: lower the batch size." if status == 413 else ""
        return status_error_class(status)(
            f"The server refused the request.{hint} Server said: {server}", **kwargs
        )
    if status >= 500:
        return status_error_class(status)(
            f"The server at {endpoint_id} failed{tries}. Finished batches are kept; try again later. "
            f"Server said: {server}",
            **kwargs,
        )
    return status_error_class(status)(f"Unexpected answer from {endpoint_id}{path}: {server}", **kwargs)


def _not_found(
    endpoint_id: str,
    path: str,
    model: str | None,
    server: str,
    kwargs: dict[str, Any],
    served_models: Callable[[], list[str]],
) -> NotFoundError:
    if path != "/embeddings" or model is None:
        return NotFoundError(
            f"{endpoint_id}{path} does not exist; check the base URL (OpenAI-compatible APIs "
            f"usually end in /v1). Server said: {server}",
            **kwargs,
        )
    available: list[str] = []
    with contextlib.suppress(EmbedcoreError):  # best effort: the 404 is what matters
        available = served_models()
    if model in available:
        message = (
            f"{endpoint_id} lists model {model!r} but has no /embeddings for it; check the base URL "
            f"and that the model is an embedding model. Server said: {server}"
        )
    elif available:
        message = f"Model {model!r} is not served at {endpoint_id}. Available: {', '.join(available)}."
    else:
        message = (
            f"Model {model!r} (or the /embeddings path) was not found at {endpoint_id}; the served "
            f"models could not be listed. Server said: {server}"
        )
    return NotFoundError(message, model=model, available=available, **kwargs)


def nobody_there(exc: BaseException) -> str | None:
    """What to check when ``exc`` says no server is there at all, else None (worth retrying).

    A refused connection (nothing listens at that host and port) and a host name that does not
    resolve are answers, not accidents: retrying them only makes the person wait. A connection
    dropped or reset after it was made, a timeout, a 5xx may all go better the next time.
    urllib3 keeps the socket error as the cause of the error requests wraps, so the chain is read.

    >>> nobody_there(ConnectionRefusedError(111, "Connection refused")).startswith("Is anything listening")
    True
    >>> nobody_there(TimeoutError()) is None
    True
    """
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        if isinstance(current, (NameResolutionError, socket.gaierror)):
            return "Check the host name in the base URL: it does not resolve to an address."
        if isinstance(current, ConnectionRefusedError):
            return "Is anything listening there? Check the host and port in the base URL, and that the server runs."
        pending += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        pending += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]
    return None


def after_attempts(attempts: int) -> str:
    """`` after N attempts`` when a request was repeated, else nothing (one try needs no count)."""
    return f" after {attempts} attempts" if attempts > 1 else ""


def looks_like_html(response: requests.Response, body: bytes) -> bool:
    """Whether an answer is a web page (a base URL that points at a website, not the API)."""
    ctype = response.headers.get("content-type", "").lower()
    head = body[:200].lstrip().lower()
    return "html" in ctype or head.startswith((b"<!doctype", b"<html", b"<head", b"<body"))
