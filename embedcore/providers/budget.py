"""A budget on the operator's token: how many tokens visitors may spend on it per UTC day.

A hosted app embeds with its operator's API token; this module keeps that bill bounded::

    settings = BudgetSettings.from_mapping({"tokens_per_visitor_per_day": 50_000})
    guard = BudgetGuard(open_ledger(), settings, visitor="ip:203.0.113.7")
    client.embed(texts, model, budget=guard)     # BudgetExceededError before anything is sent

Every action (one ``embed()`` call) is checked **before** anything is sent: the texts the cache
does not hold are priced by :func:`estimate_tokens`, an upper bound of what a tokenizer can make
of them, and that estimate is reserved — atomically, against the visitor's daily budget and the
one all visitors of the endpoint share — or the action is refused with
:class:`~embedcore.errors.BudgetExceededError` (how much is left, when it resets). Afterwards the
reservation is replaced by the tokens the API reported (``usage``), batch by batch as they were
answered, so a failed action is charged only for what was served and its reservation is released.

Counts live in a :class:`SQLiteLedger` (a file beside the embedding cache) or, when the team
database is configured, a :class:`PostgresLedger` (schema version 2 of :mod:`embedcore.stores.database`):
all replicas share one budget and a restart does not reset it. Reserving is one transaction that
holds a lock — SQLite's ``BEGIN IMMEDIATE``; PostgreSQL's ``SELECT ... FOR UPDATE`` on the
endpoint's row, then the visitor's — so concurrent actions cannot overspend. A replica killed
mid-action holds its reservation for :data:`RESERVATION_TTL` seconds at most.

The bound: tokens served in a day <= the budget + the sum over actions of (tokens the API
reported - the action's estimate), counted only where positive. With :func:`estimate_tokens`
that sum is 0 for WordPiece, SentencePiece and byte-level BPE tokenizers (each token covers at
least one UTF-8 byte of the NFKC-normalised or raw text, plus at most three special pieces), as
long as the endpoint bills no more than a model's input limit per text. The price of a bound
that holds is caution: for English prose the estimate is about 4x what the API then reports, so
an action needs that much room to start; the unused part is back in the budget when it ends.

Usage records — per UTC day, endpoint, visitor and model: texts, tokens, requests and cache
hits — are written with each settlement; :meth:`SQLiteLedger.usage` reads them for the Usage page.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedcore.errors import BudgetExceededError, ConfigurationError, TooManyTextsError
from embedcore.providers.catalog import KNOWN_MODELS

if TYPE_CHECKING:
    import pandas as pd

    from embedcore.providers.pipeline import BatchOutput, SendBatch
    from embedcore.stores.database import Database
    from embedcore.types import EmbeddingResult, ModelInfo, ProgressCallback, Provider

__all__ = [
    "BUDGET_FILENAME",
    "ENV_PREFIX",
    "RESERVATION_TTL",
    "BudgetGuard",
    "BudgetSettings",
    "BudgetStatus",
    "BudgetedProvider",
    "PostgresLedger",
    "SQLiteLedger",
    "UsageRecord",
    "estimate_tokens",
    "open_ledger",
    "settings_from_env",
    "usage_frame",
]

#: The ledger's file, beside the embedding cache in ``$EMBEDCORE_CACHE_DIR``.
BUDGET_FILENAME = "budget.sqlite3"
#: Environment alternative of the ``[budget]`` secrets: ``EMBEDCORE_BUDGET_TOKENS_PER_DAY``, ...
ENV_PREFIX = "EMBEDCORE_BUDGET_"
#: Seconds a reservation holds when its action never settles (its process was killed). Longer
#: than an action of 20,000 texts takes at IONOS' 5 requests/s (about a minute), with margin.
RESERVATION_TTL = 1800.0
#: Pieces a tokenizer may add to a text besides those covering its bytes: [CLS] and [SEP] (BERT),
#: <s> and </s> (XLM-R), and SentencePiece's word-start piece before the first word.
SPECIAL_TOKENS = 3
#: The visitor key of the row that holds the endpoint's total (real visitor ids carry a prefix).
_ALL_VISITORS = ""


# --- settings -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetSettings:
    """The ``[budget]`` section: tokens of the operator's token visitors may spend.

    Attributes
    ----------
    tokens_per_visitor_per_day : int
        Per visitor and UTC day. 0: the operator's token is not offered at all.
    tokens_per_day : int
        All visitors together, per endpoint and UTC day. 0: not offered either.
    max_texts_per_request : int
        Texts in one action (one ``embed()`` call), at least 1.
    """

    tokens_per_visitor_per_day: int = 50_000
    tokens_per_day: int = 2_000_000
    max_texts_per_request: int = 2_000

    @property
    def offered(self) -> bool:
        """Whether visitors may use the operator's token at all."""
        return self.tokens_per_visitor_per_day > 0 and self.tokens_per_day > 0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, where: str = "[budget]") -> BudgetSettings:
        """Settings from a mapping (the secrets' ``[budget]`` table); missing keys keep their default.

        Raises
        ------
        ConfigurationError
            Naming the key: an unknown key, a value that is not a whole number, a negative one,
            or ``max_texts_per_request`` below 1.
        """
        if not isinstance(values, Mapping):
            raise ConfigurationError(f"{where} must be a table of settings, not {type(values).__name__}.")
        names = [f.name for f in fields(cls)]
        for key in values:
            if key not in names:
                raise ConfigurationError(
                    f"{where} has an unknown setting {str(key)!r}; the settings are {', '.join(names)}."
                )
        parsed = {key: _whole_number(f"{where} {key}", value) for key, value in values.items()}
        if parsed.get("max_texts_per_request", 1) < 1:
            raise ConfigurationError(f"{where} max_texts_per_request must be at least 1.")
        return cls(**parsed)


