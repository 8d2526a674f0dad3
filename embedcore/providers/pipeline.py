"""The one path every provider's ``embed()`` takes: check, dedupe, cache, batch, send, store.

Keeping it in one place means the bundled model and any HTTP endpoint behave the
same: same errors for bad input, same cache, same progress reports, and the same
promise that work already paid for is never lost when a later batch fails.

Several processes sharing one cache (app replicas on one PostgreSQL, or processes on one
SQLite file) embedding the same texts at once pay for each text once: right before each batch
the cache is asked again and the batch's texts are *claimed* in it
(:meth:`embedcore.stores.cache.EmbeddingCache.claim`); a text another caller has claimed is not sent
but waited for, and taken from the cache once stored. Claims are renewed while a call works,
released as each batch is stored or when the call fails, and expire when a process dies.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from embedcore.errors import EmptyInputError, InputError, InvalidResponseError
from embedcore.providers.catalog import KNOWN_MODELS
from embedcore.types import EmbeddingResult, ProgressCallback, texts_are

if TYPE_CHECKING:
    from embedcore.providers.budget import BudgetGuard
    from embedcore.stores.cache import ClaimResult, EmbeddingCache

logger = logging.getLogger(__name__)

#: Texts looked at per claim: a few batches' worth, so texts others hold are skipped in one
#: round trip and the cache is never asked about the whole call again per batch.
_WINDOW_BATCHES = 4
#: Waiting for texts another process is fetching: first look after this, doubling up to the cap.
_POLL_FIRST, _POLL_MAX = 0.05, 1.0

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
            f"{texts_are(len(blank))} empty or blank ({where}); remove {'it' if len(blank) == 1 else 'them'} — "
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


class _Unshared:
    """No claims: without a cache (or one that cannot claim) every missing text is this call's."""

    def __init__(self, cache: Any, endpoint_id: str, model: str) -> None:
        self.cache, self.endpoint_id, self.model = cache, endpoint_id, model

    def claim(self, texts: list[str], limit: int) -> ClaimResult:
        from embedcore.stores.cache import ClaimResult

        return ClaimResult(claimed=texts[:limit], free=texts[limit:])

    def store(self, texts: list[str], vectors: np.ndarray) -> None:
        if self.cache is not None:
            self.cache.put_many(self.endpoint_id, self.model, texts, vectors)

    def close(self) -> None:
        pass


