"""A budget on the operator's token: how many tokens visitors may spend on it per UTC day.

A hosted app embeds with its operator's API token; this module keeps that bill bounded::

    settings = BudgetSettings.from_mapping({"tokens_per_visitor_per_day": 50_000})
    guard = BudgetGuard(open_stores().ledger, settings, visitor="ip:203.0.113.7")
    client.embed(texts, model, budget=guard)     # BudgetExceededError before anything is sent

Every action (one ``embed()`` call) is checked **before** anything is sent: the texts the cache
does not hold are priced by :func:`estimate_tokens`, an upper bound of what a tokenizer can make
of them, and that estimate is reserved — atomically, against the visitor's daily budget and the
one all visitors of the endpoint share — or the action is refused with
:class:`~embedcore.errors.BudgetExceededError` (how much is left, when it resets). Afterwards the
reservation is replaced by the tokens the API reported (``usage``), batch by batch as they were
answered, so a failed action is charged only for what was served and its reservation is released.

Counts live in a ledger (:mod:`embedcore.stores.ledger`: a SQLite file beside the embedding
cache, or the team's PostgreSQL database, chosen by :func:`embedcore.stores.storage.open_stores`):
reserving is atomic, so concurrent actions cannot overspend, and a replica killed mid-action
holds its reservation for :data:`~embedcore.stores.ledger.RESERVATION_TTL` seconds at most.
The settings (``[budget]``) are :class:`embedcore.settings.BudgetSettings`.

The bound: tokens served in a day <= the budget + the sum over actions of (tokens the API
reported - the action's estimate), counted only where positive. With :func:`estimate_tokens`
that sum is 0 for WordPiece, SentencePiece and byte-level BPE tokenizers (each token covers at
least one UTF-8 byte of the NFKC-normalised or raw text, plus at most three special pieces), as
long as the endpoint bills no more than a model's input limit per text. The price of a bound
that holds is caution: for English prose the estimate is about 4x what the API then reports, so
an action needs that much room to start; the unused part is back in the budget when it ends.

Usage records — per UTC day, endpoint, visitor and model: texts, tokens, requests and cache
hits — are written with each settlement; :meth:`~embedcore.stores.ledger.Ledger.usage`
reads them for the Usage page.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from embedcore.errors import BudgetExceededError, TooManyTextsError
from embedcore.providers.catalog import KNOWN_MODELS
from embedcore.settings import BudgetSettings
from embedcore.stores.ledger import RESERVATION_TTL, Ledger, Shortfall, day_of

if TYPE_CHECKING:
    from embedcore.providers.pipeline import BatchOutput, SendBatch
    from embedcore.types import EmbeddingResult, ModelInfo, ProgressCallback, Provider

__all__ = [
    "BudgetGuard",
    "BudgetSettings",
    "BudgetStatus",
    "BudgetedProvider",
    "estimate_tokens",
]

#: Pieces a tokenizer may add to a text besides those covering its bytes: [CLS] and [SEP] (BERT),
#: <s> and </s> (XLM-R), and SentencePiece's word-start piece before the first word.
SPECIAL_TOKENS = 3


# --- the estimate ---------------------------------------------------------------------------------


def estimate_tokens(texts: Sequence[str], model: str) -> list[int]:
    """An upper bound of the tokens each text costs, known before anything is sent.

    Per text: UTF-8 bytes of the text or of its NFKC form, whichever is longer, plus
    :data:`SPECIAL_TOKENS`; at most the model's input limit when the catalogue knows it (a model
    embeds no more). Why a bound holds: every WordPiece or SentencePiece token covers at least
    one character of the (NFKC-normalised) text and every byte-level BPE token at least one
    byte, and a character is at least one byte. For English prose it is about 4x the true count
    (``bench`` has no row: the ratio is a property of the text, 1.0 for runs of punctuation).

    Returns
    -------
    list of int, one per text
    """
    info = KNOWN_MODELS.get(model)
    cap = info.max_input_tokens if info is not None else None
    counts = []
    for text in texts:
        raw = len(text.encode("utf-8", "surrogatepass"))
        normalised = len(unicodedata.normalize("NFKC", text).encode("utf-8", "surrogatepass"))
        n = max(raw, normalised) + SPECIAL_TOKENS
        counts.append(min(n, cap) if cap else n)
    return counts


# --- time -----------------------------------------------------------------------------------------


def _next_midnight(now: float) -> datetime:
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)


# --- the guard ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetStatus:
    """Where a visitor stands today on one endpoint.

    Attributes
    ----------
    used : int
        The visitor's tokens today (spent, plus held by actions in flight).
    left : int
        What the visitor may still spend: their own remainder, or less when the budget all
        visitors share has less left.
    limit : int
        The visitor's daily budget.
    resets_at : datetime
        The next UTC midnight.
    """

    used: int
    left: int
    limit: int
    resets_at: datetime


class _Meter:
    """Wraps ``send_batch``: counts the tokens, requests and texts the API answered (thread-safe)."""

    def __init__(self, send_batch: SendBatch, estimates: dict[str, int]) -> None:
        self._send = send_batch
        self._estimates = estimates
        self._lock = threading.Lock()
        self.tokens = self.requests = self.sent = 0

    def __call__(self, batch: list[str]) -> BatchOutput:
        try:
            out = self._send(batch)
        except BaseException as exc:
            with self._lock:
                self.requests += int(getattr(exc, "attempts", 1) or 1)
            raise
        tokens = max(int(out.total_tokens), int(out.prompt_tokens))
        if tokens <= 0:
            # An endpoint that reports no usage is charged the bound, not nothing.
            tokens = sum(self._estimates.get(t, 0) for t in batch)
        with self._lock:
            self.tokens += tokens
            self.requests += int(out.requests)
            self.sent += len(batch)
        return out


class BudgetGuard:
    """One visitor's spending on the operator's token, checked against the day's budgets.

    Pass it to a provider's ``embed(..., budget=guard)``; the pipeline hands each action to
    :meth:`embed`. Thread-safe and cheap: build one per visitor (or per request).

    Parameters
    ----------
    ledger : Ledger
    settings : BudgetSettings
    visitor : str
        Who spends (the dashboard: ``email:...``, ``ip:...`` or ``session:...``).
    clock : callable
        Seconds since the epoch; injected by tests (the day is the UTC date of it).
    """

    def __init__(
        self,
        ledger: Ledger,
        settings: BudgetSettings,
        visitor: str,
        *,
        clock: Callable[[], float] = time.time,
        reservation_ttl: float = RESERVATION_TTL,
    ) -> None:
        if not visitor:
            raise ValueError("A budget guard needs a visitor id.")
        self.ledger = ledger
        self.settings = settings
        self.visitor = str(visitor)
        self._clock = clock
        self._ttl = float(reservation_ttl)

    def __repr__(self) -> str:
        return f"BudgetGuard(visitor={self.visitor!r}, {self.settings})"

    def status(self, endpoint_id: str) -> BudgetStatus:
        """The visitor's tokens today on ``endpoint_id`` and what is left of them."""
        now = self._clock()
        mine, everyone = self.ledger.spent(
            day=day_of(now), endpoint=endpoint_id, visitor=self.visitor, now=now
        )
        s = self.settings
        left = max(0, min(s.tokens_per_visitor_per_day - mine, s.tokens_per_day - everyone))
        return BudgetStatus(
            used=mine, left=left, limit=s.tokens_per_visitor_per_day, resets_at=_next_midnight(now)
        )

    def check_count(self, n_texts: int) -> None:
        """Refuse an action of more texts than ``max_texts_per_request`` (:class:`TooManyTextsError`)."""
        limit = self.settings.max_texts_per_request
        if n_texts > limit:
            raise TooManyTextsError(
                f"{n_texts:,} texts is more than the {limit:,} one action may embed with the app's API "
                "token; embed a smaller selection, or use your own API token, which has no such limit."
            )

    def embed(
        self,
        run: Callable[[SendBatch], EmbeddingResult],
        texts: Sequence[str],
        model: str,
        *,
        endpoint_id: str,
        cache: Any,
        send_batch: SendBatch,
    ) -> EmbeddingResult:
        """Run one action within the budget: check, reserve, ``run(metered send_batch)``, settle.

        The texts are looked up in ``cache`` here to price only those it lacks; ``run`` (the
        pipeline without a budget) looks them up again, so texts another replica stores in
        between cost nothing either. Settled in a ``finally`` with the tokens the API reported
        for the batches it answered: a failed action's reservation is released.

        Raises
        ------
        InputError, TooManyTextsError
            Bad input, or more texts than one action may embed.
        BudgetExceededError
            The estimate does not fit what is left today; nothing was sent.
        """
        from embedcore.providers.pipeline import validate_texts

        items = validate_texts(texts)
        self.check_count(len(items))
        distinct = list(dict.fromkeys(items))
        known = cache.get_many(endpoint_id, model, distinct) if cache is not None else {}
        missing = [t for t in distinct if t not in known]
        estimates = dict(zip(missing, estimate_tokens(missing, model), strict=True))
        needed = sum(estimates.values())
        now = self._clock()
        day = day_of(now)
        reservation: str | None = None
        if needed:
            held = self.ledger.reserve(
                day=day,
                endpoint=endpoint_id,
                visitor=self.visitor,
                tokens=needed,
                visitor_limit=self.settings.tokens_per_visitor_per_day,
                endpoint_limit=self.settings.tokens_per_day,
                now=now,
                ttl=self._ttl,
            )
            if isinstance(held, Shortfall):
                raise self._exceeded(held, needed, now)
            reservation = held
        meter = _Meter(send_batch, estimates)
        try:
            return run(meter)
        finally:
            self.ledger.settle(
                reservation,
                day=day,
                endpoint=endpoint_id,
                visitor=self.visitor,
                model=model,
                tokens=meter.tokens,
                texts=len(distinct),
                requests=meter.requests,
                cache_hits=len(distinct) - meter.sent,
            )

    def _exceeded(self, short: Shortfall, needed: int, now: float) -> BudgetExceededError:
        left = max(0, short.limit - short.used)
        resets = _next_midnight(now)
        minutes = max(1, round((resets.timestamp() - now) / 60))
        whose = (
            f"you have {left:,} of your {short.limit:,} tokens left today"
            if short.scope == "visitor"
            else f"all visitors together have {left:,} of the {short.limit:,} tokens they share left today"
        )
        return BudgetExceededError(
            f"This needs up to {needed:,} tokens of the app's API token, but {whose}. The budget resets "
            f"at midnight UTC ({resets:%Y-%m-%d %H:%M} UTC, in {minutes // 60} h {minutes % 60:02d} min). "
            "Your own API token is not limited by it. Nothing was sent.",
            scope=short.scope,
            limit=short.limit,
            used=short.used,
            left=left,
            needed=needed,
            resets_at=resets,
        )


class BudgetedProvider:
    """A provider whose every ``embed()`` is checked against ``guard``; all else passes through.

    What a hosted app hands its pages instead of the provider that carries the operator's token,
    so every path that embeds — the pages' own calls and :mod:`embedcore.analysis.search`'s — is counted.
    """

    def __init__(self, provider: Provider, guard: BudgetGuard) -> None:
        self.provider = provider
        self.guard = guard

    def __repr__(self) -> str:
        return f"BudgetedProvider({self.provider!r}, {self.guard!r})"

    @property
    def endpoint_id(self) -> str:
        return self.provider.endpoint_id

    def list_models(self) -> list[ModelInfo]:
        return self.provider.list_models()

    def embed(
        self,
        texts: Sequence[str],
        model: str,
        *,
        progress: ProgressCallback | None = None,
        budget: BudgetGuard | None = None,
    ) -> EmbeddingResult:
        return self.provider.embed(texts, model, progress=progress, budget=budget or self.guard)

    def __getattr__(self, name: str) -> Any:
        # cache, batch_size, check_connection, ...: the wrapped provider's own.
        return getattr(self.provider, name)
