"""A thread-safe token bucket that paces requests to an API.

Hand-written rather than taken from a library: the ones on PyPI (``ratelimit``,
``pyrate-limiter``) either raise instead of waiting or bring a storage backend
we do not need, and none has the ``pause()`` a 429 needs so that *every* thread
backs off, not only the one that was told to. It is twenty lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


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
