"""The one path every provider's ``embed()`` takes: check, dedupe, cache, batch, send, store.

Keeping it in one place means the bundled model and any HTTP endpoint behave the
same: same errors for bad input, same cache, same progress reports, and the same
promise that work already paid for is never lost when a later batch fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .catalog import KNOWN_MODELS
from .errors import EmptyInputError, InputError, InvalidResponseError
from .types import EmbeddingResult, ProgressCallback

if TYPE_CHECKING:
    from .budget import BudgetGuard
    from .cache import EmbeddingCache

__all__ = ["BatchOutput", "Limiter", "SendBatch", "embed_with_cache", "validate_texts"]


@dataclass
class BatchOutput:
    """What one ``send_batch`` call returns.

    Attributes
    ----------
    vectors : ndarray of shape (n_batch, dimensions), float32
        One row per text of the batch, in the batch's order.
    prompt_tokens, total_tokens : int
    requests : int
        Requests made for this batch, retries included.
    retries : int
    token_counts : ndarray of shape (n_batch,), int, or None
        Tokens per text where the provider can tell.
    """

    vectors: np.ndarray
    prompt_tokens: int = 0
    total_tokens: int = 0
    requests: int = 1
    retries: int = 0
    token_counts: np.ndarray | None = None


SendBatch = Callable[[list[str]], BatchOutput]


class Limiter(Protocol):
    def acquire(self) -> float: ...


def validate_texts(texts: Sequence[str]) -> list[str]:
    """Check that ``texts`` is a non-empty list of non-blank strings; return it as a list.

    Raises
    ------
    EmptyInputError
        No texts, or only blank ones.
    InputError
        A single string instead of a list, a non-string item, or one blank text among others
        (APIs refuse empty strings) — the message names its position.
    """
    if isinstance(texts, (str, bytes)):
        raise InputError("Pass a list of texts, not a single string.")
    items = list(texts)
    if not items:
        raise EmptyInputError("There are no texts to embed.")
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise InputError(f"Text #{i + 1} is a {type(text).__name__}, not a string.")
    blank = [i for i, text in enumerate(items) if not text.strip()]
    if len(blank) == len(items):
        raise EmptyInputError("All texts are empty or blank; there is nothing to embed.")
    if blank:
        where = ", ".join(f"#{i + 1}" for i in blank[:5]) + (" …" if len(blank) > 5 else "")
        raise InputError(
            f"{len(blank)} text(s) are empty or blank ({where}); remove them — "
            "embedding APIs refuse empty input."
        )
    return items


def _check_batch(out: BatchOutput, batch: list[str], dims: int | None) -> np.ndarray:
    vectors = np.asarray(out.vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(batch):
        raise InvalidResponseError(
            f"Expected {len(batch)} vectors for a batch of {len(batch)} texts, got an array of shape "
            f"{tuple(vectors.shape)}."
        )
    if dims is not None and vectors.shape[1] != dims:
        raise InvalidResponseError(
            f"Vectors changed length within one call ({dims} then {vectors.shape[1]}). If the endpoint "
            "now serves a different model under this name, clear the cache for it."
        )
    return vectors


def embed_with_cache(
    texts: Sequence[str],
    model: str,
    *,
    endpoint_id: str,
    cache: EmbeddingCache | None,
    send_batch: SendBatch,
    batch_size: int,
    max_concurrency: int = 1,
    progress: ProgressCallback | None = None,
    limiter: Limiter | None = None,
    budget: BudgetGuard | None = None,
) -> EmbeddingResult:
    """Embed ``texts`` with ``model``, sending only what the cache does not already hold.

    Each distinct text is sent once. Finished batches are written to the cache at once
    (in the calling thread), so when a batch fails, the batches before it are kept and
    the next call sends only what is still missing; the failure itself propagates.

    Parameters
    ----------
    texts : sequence of str, length n
    model : str
    endpoint_id : str
        Cache namespace (a normalised URL or ``"local:"``).
    cache : EmbeddingCache or None
        ``None`` disables caching.
    send_batch : callable
        ``send_batch(list_of_texts) -> BatchOutput``; called from worker threads when
        ``max_concurrency > 1``, so it must be thread-safe.
    batch_size : int
        Texts per ``send_batch`` call.
    max_concurrency : int
        Batches in flight at once.
    progress : callable, optional
        ``progress(done, total)`` in input texts, called in the calling thread: once after the
        cache lookup and after every batch.
    limiter : object with ``acquire()``, optional
        Taken once before each ``send_batch`` call. Providers that pace each HTTP attempt
        themselves (:class:`embedcore.EmbeddingClient`) pass ``None``.
    budget : BudgetGuard, optional
        The operator's token's budget (:mod:`embedcore.budget`): the texts not in the cache are
        priced and reserved before anything is sent (:class:`~embedcore.errors.BudgetExceededError`
        when they do not fit), and settled with the tokens the API reported, also on failure.

    Returns
    -------
    EmbeddingResult
        ``vectors`` of shape (n, dimensions), float32, in input order.
    """
    if budget is not None:
        # Checked, reserved and settled around the whole call; the call itself runs without it,
        # its send_batch metered so that only tokens the API reported are charged.
        return budget.embed(
            lambda metered: embed_with_cache(
                texts,
                model,
                endpoint_id=endpoint_id,
                cache=cache,
                send_batch=metered,
                batch_size=batch_size,
                max_concurrency=max_concurrency,
                progress=progress,
                limiter=limiter,
            ),
            texts,
            model,
            endpoint_id=endpoint_id,
            cache=cache,
            send_batch=send_batch,
        )
    start = time.perf_counter()
    items = validate_texts(texts)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    max_concurrency = max(1, int(max_concurrency))

    distinct = list(dict.fromkeys(items))
    positions: dict[str, list[int]] = {}
    for i, text in enumerate(items):
        positions.setdefault(text, []).append(i)

    known: dict[str, np.ndarray] = cache.get_many(endpoint_id, model, distinct) if cache else {}
    missing = [t for t in distinct if t not in known]
    total = len(items)
    done = sum(len(positions[t]) for t in known)
    if progress is not None:
        progress(done, total)

    dims: int | None = None
    for vec in known.values():
        if dims is None:
            dims = int(vec.shape[0])
        elif vec.shape[0] != dims:
            raise InvalidResponseError(
                f"The cache holds vectors of different lengths for model {model!r}; "
                "clear the cache for this model."
            )

    token_of: dict[str, int] = {}
    prompt_tokens = total_tokens = requests = retries = 0
    batches = [missing[i : i + batch_size] for i in range(0, len(missing), batch_size)]

    def run(batch: list[str]) -> BatchOutput:
        if limiter is not None:
            limiter.acquire()
        return send_batch(batch)

    def absorb(batch: list[str], out: BatchOutput) -> None:
        nonlocal dims, prompt_tokens, total_tokens, requests, retries, done
        vectors = _check_batch(out, batch, dims)
        dims = int(vectors.shape[1])
        if cache is not None:
            cache.put_many(endpoint_id, model, batch, vectors)
        for text, vec in zip(batch, vectors, strict=True):
            known[text] = vec
        if out.token_counts is not None:
            token_of.update(zip(batch, (int(c) for c in out.token_counts), strict=True))
        prompt_tokens += int(out.prompt_tokens)
        total_tokens += int(out.total_tokens)
        requests += int(out.requests)
        retries += int(out.retries)
        done += sum(len(positions[t]) for t in batch)
        if progress is not None:
            progress(done, total)

    if max_concurrency == 1 or len(batches) <= 1:
        for batch in batches:
            absorb(batch, run(batch))
    else:
        _run_concurrently(batches, run, absorb, max_concurrency)

    out_vectors = np.empty((total, dims or 0), dtype=np.float32)
    for text, idx in positions.items():
        out_vectors[idx] = known[text]
    token_counts = None
    warnings: list[str] = []
    if token_of and all(t in token_of for t in distinct):
        token_counts = np.array([token_of[t] for t in items], dtype=np.int64)
        limit = KNOWN_MODELS[model].max_input_tokens if model in KNOWN_MODELS else None
        over = int((token_counts > limit).sum()) if limit else 0
        if over:
            warnings.append(
                f"{over} text(s) are longer than {model}'s limit of {limit} tokens; "
                "only their beginning was embedded."
            )
    return EmbeddingResult(
        vectors=out_vectors,
        model=model,
        prompt_tokens=prompt_tokens,
        total_tokens=total_tokens,
        cached=len(distinct) - len(missing),
        fetched=len(missing),
        requests=requests,
        retries=retries,
        elapsed=time.perf_counter() - start,
        token_counts=token_counts,
        warnings=warnings,
    )


def _run_concurrently(
    batches: list[list[str]],
    run: Callable[[list[str]], BatchOutput],
    absorb: Callable[[list[str], BatchOutput], None],
    max_concurrency: int,
) -> None:
    """Keep ``max_concurrency`` batches in flight; absorb results in this thread as they finish.

    Only ``max_concurrency`` futures are submitted at a time (not all of them up front), so
    after a failure nothing new starts; batches already in flight are still absorbed —
    they have been paid for — and then the first error is raised.
    """
    pending = iter(batches)
    in_flight: dict[Future[BatchOutput], list[str]] = {}
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="embed") as pool:

        def submit_next() -> None:
            batch = next(pending, None)
            if batch is not None:
                in_flight[pool.submit(run, batch)] = batch

        for _ in range(max_concurrency):
            submit_next()
        while in_flight:
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for fut in finished:
                batch = in_flight.pop(fut)
                try:
                    absorb(batch, fut.result())
                except BaseException as exc:
                    if error is None:
                        error = exc
                    continue
                if error is None:
                    submit_next()
    if error is not None:
        raise error
