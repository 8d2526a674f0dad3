"""An OpenAI-compatible embeddings client (IONOS AI Model Hub by default), on ``requests``.

What it adds over a bare ``POST /embeddings``: batches sent concurrently but paced
by a shared token bucket (IONOS allows 5 requests/s, burst 10, per contract), retries
with backoff that honour ``Retry-After``, strict checks of every answer, the
persistent cache (through :func:`embedcore.providers.pipeline.embed_with_cache`), and errors
a person can act on — none of which ever contains the API key.

Why not the ``openai`` SDK: it asks for base64 silently, hides the request count we
report, has no shared pacing across threads, and pulls in httpx + pydantic for one
endpoint. ``requests`` is already a dependency.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import hashlib
import http.cookiejar
import json
import random
import re
import socket
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import numpy as np
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NameResolutionError

from embedcore import __version__
from embedcore.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    EmbedcoreError,
    InputError,
    InvalidResponseError,
    NotFoundError,
    RateLimitError,
    TooManyTextsError,
    status_error_class,
)
from embedcore.providers.catalog import merge_listing
from embedcore.providers.endpoints import configured_base_url, environment_token, normalize_base_url
from embedcore.providers.pipeline import BatchOutput, embed_with_cache
from embedcore.providers.ratelimit import TokenBucket
from embedcore.types import EmbeddingResult, ModelInfo, ProgressCallback

if TYPE_CHECKING:
    from embedcore.providers.budget import BudgetGuard

__all__ = ["RETRYABLE_STATUS", "EmbeddingClient", "normalize_base_url", "parse_retry_after"]

#: Statuses worth repeating: the request may succeed unchanged a moment later.
RETRYABLE_STATUS = frozenset({408, 409, 429, *range(500, 600)})

#: OpenAI's limit on inputs per request; IONOS documents none, so we use the same.
MAX_BATCH_SIZE = 2048

_MESSAGE_LIMIT = 300


def parse_retry_after(headers: Any, *, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP-date) or ``retry-after-ms``; ``None`` if absent."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = datetime.now(timezone.utc).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


class _Secret:
    """Holds the key so that no ``repr``, ``vars()`` dump or debugger view shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "'***'" if self._value else "''"

    __str__ = __repr__


class _BearerAuth(requests.auth.AuthBase):
    # Given as ``auth=`` rather than a session header: requests then never consults ~/.netrc
    # (which would replace our header with Basic auth for a matching host).
    def __init__(self, secret: _Secret) -> None:
        self._secret = secret

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._secret:
            r.headers["Authorization"] = f"Bearer {self._secret.get()}"
        return r

    def __repr__(self) -> str:
        return "_BearerAuth(***)"