class _Claims:
    """This call's claims in a shared cache: one owner id, renewed in the background while held."""

    def __init__(self, cache: Any, endpoint_id: str, model: str) -> None:
        self.cache, self.endpoint_id, self.model = cache, endpoint_id, model
        self.owner = uuid.uuid4().hex
        self.held: set[str] = set()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def claim(self, texts: list[str], limit: int) -> ClaimResult:
        result = self.cache.claim(self.endpoint_id, self.model, texts, owner=self.owner, limit=limit)
        if result.claimed:
            self.held.update(result.claimed)
            if self._heartbeat is None:
                self._heartbeat = threading.Thread(target=self._renew, name="embed-claims", daemon=True)
                self._heartbeat.start()
        return result

    def _renew(self) -> None:
        # A third of the time to live: two renewals may fail (a slow database) before a claim lapses.
        while not self._stop.wait(self.cache.claim_ttl / 3):
            if self.held:
                try:
                    self.cache.renew(self.owner)
                except Exception as exc:  # the embedding thread meets the same database and reports it
                    logger.warning("could not renew claims: %s", exc)

    def store(self, texts: list[str], vectors: np.ndarray) -> None:
        """Store the vectors and release their claims in one transaction: a waiter finds them."""
        self.cache.put_many(self.endpoint_id, self.model, texts, vectors, release=self.owner)
        self.held.difference_update(texts)

    def close(self) -> None:
        """Stop renewing and release what is still held (after a failure: others may take it now)."""
        self._stop.set()
        if self.held:
            try:
                self.cache.release(self.endpoint_id, self.model, self.owner)
            except Exception as exc:
                # Never hide the error that brought us here; the claims expire on their own.
                logger.warning("could not release claims (they expire by themselves): %s", exc)
            self.held.clear()


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

    With a cache, the texts of each batch are looked up again and claimed right before it is
    sent, so that other processes (or threads) embedding the same texts at the same moment do
    not send them too; texts they have claimed are waited for (polling the cache at 50 ms,
    backing off to 1 s) and taken from the cache once they are stored — or sent here after all,
    if their claim is released unstored or expires.

    Parameters
    ----------
    texts : sequence of str, length n
    model : str
    endpoint_id : str
        Cache namespace (a normalised URL or ``"local:"``).
    cache : EmbeddingCache or None
        ``None`` disables caching. A cache without ``claim`` is looked up once, before the
        first batch, and every batch planned then is sent.
    send_batch : callable
        ``send_batch(list_of_texts) -> BatchOutput``; called from worker threads when
        ``max_concurrency > 1``, so it must be thread-safe.
    batch_size : int
        Texts per ``send_batch`` call.
    max_concurrency : int
        Batches in flight at once.
    progress : callable, optional
        ``progress(done, total)`` in input texts, called in the calling thread: once after the
        cache lookup, after every batch, and whenever texts another process fetched arrive.
    limiter : object with ``acquire()``, optional
        Taken once before each ``send_batch`` call. Providers that pace each HTTP attempt
        themselves (:class:`embedcore.EmbeddingClient`) pass ``None``.
    budget : BudgetGuard, optional
        The operator's token's budget (:mod:`embedcore.providers.budget`): the texts not in the cache are
        priced and reserved before anything is sent (:class:`~embedcore.errors.BudgetExceededError`
        when they do not fit), and settled with the tokens the API reported, also on failure.

    Returns
    -------
    EmbeddingResult
        ``vectors`` of shape (n, dimensions), float32, in input order. ``fetched``: texts this
        call sent; ``cached``: the other distinct texts (found in the cache, or fetched by
        another process while this one waited).
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
    prompt_tokens = total_tokens = requests = retries = sent = 0
    # Insertion-ordered sets: texts still to claim, and texts another caller is fetching.
    pending: dict[str, None] = dict.fromkeys(t for t in distinct if t not in known)
    waiting: dict[str, None] = {}
    claims: _Claims | _Unshared = (
        _Claims(cache, endpoint_id, model)
        if cache is not None and hasattr(cache, "claim")
        else _Unshared(cache, endpoint_id, model)
    )

    def report() -> None:
        if progress is not None:
            progress(done, total)

    def take_stored(batch: list[str]) -> None:
        """Vectors another caller stored for ``batch``; a text gone again (evicted) is pending once more."""
        nonlocal dims, done
        found = cache.get_many(endpoint_id, model, batch) if cache is not None else {}
        for text in batch:
            vec = found.get(text)
            if vec is None:
                pending[text] = None
                continue
            if dims is not None and vec.shape[0] != dims:
                raise InvalidResponseError(
                    f"Vectors changed length within one call ({dims} then {vec.shape[0]}). If the endpoint "
                    "now serves a different model under this name, clear the cache for it."
                )
            dims = int(vec.shape[0])
            known[text] = vec
            done += len(positions[text])
        report()

    def sort_out(result: ClaimResult, source: dict[str, None]) -> None:
        for text in itertools.chain(result.claimed, result.stored, result.busy):
            source.pop(text, None)
        for text in result.busy:
            waiting[text] = None
        if result.stored:
            take_stored(result.stored)

    def next_batches(slots: int) -> list[list[str]]:
        """Up to ``slots`` batches of texts claimed for this call, in one claim when it can be
        (the round trip is paid once for all free slots, as at the start); [] when none can be
        claimed now."""
        want = slots * batch_size
        claimed: list[str] = []
        while pending and len(claimed) < want:
            window = list(itertools.islice(pending, max(want, batch_size * _WINDOW_BATCHES)))
            result = claims.claim(window, want - len(claimed))
            sort_out(result, pending)
            claimed += result.claimed
        return [claimed[i : i + batch_size] for i in range(0, len(claimed), batch_size)]

    def poll() -> bool:
        """Look at the texts waited for: stored ones are taken, abandoned ones become pending."""
        result = claims.claim(list(waiting), 0)
        sort_out(result, waiting)
        for text in result.free:  # released unstored (the other call failed) or expired
            del waiting[text]
            pending[text] = None
        return bool(result.stored or result.free)

    def run(batch: list[str]) -> BatchOutput:
        if limiter is not None:
            limiter.acquire()
        return send_batch(batch)

    def absorb(batch: list[str], out: BatchOutput) -> None:
        nonlocal dims, prompt_tokens, total_tokens, requests, retries, done, sent
        vectors = _check_batch(out, batch, dims)
        dims = int(vectors.shape[1])
        claims.store(batch, vectors)
        for text, vec in zip(batch, vectors, strict=True):
            known[text] = vec
        if out.token_counts is not None:
            token_of.update(zip(batch, (int(c) for c in out.token_counts), strict=True))
        prompt_tokens += int(out.prompt_tokens)
        total_tokens += int(out.total_tokens)
        requests += int(out.requests)
        retries += int(out.retries)
        sent += len(batch)
        done += sum(len(positions[t]) for t in batch)
        report()

    try:
        if max_concurrency == 1 or len(pending) <= batch_size:  # a lone batch runs in this thread
            _run_in_turn(next_batches, poll, waiting, run, absorb)
        else:
            _run_concurrently(next_batches, poll, waiting, run, absorb, max_concurrency)
    finally:
        claims.close()

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
                f"{texts_are(over)} longer than {model}'s limit of {limit} tokens; "
                f"only {'its' if over == 1 else 'their'} beginning was embedded."
            )
    return EmbeddingResult(
        vectors=out_vectors,
        model=model,
        prompt_tokens=prompt_tokens,
        total_tokens=total_tokens,
        cached=len(distinct) - sent,
        fetched=sent,
        requests=requests,
        retries=retries,
        elapsed=time.perf_counter() - start,
        token_counts=token_counts,
        warnings=warnings,
    )


