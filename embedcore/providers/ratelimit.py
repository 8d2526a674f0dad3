"""Token buckets that pace requests to an API: one per process, or one shared through PostgreSQL.

Hand-written rather than taken from a library: the ones on PyPI (``ratelimit``,
``pyrate-limiter``) either raise instead of waiting or bring a storage backend
we do not need, and none has the ``pause()`` a 429 needs so that *every* thread
backs off, not only the one that was told to. It is twenty lines.

:class:`TokenBucket` keeps its state in memory (threads of one process share it).
:class:`SharedTokenBucket` keeps it in a row of ``embedcore_rate_limits``, so every
process using the same database — app replicas on several machines behind one API
contract — draws from one bucket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embedcore.stores.database import Database

__all__ = ["SharedTokenBucket", "TokenBucket"]


class TokenBucket:
    """Allow ``rate`` acquisitions per second on average and at most ``burst`` at once.

    Parameters
    ----------
    rate : float
        Tokens added per second. ``None`` or ``<= 0`` disables pacing.
    burst : int
        Bucket size: how many acquisitions may happen back to back after a quiet spell.
    clock, sleep : callables
        Injected for tests; default to :func:`time.monotonic` and :func:`time.sleep`.
    """

    def __init__(
        self,
        rate: float | None,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = float(rate) if rate and rate > 0 else None
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._last = clock()
        self._paused_until = 0.0

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate}, burst={self.burst})"

    def _refill(self, now: float) -> None:
        if self.rate is not None and now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def acquire(self) -> float:
        """Take one token, sleeping until one is available (or a pause is over).

        Returns
        -------
        float
            Seconds spent waiting.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                if now < self._paused_until:
                    wait = self._paused_until - now
                elif self.rate is None:
                    return waited
                else:
                    self._refill(now)
                    # The epsilon: float refills can land a hair below 1.0, and a wait of 1e-17 s
                    # would not move the clock — a spin, not a sleep.
                    if self._tokens >= 1.0 - 1e-9:
                        self._tokens = max(0.0, self._tokens - 1.0)
                        return waited
                    wait = max((1.0 - self._tokens) / self.rate, 1e-4)
            # Sleep outside the lock so other threads can see the bucket (and a pause) meanwhile.
            self._sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """Hand out no token for ``seconds`` (a server said 429), then resume at the steady rate.

        The bucket restarts with one token, not a full burst, since a burst right after the
        pause would likely provoke the next 429.
        """
        if seconds <= 0:
            return
        with self._lock:
            until = self._clock() + seconds
            if until > self._paused_until:
                self._paused_until = until
                self._tokens = 1.0
                self._last = max(self._last, until)


class SharedTokenBucket:
    """A token bucket whose state lives in PostgreSQL: one bucket for every process using ``key``.

    Each :meth:`acquire` is one short transaction that locks the bucket's row
    (``SELECT ... FOR UPDATE``), refills it by the time elapsed on the *database server's*
    clock (so replicas with skewed clocks still agree), and takes a token or says how long
    to wait; the wait is slept with no lock held. :meth:`pause` (a 429) stops every process.

    Parameters
    ----------
    database : Database
    key : str
        Which bucket: the client uses its endpoint and a fingerprint of its token, since a
        provider's limit is per contract.
    rate, burst : float, int
        As :class:`TokenBucket`; ``rate`` None or <= 0 disables pacing (no database calls).
    sleep : callable
        Injected for tests; default :func:`time.sleep`.
    """

    def __init__(
        self,
        database: Database,
        key: str,
        rate: float | None,
        burst: int = 1,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.database = database
        self.key = str(key)
        self.rate = float(rate) if rate and rate > 0 else None
        self.burst = int(burst)
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"SharedTokenBucket({self.database.display!r}, rate={self.rate}, burst={self.burst})"

    def _locked_row(self, conn) -> tuple[float, float, float, float]:
        """(tokens, updated, paused_until, now) with the row locked; created full on first use."""
        select = (
            "SELECT tokens, updated, paused_until, EXTRACT(EPOCH FROM clock_timestamp())::float8 "
            "FROM embedcore_rate_limits WHERE key = %s FOR UPDATE"
        )
        row = conn.execute(select, (self.key,)).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO embedcore_rate_limits (key, tokens, updated) "
                "VALUES (%s, %s, EXTRACT(EPOCH FROM clock_timestamp())) ON CONFLICT (key) DO NOTHING",
                (self.key, float(self.burst)),
            )
            row = conn.execute(select, (self.key,)).fetchone()
        return row

    def _take(self) -> float:
        """Take a token (0.0) or return the seconds until one may be there."""
        assert self.rate is not None
        with self.database.transaction() as conn:
            tokens, updated, paused_until, now = self._locked_row(conn)
            if now < paused_until:
                return paused_until - now
            if now > updated:
                tokens = min(float(self.burst), tokens + (now - updated) * self.rate)
                updated = now
            tokens = min(tokens, float(self.burst))
            took = tokens >= 1.0 - 1e-9
            if took:
                tokens = max(0.0, tokens - 1.0)
            conn.execute(
                "UPDATE embedcore_rate_limits SET tokens = %s, updated = %s WHERE key = %s",
                (tokens, updated, self.key),
            )
        return 0.0 if took else max((1.0 - tokens) / self.rate, 1e-3)

    def acquire(self) -> float:
        """Take one token from the shared bucket, sleeping until one is available.

        Returns
        -------
        float
            Seconds spent waiting.

        Raises
        ------
        DatabaseError
            The database went away; no request should be sent unpaced.
        """
        if self.rate is None:
            return 0.0
        waited = 0.0
        while True:
            wait = self._take()
            if wait <= 0:
                return waited
            self._sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """Hand out no token to any process for ``seconds``, then resume with one token."""
        if seconds <= 0:
            return
        with self.database.transaction() as conn:
            _, updated, paused_until, now = self._locked_row(conn)
            until = now + seconds
            if until > paused_until:
                conn.execute(
                    "UPDATE embedcore_rate_limits SET paused_until = %s, tokens = 1, updated = %s WHERE key = %s",
                    (until, max(updated, until), self.key),
                )