class EmbeddingClient:
    """Embeddings from an OpenAI-compatible endpoint (IONOS AI Model Hub by default).

    Parameters
    ----------
    base_url : str, optional
        Ends in ``/v1`` for OpenAI-style APIs. Default: ``$EMBEDCORE_BASE_URL``, else IONOS.
    api_key : str, optional
        Bearer token. ``None`` reads ``$IONOS_API_TOKEN`` when ``base_url`` is the endpoint that token
        belongs to (:func:`embedcore.providers.endpoints.environment_token`), else sends none; ``""`` sends none.
    timeout : float
        Seconds to connect and to wait for an answer, per request.
    max_retries : int
        Repeats of a request after a retryable failure (so up to ``max_retries + 1`` requests).
    batch_size : int
        Texts per request (1-2048).
    max_concurrency : int
        Requests in flight at once within one ``embed`` call.
    requests_per_second, burst : float, int
        The server's rate limit, which all requests of this client keep to, across threads
        (``None`` disables pacing). One token of ``burst`` is held back as a margin for jitter.
    cache : EmbeddingCache, optional
        Where vectors are kept between calls; ``None`` means no cache.
    max_texts : int, optional
        Refuse calls with more texts than this (:class:`TooManyTextsError`).
    backoff_base, backoff_max : float
        First retry delay and its cap in seconds; the delay doubles per attempt, with jitter.
    retry_after_cap : float
        Longest ``Retry-After`` we wait for; a server asking for longer gets an immediate error
        (waiting less than it asked would only spend another request).
    rate_limit_database : Database, optional
        Keep the token bucket in this PostgreSQL database instead of in memory, so that every
        process using it with the same endpoint and token — app replicas, batch jobs — keeps to
        the server's limit together (:class:`embedcore.providers.ratelimit.SharedTokenBucket`).

    Notes
    -----
    Thread-safe: one instance may serve many threads (and Streamlit sessions); they share
    one connection pool and one rate limiter, which is what a per-contract limit needs.
    Redirects are never followed, so the token cannot be carried to another address.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        batch_size: int = 64,
        max_concurrency: int = 4,
        requests_per_second: float | None = 5.0,
        burst: int = 10,
        cache: Any = None,
        max_texts: int | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        retry_after_cap: float = 60.0,
        rate_limit_database: Any = None,
    ) -> None:
        self.base_url = normalize_base_url(configured_base_url() if base_url is None else base_url)
        #: Cache namespace: the normalised URL. Never the key.
        self.endpoint_id = self.base_url

        key = environment_token(self.base_url) if api_key is None else api_key
        key = (key or "").strip()
        if any(c.isspace() or not c.isprintable() or ord(c) > 126 for c in key):
            # Checked here because requests would otherwise quote the header value, key and
            # all, in its InvalidHeader message.
            raise ConfigurationError(
                "The API token contains spaces, line breaks or non-ASCII characters; copy it again."
            )
        self._key = _Secret(key)
        self._auth = _BearerAuth(self._key)

        if not timeout or timeout <= 0:
            raise ConfigurationError(f"timeout must be positive, got {timeout}")
        if max_retries < 0:
            raise ConfigurationError(f"max_retries must be >= 0, got {max_retries}")
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ConfigurationError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}, got {batch_size}")
        if max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if max_texts is not None and max_texts < 1:
            raise ConfigurationError(f"max_texts must be >= 1, got {max_texts}")
        if burst < 1:
            raise ConfigurationError(f"burst must be >= 1, got {burst}")
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.batch_size = int(batch_size)
        self.max_concurrency = int(max_concurrency)
        self.max_texts = max_texts
        self.cache = cache
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.retry_after_cap = float(retry_after_cap)
        # One token of the server's burst is kept in reserve: the server counts requests when they
        # arrive, we when we send them, and a request delayed on its way by a few milliseconds
        # followed by one that is not would otherwise land two in one of the server's slots (a 429
        # we provoked ourselves). It costs one request's worth of the initial burst, once.
        limiter_burst = max(1, int(burst) - 1)
        if rate_limit_database is not None:
            from embedcore.providers.ratelimit import SharedTokenBucket

            self.limiter: TokenBucket | SharedTokenBucket = SharedTokenBucket(
                rate_limit_database, self._bucket_key(), requests_per_second, limiter_burst
            )
        else:
            self.limiter = TokenBucket(requests_per_second, limiter_burst)

        session = requests.Session()
        session.headers.update({"User-Agent": f"embedcore/{__version__}", "Accept": "application/json"})
        # Cookies are per-session mutable state shared by threads, and an API needs none.
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        adapter = HTTPAdapter(
            pool_connections=1, pool_maxsize=max(10, 4 * self.max_concurrency), max_retries=0
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self._session = session

    def _bucket_key(self) -> str:
        """Which shared bucket: per endpoint and token (a provider counts requests per contract).

        A SHA-256 fingerprint of the token, never the token: the key is stored in the database.
        """
        token = self._key.get()
        which = hashlib.sha256(token.encode("utf-8")).hexdigest()[:16] if token else "no-token"
        return f"{self.endpoint_id} {which}"

    # --- presentation -----------------------------------------------------------

    @property
    def has_key(self) -> bool:
        """Whether a token will be sent."""
        return bool(self._key)

    def __repr__(self) -> str:
        return (
            f"EmbeddingClient(base_url={self.base_url!r}, api_key={'set' if self._key else 'not set'}, "
            f"batch_size={self.batch_size}, max_concurrency={self.max_concurrency})"
        )

    __str__ = __repr__

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    def __enter__(self) -> EmbeddingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- public calls -------------------------------------------------------------

    def list_models(self, *, max_retries: int | None = None) -> list[ModelInfo]:
        """The models the endpoint serves (``GET /models``), with catalogue facts merged in.

        Accepts the OpenAI envelope ``{"object": "list", "data": [...]}`` and a bare list.
        """
        response, attempts = self._request("GET", "/models", max_retries=max_retries)
        payload = self._json(response, "/models", attempts)
        items = payload
        if isinstance(payload, dict):
            items = payload.get("data", payload.get("models"))
        if not isinstance(items, list):
            raise InvalidResponseError(
                f"{self.endpoint_id}/models did not answer with a list of models.", attempts=attempts
            )
        return merge_listing(items)

    def check_connection(self) -> tuple[float, list[ModelInfo]]:
        """One ``GET /models`` without retries: (latency in seconds, served models).

        Raises the same typed errors as :meth:`list_models` (401 for a bad token, ...).
        """
        start = time.perf_counter()
        models = self.list_models(max_retries=0)
        return time.perf_counter() - start, models

    def embed(
        self,
        texts: Sequence[str],
        model: str,
        *,
        progress: ProgressCallback | None = None,
        budget: BudgetGuard | None = None,
    ) -> EmbeddingResult:
        """Vectors for ``texts`` from ``model``, cache first, in input order.

        Parameters
        ----------
        texts : sequence of str, length n
            Non-blank strings; duplicates are sent once.
        model : str
            A model id the endpoint serves.
        progress : callable, optional
            ``progress(done, total)`` after the cache lookup and after every batch.
        budget : BudgetGuard, optional
            Count this call against a budget on the token (:mod:`embedcore.providers.budget`): a hosted
            app passes one when the call spends its operator's token.

        Returns
        -------
        EmbeddingResult
            ``vectors`` of shape (n, dimensions), float32.

        Raises
        ------
        InputError, TooManyTextsError, EmptyInputError
            Before any request.
        BudgetExceededError
            Before any request, when ``budget`` has too little left today.
        APIError subclasses
            After retries; batches finished before the failure stay in the cache.
        """
        if not isinstance(model, str) or not model.strip():
            raise InputError("Choose a model to embed with.")
        if not isinstance(texts, (str, bytes)):
            texts = list(texts)
            if self.max_texts is not None and len(texts) > self.max_texts:
                raise TooManyTextsError(
                    f"{len(texts):,} texts is more than this endpoint's limit of {self.max_texts:,} "
                    "per call; embed a smaller selection."
                )

        def send_batch(batch: list[str]) -> BatchOutput:
            payload = {"model": model, "input": batch, "encoding_format": "float"}
            response, attempts = self._request("POST", "/embeddings", payload, model=model)
            vectors, prompt_tokens, total_tokens = self._parse_embeddings(response, len(batch), attempts)
            return BatchOutput(
                vectors=vectors,
                prompt_tokens=prompt_tokens,
                total_tokens=total_tokens,
                requests=attempts,
                retries=attempts - 1,
            )

        return embed_with_cache(
            texts,
            model,
            endpoint_id=self.endpoint_id,
            cache=self.cache,
            send_batch=send_batch,
            batch_size=self.batch_size,
            max_concurrency=self.max_concurrency,
            progress=progress,
            budget=budget,
        )

    # --- HTTP ----------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return delay * (0.75 + 0.25 * random.random())  # jitter so threads do not retry in step

    def _request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        max_retries: int | None = None,
        model: str | None = None,
    ) -> tuple[requests.Response, int]:
        """Send one API call, retrying what is safe to retry; return (2xx response, attempts).

        A hand-written loop rather than urllib3's ``Retry``: we need the attempt count for
        the result and the errors, a 429 must pause the limiter every thread shares (not
        only this one), and a ``Retry-After`` over our cap should fail fast instead of
        being slept through.
        """
        retries_left = self.max_retries if max_retries is None else max_retries
        url = self.base_url + path
        attempt = 0
        while True:
            attempt += 1
            self.limiter.acquire()
            try:
                response = self._session.request(
                    method,
                    url,
                    json=payload,
                    auth=self._auth,
                    timeout=self.timeout,
                    # Never follow: a redirect could carry the token to another host, and an
                    # http -> https one means the token already crossed the network in clear.
                    allow_redirects=False,
                )
            except requests.Timeout:
                failure: APIError = APITimeoutError(
                    f"{self.endpoint_id} did not answer {method} {path} within {self.timeout:g} s"
                    f"{_after(attempt)}.",
                    attempts=attempt,
                )
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                nobody = _nobody_there(exc)
                if nobody is not None:
                    # Nothing listens at that port, or the host name does not resolve: the next
                    # attempt gets the same answer (a 503 may not), so say it now, not in 15 s.
                    raise APIConnectionError(
                        f"Could not reach {self.endpoint_id}{_after(attempt)} ({self._reason(exc)}). {nobody}",
                        attempts=attempt,
                    ) from None
                failure = APIConnectionError(
                    f"Could not reach {self.endpoint_id}{_after(attempt)} ({self._reason(exc)}).",
                    attempts=attempt,
                )
            except requests.RequestException as exc:
                raise APIConnectionError(
                    f"Request to {self.endpoint_id}{path} failed: {self._reason(exc)}", attempts=attempt
                ) from None
            else:
                status = response.status_code
                if status < 300:
                    return response, attempt
                if status < 400:
                    raise self._redirect_error(response, path, attempt)
                retry_after = parse_retry_after(response.headers)
                too_long = retry_after is not None and retry_after > self.retry_after_cap
                if status not in RETRYABLE_STATUS or attempt > retries_left or too_long:
                    raise self._status_error(response, path, attempt, model=model, retry_after=retry_after)
                response.close()
                delay = retry_after if retry_after is not None else self._backoff(attempt)
                if status == 429:
                    # Every thread waits, not just this one; acquire() below does the sleeping.
                    self.limiter.pause(delay)
                else:
                    time.sleep(delay)
                continue
            if attempt > retries_left:
                raise failure
            time.sleep(self._backoff(attempt))

    # --- messages --------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """Remove the key, or any 16-character piece of it, from text a server sent us."""
        key = self._key.get()
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

    def _reason(self, exc: BaseException) -> str:
        text = str(exc)
        found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
        if found:
            reason = found[-1].strip()
        elif isinstance(exc, requests.exceptions.SSLError):
            reason = "TLS/SSL error: " + text
        else:
            reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        return self._trim(self._scrub(reason))

    @staticmethod
    def _trim(text: str) -> str:
        text = " ".join(text.split())
        return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"

    def _server_message(self, response: requests.Response) -> str:
        body = response.content[:20_000]
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
            if _looks_like_html(response, body):
                title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
                message = f"an HTML page{': ' + title.group(1) if title else ''}"
            else:
                message = text
        return self._trim(self._scrub(str(message)))

    def _request_id(self, response: requests.Response) -> str | None:
        rid = response.headers.get("x-request-id") or response.headers.get("request-id")
        return self._trim(self._scrub(rid)) if rid else None

    def _redirect_error(self, response: requests.Response, path: str, attempts: int) -> APIStatusError:
        location = response.headers.get("location", "")
        try:
            target = urlsplit(urljoin(response.url, location))
            shown = f"{target.scheme}://{target.hostname or ''}{':' + str(target.port) if target.port else ''}{target.path}"
        except ValueError:
            shown = "another address"
        return APIStatusError(
            f"{self.endpoint_id}{path} redirects to {self._scrub(shown)}. Redirects are not followed so "
            "the token cannot leak; if that address is right, use it as the base URL.",
            status_code=response.status_code,
            request_id=self._request_id(response),
            attempts=attempts,
        )

    def _status_error(
        self,
        response: requests.Response,
        path: str,
        attempts: int,
        *,
        model: str | None,
        retry_after: float | None,
    ) -> APIStatusError:
        status = response.status_code
        server = self._server_message(response)
        kwargs: dict[str, Any] = {
            "status_code": status,
            "request_id": self._request_id(response),
            "attempts": attempts,
        }
        tries = _after(attempts)
        response.close()
        if status == 401:
            hint = (
                "no token was sent; set IONOS_API_TOKEN or enter one"
                if not self._key
                else ("check that the token is complete and has not expired")
            )
            return status_error_class(status)(
                f"The server at {self.endpoint_id} refused the API token ({hint}). Server said: {server}",
                **kwargs,
            )
        if status == 403:
            return status_error_class(status)(
                f"The token may not use {'model ' + repr(model) if model else self.endpoint_id + path}. "
                f"Server said: {server}",
                **kwargs,
            )
        if status == 404:
            return self._not_found(path, model, server, kwargs)
        if status == 429:
            wait = (
                f" The server asks to wait {retry_after:.0f} s."
                if retry_after is not None and retry_after > self.retry_after_cap
                else ""
            )
            return RateLimitError(
                f"{self.endpoint_id} is rate limiting us{tries}.{wait} Wait a moment and try again; "
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
                f"The server at {self.endpoint_id} failed{tries}. Finished batches are kept; try again later. "
                f"Server said: {server}",
                **kwargs,
            )
        return status_error_class(status)(
            f"Unexpected answer from {self.endpoint_id}{path}: {server}", **kwargs
        )

    def _not_found(self, path: str, model: str | None, server: str, kwargs: dict[str, Any]) -> NotFoundError:
        if path != "/embeddings" or model is None:
            return NotFoundError(
                f"{self.endpoint_id}{path} does not exist; check the base URL (OpenAI-compatible APIs "
                f"usually end in /v1). Server said: {server}",
                **kwargs,
            )
        available: list[str] = []
        with contextlib.suppress(EmbedcoreError):  # best effort: the 404 is what matters
            available = [m.id for m in self.list_models(max_retries=0)]
        if model in available:
            message = (
                f"{self.endpoint_id} lists model {model!r} but has no /embeddings for it; check the base URL "
                f"and that the model is an embedding model. Server said: {server}"
            )
        elif available:
            message = (
                f"Model {model!r} is not served at {self.endpoint_id}. Available: {', '.join(available)}."
            )
        else:
            message = (
                f"Model {model!r} (or the /embeddings path) was not found at {self.endpoint_id}; the served "
                f"models could not be listed. Server said: {server}"
            )
        return NotFoundError(message, model=model, available=available, **kwargs)

    # --- parsing -------------------------------------------------------------------------

    def _json(self, response: requests.Response, path: str, attempts: int) -> Any:
        body = response.content
        where = f"{self.endpoint_id}{path}"
        if _looks_like_html(response, body):
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

    def _parse_embeddings(
        self, response: requests.Response, n: int, attempts: int
    ) -> tuple[np.ndarray, int, int]:
        """Check an embeddings answer; return (vectors float32 (n, d), prompt_tokens, total_tokens)."""

        def bad(why: str) -> InvalidResponseError:
            return InvalidResponseError(
                f"{self.endpoint_id}/embeddings gave an unusable answer: {why}", attempts=attempts
            )

        payload = self._json(response, "/embeddings", attempts)
        usage: Any = None
        if isinstance(payload, dict):
            if "data" not in payload and "error" in payload:
                raise bad(f"an error with status 200: {self._server_message(response)}")
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
            rows[index] = self._vector(item.get("embedding"), index, bad)
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

    @staticmethod
    def _vector(value: Any, index: int, bad: Any) -> np.ndarray:
        if isinstance(value, str):
            # A server that ignored encoding_format="float": little-endian float32, base64.
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


def _nobody_there(exc: BaseException) -> str | None:
    """What to check when ``exc`` says no server is there at all, else None (worth retrying).

    A refused connection (nothing listens at that host and port) and a host name that does not
    resolve are answers, not accidents: retrying them only makes the person wait. A connection
    dropped or reset after it was made, a timeout, a 5xx may all go better the next time.
    urllib3 keeps the socket error as the cause of the error requests wraps, so the chain is read.
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


def _after(attempts: int) -> str:
    """`` after N attempts`` when a request was repeated, else nothing (one try needs no count)."""
    return f" after {attempts} attempts" if attempts > 1 else ""


def _looks_like_html(response: requests.Response, body: bytes) -> bool:
    ctype = response.headers.get("content-type", "").lower()
    head = body[:200].lstrip().lower()
    return "html" in ctype or head.startswith((b"<!doctype", b"<html", b"<head", b"<body"))


def _int_or_zero(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0