def _whole_number(name: str, value: Any) -> int:
    """``value`` as a non-negative int, or a ConfigurationError naming ``name``."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        text = value.strip().replace("_", "")
        if text.lstrip("-").isdigit():
            number = int(text)
    if number is None:
        raise ConfigurationError(f"{name} must be a whole number of tokens or texts, not {value!r}.")
    if number < 0:
        raise ConfigurationError(f"{name} must not be negative (got {number}); 0 switches it off.")
    return number


def settings_from_env(environ: Mapping[str, str] | None = None) -> BudgetSettings | None:
    """Settings from ``EMBEDCORE_BUDGET_*`` variables, or None when none is set (no budget).

    Raises
    ------
    ConfigurationError
        As :meth:`BudgetSettings.from_mapping`, naming the variable.
    """
    environ = os.environ if environ is None else environ
    values = {
        name[len(ENV_PREFIX) :].lower(): value
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX) and value.strip()
    }
    if not values:
        return None
    names = {f.name for f in fields(BudgetSettings)}
    for key in values:
        if key not in names:
            raise ConfigurationError(
                f"{ENV_PREFIX}{key.upper()} is not a budget setting; the settings are "
                + ", ".join(ENV_PREFIX + n.upper() for n in sorted(names))
                + "."
            )
    return BudgetSettings.from_mapping(values, where="The environment's " + ENV_PREFIX.rstrip("_") + "_*:")


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


def _day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).date().isoformat()


def _next_midnight(now: float) -> datetime:
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)


# --- records --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageRecord:
    """One row of the Usage page: what a visitor spent on one model and endpoint in one UTC day."""

    day: str
    endpoint: str
    visitor: str
    model: str
    texts: int
    tokens: int
    requests: int
    cache_hits: int


@dataclass(frozen=True)
class _Shortfall:
    scope: str
    limit: int
    used: int


def usage_frame(records: Sequence[UsageRecord]) -> pd.DataFrame:
    """The records as a table (newest day first), with the columns the Usage page and its CSV show."""
    import pandas as pd

    columns = [f.name for f in fields(UsageRecord)]
    return pd.DataFrame([asdict(r) for r in records], columns=columns)


# --- the stores -----------------------------------------------------------------------------------


class _Ledger:
    """The SQL both stores share; a subclass supplies the transaction, the placeholder and the lock."""

    #: The driver's parameter placeholder.
    _mark = "?"

    @contextmanager
    def _transaction(self) -> Iterator[Any]:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self._mark)

    def _lock_rows(self, conn: Any, day: str, endpoint: str, visitor: str) -> dict[str, int]:
        """Create the endpoint's and the visitor's rows of ``day`` if needed; return their tokens."""
        for who in (_ALL_VISITORS, visitor):
            conn.execute(
                self._sql(
                    "INSERT INTO embedcore_budget_spent (day, endpoint, visitor, tokens) VALUES (?, ?, ?, 0) "
                    "ON CONFLICT (day, endpoint, visitor) DO NOTHING"
                ),
                (day, endpoint, who),
            )
        rows = conn.execute(
            self._sql(
                "SELECT visitor, tokens FROM embedcore_budget_spent WHERE day = ? AND endpoint = ? "
                "AND visitor IN (?, ?) ORDER BY visitor" + self._for_update
            ),
            (day, endpoint, _ALL_VISITORS, visitor),
        ).fetchall()
        return {who: int(tokens) for who, tokens in rows}

    #: Appended to the locking SELECT (PostgreSQL); SQLite's BEGIN IMMEDIATE already holds the file.
    _for_update = ""

    def reserve(
        self,
        *,
        day: str,
        endpoint: str,
        visitor: str,
        tokens: int,
        visitor_limit: int,
        endpoint_limit: int,
        now: float,
        ttl: float = RESERVATION_TTL,
    ) -> str | _Shortfall:
        """Hold ``tokens`` for an action if both budgets have room: the reservation's id, else why not."""
        with self._transaction() as conn:
            spent = self._lock_rows(conn, day, endpoint, visitor)
            conn.execute(
                self._sql(
                    "DELETE FROM embedcore_budget_reservations WHERE day = ? AND endpoint = ? AND expires < ?"
                ),
                (day, endpoint, now),
            )
            held_all, held_mine = conn.execute(
                self._sql(
                    "SELECT COALESCE(SUM(tokens), 0), COALESCE(SUM(CASE WHEN visitor = ? THEN tokens ELSE 0 END), 0) "
                    "FROM embedcore_budget_reservations WHERE day = ? AND endpoint = ?"
                ),
                (visitor, day, endpoint),
            ).fetchone()
            mine = spent.get(visitor, 0) + int(held_mine)
            everyone = spent.get(_ALL_VISITORS, 0) + int(held_all)
            if tokens > visitor_limit - mine:
                return _Shortfall("visitor", visitor_limit, mine)
            if tokens > endpoint_limit - everyone:
                return _Shortfall("endpoint", endpoint_limit, everyone)
            reservation = uuid.uuid4().hex
            conn.execute(
                self._sql(
                    "INSERT INTO embedcore_budget_reservations (id, day, endpoint, visitor, tokens, expires) "
                    "VALUES (?, ?, ?, ?, ?, ?)"
                ),
                (reservation, day, endpoint, visitor, int(tokens), now + ttl),
            )
        return reservation

    def settle(
        self,
        reservation: str | None,
        *,
        day: str,
        endpoint: str,
        visitor: str,
        model: str,
        tokens: int,
        texts: int,
        requests: int,
        cache_hits: int,
    ) -> None:
        """Replace a reservation by the tokens spent and add the action to the usage records.

        The spent rows are updated before the reservation is deleted: the same order in which
        :meth:`reserve` locks them, so two transactions never wait for each other crosswise.
        """
        with self._transaction() as conn:
            for who in (_ALL_VISITORS, visitor):
                conn.execute(
                    self._sql(
                        "INSERT INTO embedcore_budget_spent (day, endpoint, visitor, tokens) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (day, endpoint, visitor) DO UPDATE "
                        "SET tokens = embedcore_budget_spent.tokens + excluded.tokens"
                    ),
                    (day, endpoint, who, int(tokens)),
                )
            if reservation is not None:
                conn.execute(
                    self._sql("DELETE FROM embedcore_budget_reservations WHERE id = ?"), (reservation,)
                )
            conn.execute(
                self._sql(
                    "INSERT INTO embedcore_budget_usage "
                    "(day, endpoint, visitor, model, texts, tokens, requests, cache_hits) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, endpoint, visitor, model) DO UPDATE SET "
                    "texts = embedcore_budget_usage.texts + excluded.texts, "
                    "tokens = embedcore_budget_usage.tokens + excluded.tokens, "
                    "requests = embedcore_budget_usage.requests + excluded.requests, "
                    "cache_hits = embedcore_budget_usage.cache_hits + excluded.cache_hits"
                ),
                (day, endpoint, visitor, model, int(texts), int(tokens), int(requests), int(cache_hits)),
            )

    def spent(self, *, day: str, endpoint: str, visitor: str, now: float) -> tuple[int, int]:
        """``(visitor's tokens, everyone's tokens)`` of ``day``: spent plus held by actions in flight."""
        with self._transaction() as conn:
            rows = dict(
                conn.execute(
                    self._sql(
                        "SELECT visitor, tokens FROM embedcore_budget_spent WHERE day = ? AND endpoint = ? "
                        "AND visitor IN (?, ?)"
                    ),
                    (day, endpoint, _ALL_VISITORS, visitor),
                ).fetchall()
            )
            held_all, held_mine = conn.execute(
                self._sql(
                    "SELECT COALESCE(SUM(tokens), 0), COALESCE(SUM(CASE WHEN visitor = ? THEN tokens ELSE 0 END), 0) "
                    "FROM embedcore_budget_reservations WHERE day = ? AND endpoint = ? AND expires >= ?"
                ),
                (visitor, day, endpoint, now),
            ).fetchone()
        return int(rows.get(visitor, 0)) + int(held_mine), int(rows.get(_ALL_VISITORS, 0)) + int(held_all)

    def usage(self, since: str | None = None) -> list[UsageRecord]:
        """Usage records from UTC day ``since`` (``YYYY-MM-DD``, default all), newest day first."""
        with self._transaction() as conn:
            rows = conn.execute(
                self._sql(
                    "SELECT day, endpoint, visitor, model, texts, tokens, requests, cache_hits "
                    "FROM embedcore_budget_usage WHERE day >= ? ORDER BY day DESC, visitor, model, endpoint"
                ),
                (since or "",),
            ).fetchall()
        return [UsageRecord(r[0], r[1], r[2], r[3], *(int(v) for v in r[4:])) for r in rows]