class _Backoff:
    """Sleeps between looks at texts others are fetching: 50 ms doubling to 1 s, reset on news."""

    def __init__(self) -> None:
        self.delay = _POLL_FIRST

    def reset(self) -> None:
        self.delay = _POLL_FIRST

    def next(self) -> float:
        delay, self.delay = self.delay, min(_POLL_MAX, self.delay * 2)
        return delay


def _run_in_turn(
    next_batches: Callable[[int], list[list[str]]],
    poll: Callable[[], bool],
    waiting: dict[str, None],
    run: Callable[[list[str]], BatchOutput],
    absorb: Callable[[list[str], BatchOutput], None],
) -> None:
    """One batch at a time, in the calling thread (the bundled model runs a lone batch on every core)."""
    backoff = _Backoff()
    while True:
        batches = next_batches(1)
        if batches:
            absorb(batches[0], run(batches[0]))
        elif waiting:
            time.sleep(backoff.next())
            if poll():
                backoff.reset()
        else:
            return


def _run_concurrently(
    next_batches: Callable[[int], list[list[str]]],
    poll: Callable[[], bool],
    waiting: dict[str, None],
    run: Callable[[list[str]], BatchOutput],
    absorb: Callable[[list[str], BatchOutput], None],
    max_concurrency: int,
) -> None:
    """Keep ``max_concurrency`` batches in flight; absorb results in this thread as they finish.

    Batches are claimed as slots free up (not all up front), so after a failure
    nothing new starts; batches already in flight are still absorbed — they have been paid
    for — and then the first error is raised. While texts others fetch are awaited, they are
    looked at between finished batches, or after a backing-off sleep when nothing is in flight.
    """
    in_flight: dict[Future[BatchOutput], list[str]] = {}
    error: BaseException | None = None
    backoff = _Backoff()
    with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="embed") as pool:
        while True:
            if error is None and len(in_flight) < max_concurrency:
                try:
                    for batch in next_batches(max_concurrency - len(in_flight)):
                        in_flight[pool.submit(run, batch)] = batch
                except BaseException as exc:
                    error = exc
            finished: set[Future[BatchOutput]] = set()
            if in_flight:
                timeout = backoff.next() if waiting and error is None else None
                finished, _ = wait(in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
            elif error is None and waiting:
                time.sleep(backoff.next())
            else:
                break
            for fut in finished:
                batch = in_flight.pop(fut)
                try:
                    absorb(batch, fut.result())
                except BaseException as exc:
                    error = error or exc
            if error is None and waiting and not finished:
                try:
                    if poll():
                        backoff.reset()
                except BaseException as exc:
                    error = exc
    if error is not None:
        raise error
