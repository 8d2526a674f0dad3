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

import email.utils
import hashlib
import http.cookiejar
import random
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter

from embedcore import __version__
from embedcore.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    InputError,
    InvalidResponseError,
    TooManyTextsError,
)
from embedcore.providers.api_errors import (
    after_attempts,
    connection_reason,
    nobody_there,
    redirect_error,
    status_error,
)
from embedcore.providers.catalog import merge_listing
from embedcore.providers.endpoints import configured_base_url, environment_token, normalize_base_url
from embedcore.providers.pipeline import BatchOutput, embed_with_cache
from embedcore.providers.ratelimit import TokenBucket
from embedcore.providers.responses import parse_embeddings, parse_json
from embedcore.types import EmbeddingResult, ModelInfo, ProgressCallback

if TYPE_CHECKING:
    from embedcore.providers.budget import BudgetGuard

__all__ = ["RETRYABLE_STATUS", "EmbeddingClient", "normalize_base_url", "parse_retry_after"]

#: Statuses worth repeating: the request may succeed unchanged a moment later.
RETRYABLE_STATUS = frozenset({408, 409, 429, *range(500, 600)})

#: OpenAI's limit on inputs per request; IONOS documents none, so we use the same.
MAX_BATCH_SIZE = 2048


def parse_retry_after(headers: Any, *, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP-date) or ``retry-after-ms``; ``None`` if absent.

    Examples
    --------
    >>> parse_retry_after({"retry-after": "7"}), parse_retry_after({"retry-after-ms": "250"})
    (7.0, 0.25)
    >>> parse_retry_after({"retry-after": "Thu, 01 Jan 1970 00:01:00 GMT"}, now=30.0)
    30.0
    >>> parse_retry_after({}) is None
    True
    """
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

    Examples
    --------
    >>> client = EmbeddingClient("http://127.0.0.1:8000/v1/", api_key="")
    >>> client
    EmbeddingClient(base_url='http://127.0.0.1:8000/v1', api_key=not set, batch_size=64, max_concurrency=4)
    >>> client.close()

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
        payload = parse_json(response, f"{self.endpoint_id}/models", attempts)
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
            vectors, prompt_tokens, total_tokens = parse_embeddings(
                response, len(batch), attempts, endpoint_id=self.endpoint_id, key=self._key.get()
            )
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

    def _should_retry(self, response: requests.Response, *, attempt: int, retries_left: int) -> bool:
        """Whether an error answer is worth sending again.

        Not once the retries are spent, nor when the server asks us to wait longer than
        ``retry_after_cap`` (waiting less would only spend another request). Otherwise the
        server's ``x-should-retry: true|false`` decides, as the OpenAI API sends it; without it
        the status does (:data:`RETRYABLE_STATUS`).
        """
        if attempt > retries_left:
            return False
        retry_after = parse_retry_after(response.headers)
        if retry_after is not None and retry_after > self.retry_after_cap:
            return False
        told = response.headers.get("x-should-retry", "").strip().lower()
        if told in ("true", "false"):
            return told == "true"
        return response.status_code in RETRYABLE_STATUS

    def _retry_delay(self, attempt: int, response: requests.Response | None = None) -> float:
        """Seconds before the next attempt: the server's ``Retry-After``, else backoff with jitter."""
        retry_after = None if response is None else parse_retry_after(response.headers)
        return retry_after if retry_after is not None else self._backoff(attempt)

    def _wait(self, delay: float, response: requests.Response | None) -> None:
        if response is not None and response.status_code == 429:
            # Every thread waits, not just this one; acquire() before the next request does the sleeping.
            self.limiter.pause(delay)
        else:
            time.sleep(delay)

    def _send(self, method: str, path: str, payload: Any, attempt: int) -> requests.Response | APIError:
        """One request: the response (any status), or the connection failure worth another attempt.

        A failure that another attempt cannot mend (nothing listens there, a malformed request)
        is raised at once.
        """
        try:
            return self._session.request(
                method,
                self.base_url + path,
                json=payload,
                auth=self._auth,
                timeout=self.timeout,
                # Never follow: a redirect could carry the token to another host, and an
                # http -> https one means the token already crossed the network in clear.
                allow_redirects=False,
            )
        except requests.Timeout:
            return APITimeoutError(
                f"{self.endpoint_id} did not answer {method} {path} within {self.timeout:g} s"
                f"{after_attempts(attempt)}.",
                attempts=attempt,
            )
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            reason = connection_reason(exc, self._key.get())
            nobody = nobody_there(exc)
            if nobody is not None:
                # Nothing listens at that port, or the host name does not resolve: the next
                # attempt gets the same answer (a 503 may not), so say it now, not in 15 s.
                raise APIConnectionError(
                    f"Could not reach {self.endpoint_id}{after_attempts(attempt)} ({reason}). {nobody}",
                    attempts=attempt,
                ) from None
            return APIConnectionError(
                f"Could not reach {self.endpoint_id}{after_attempts(attempt)} ({reason}).", attempts=attempt
            )
        except requests.RequestException as exc:
            raise APIConnectionError(
                f"Request to {self.endpoint_id}{path} failed: {connection_reason(exc, self._key.get())}",
                attempts=attempt,
            ) from None

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
        being slept through. The decisions are :meth:`_should_retry` and :meth:`_retry_delay`.
        """
        retries_left = self.max_retries if max_retries is None else max_retries
        attempt = 0
        while True:
            attempt += 1
            self.limiter.acquire()
            outcome = self._send(method, path, payload, attempt)
            if isinstance(outcome, APIError):  # the connection failed or timed out
                if attempt > retries_left:
                    raise outcome
                self._wait(self._retry_delay(attempt), None)
                continue
            response = outcome
            if response.status_code < 300:
                return response, attempt
            if response.status_code < 400:
                raise redirect_error(response, f"{self.endpoint_id}{path}", self._key.get(), attempt)
            if not self._should_retry(response, attempt=attempt, retries_left=retries_left):
                raise self._status_error(response, path, attempt, model)
            delay = self._retry_delay(attempt, response)
            response.close()
            self._wait(delay, response)

    def _status_error(
        self, response: requests.Response, path: str, attempts: int, model: str | None
    ) -> APIStatusError:
        return status_error(
            response,
            endpoint_id=self.endpoint_id,
            path=path,
            attempts=attempts,
            key=self._key.get(),
            model=model,
            retry_after=parse_retry_after(response.headers),
            retry_after_cap=self.retry_after_cap,
            served_models=lambda: [m.id for m in self.list_models(max_retries=0)],
        )