_SQLITE_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS embedcore_budget_spent (
        day TEXT NOT NULL, endpoint TEXT NOT NULL, visitor TEXT NOT NULL,
        tokens INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, endpoint, visitor)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS embedcore_budget_reservations (
        id TEXT PRIMARY KEY, day TEXT NOT NULL, endpoint TEXT NOT NULL, visitor TEXT NOT NULL,
        tokens INTEGER NOT NULL, expires REAL NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS embedcore_budget_reservations_by_day "
    "ON embedcore_budget_reservations (day, endpoint, visitor)",
    """
    CREATE TABLE IF NOT EXISTS embedcore_budget_usage (
        day TEXT NOT NULL, endpoint TEXT NOT NULL, visitor TEXT NOT NULL, model TEXT NOT NULL,
        texts INTEGER NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0, cache_hits INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, endpoint, visitor, model)
    )
    """,
)


class SQLiteLedger(_Ledger):
    """The budget's counts in one SQLite file, shared by the processes of one machine.

    Every operation opens its own connection (a fraction of a millisecond) and runs in one
    ``BEGIN IMMEDIATE`` transaction, which takes the file's write lock at once: reservations of
    every thread and process queue there. Safe after ``os.fork``.

    Parameters
    ----------
    path : str or Path, optional
        Default: :data:`BUDGET_FILENAME` beside the embedding cache (``$EMBEDCORE_CACHE_DIR``).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            from embedcore.stores.cache import default_cache_path

            path = default_cache_path().parent / BUDGET_FILENAME
        self.path = Path(path).expanduser()
        self._created = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SQLiteLedger(path={str(self.path)!r})"

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigurationError(
                f"Cannot open the budget's file at {self.path}: {exc}. Set EMBEDCORE_CACHE_DIR to a "
                "writable folder."
            ) from exc
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            # As the cache: in WAL mode a commit need not wait for the disk (a power cut may lose
            # the last commits, never corrupt the file); per connection, since it is not stored.
            conn.execute("PRAGMA synchronous = NORMAL")
            if not self._created:
                with self._lock:
                    conn.execute("PRAGMA journal_mode = WAL")
                    for statement in _SQLITE_SCHEMA:
                        conn.execute(statement)
                    self._created = True
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()


class PostgresLedger(_Ledger):
    """The budget's counts in the team's PostgreSQL database: one budget for every replica.

    Reserving locks the endpoint's row of the day, then the visitor's (``SELECT ... FOR UPDATE``,
    always in that order), so concurrent reservations queue instead of both seeing room.

    Parameters
    ----------
    database : Database
        With schema version 2 or later (tables ``embedcore_budget_*``).
    """

    _mark = "%s"
    _for_update = " FOR UPDATE"

    def __init__(self, database: Database) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"PostgresLedger({self.database.display!r})"

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self.database.transaction() as conn:
            yield conn


def open_ledger(database_url: str | None = None, *, path: str | os.PathLike[str] | None = None) -> _Ledger:
    """The ledger the settings choose: PostgreSQL when a database URL is configured, else SQLite.

    Parameters
    ----------
    database_url : str, optional
        Default ``$EMBEDCORE_DATABASE_URL``.
    path : str or Path, optional
        The SQLite file (default beside the embedding cache).

    Raises
    ------
    DatabaseUnavailableError
        A URL is set but the database cannot be used (never a fallback to the local file, which
        would give each replica a budget of its own).
    """
    from embedcore.stores import storage

    url = storage.configured_url(database_url)
    if url is not None:
        return PostgresLedger(storage.shared_database(url))
    return SQLiteLedger(path)


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
    ledger : SQLiteLedger or PostgresLedger
    settings : BudgetSettings
    visitor : str
        Who spends (the dashboard: ``email:...``, ``ip:...`` or ``session:...``).
    clock : callable
        Seconds since the epoch; injected by tests (the day is the UTC date of it).
    """

    def __init__(
        self,
        ledger: _Ledger,
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
        mine, everyone = self.ledger.spent(day=_day(now), endpoint=endpoint_id, visitor=self.visitor, now=now)
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
        day = _day(now)
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
            if isinstance(held, _Shortfall):
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

    def _exceeded(self, short: _Shortfall, needed: int, now: float) -> BudgetExceededError:
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
