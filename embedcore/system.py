"""What this machine lets the process use."""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator

__all__ = ["WORK_SLOTS_ENV", "WorkQueue", "usable_cores", "work_slots"]

#: Heavy jobs a server runs at once (default: its usable cores).
WORK_SLOTS_ENV = "EMBEDCORE_WORK_SLOTS"


@functools.cache  # the quota of a running container does not change; reading it costs ~55 µs
def usable_cores() -> int:
    """Cores this process may use: the CPU quota of its container and its affinity.

    ``os.cpu_count()`` inside a container with a quota (Streamlit Community Cloud: a fraction of
    a CPU to 2) is the host's count; joblib (loky) reads the cgroup quota.
    """
    try:
        import joblib

        return max(1, int(joblib.cpu_count()))
    except ImportError:  # pragma: no cover - joblib comes with scikit-learn, an engine dependency
        return max(
            1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        )


def work_slots() -> int:
    """Heavy jobs to run at once: ``$EMBEDCORE_WORK_SLOTS`` when set, else :func:`usable_cores`.

    Raises
    ------
    ConfigurationError
        The variable is set but not a whole number of at least 1.
    """
    value = os.environ.get(WORK_SLOTS_ENV, "").strip()
    if not value:
        return usable_cores()
    try:
        slots = int(value)
    except ValueError:
        slots = 0
    if slots < 1:
        from .errors import ConfigurationError

        raise ConfigurationError(f"{WORK_SLOTS_ENV} must be a whole number of at least 1, got {value!r}.")
    return slots


class WorkQueue:
    """First come, first served admission to heavy work: at most ``slots`` jobs run at once.

    A server shared by many visitors runs each visitor's script in its own thread. Eight visitors
    embedding and mapping at the same moment on two cores would otherwise run sixteen torch and
    numba workers against each other; here the first ``slots`` go, the rest wait their turn in
    arrival order and can be told their place. (A ``threading.Semaphore`` admits waiters in no
    particular order and cannot say how many are ahead, which a visitor waiting wants to know.)

    Parameters
    ----------
    slots : int, optional
        Jobs running at once. Default: :func:`usable_cores`.

    Examples
    --------
    >>> queue = WorkQueue(slots=1)
    >>> with queue.turn():
    ...     queue.running
    1
    >>> queue.running
    0
    """

    def __init__(self, slots: int | None = None) -> None:
        self.slots = max(1, int(slots if slots is not None else usable_cores()))
        self._cond = threading.Condition()
        self._waiting: collections.deque[object] = collections.deque()
        self.running = 0

    def __repr__(self) -> str:
        return f"WorkQueue(slots={self.slots}, running={self.running}, waiting={len(self._waiting)})"

    @property
    def waiting(self) -> int:
        """Jobs waiting for a slot now."""
        with self._cond:
            return len(self._waiting)

    @contextlib.contextmanager
    def turn(self, on_wait: Callable[[int], None] | None = None, *, poll: float = 0.5) -> Iterator[None]:
        """Wait for this job's turn, run the block, give the slot back (also on errors).

        Parameters
        ----------
        on_wait : callable, optional
            ``on_wait(ahead)`` while waiting: at once, then every ``poll`` seconds and whenever
            the place changes; ``ahead`` is the number of jobs running or queued before this one.
            Not called when a slot is free at once.
        poll : float
            Seconds between ``on_wait`` calls while the place stays the same.
        """
        ticket = object()
        with self._cond:
            self._waiting.append(ticket)
            try:
                while not (self._waiting[0] is ticket and self.running < self.slots):
                    if on_wait is not None:
                        ahead = self.running + self._waiting.index(ticket)
                        self._cond.release()  # the caller may draw on a page: never while holding the lock
                        try:
                            on_wait(ahead)
                        finally:
                            self._cond.acquire()
                        if self._waiting[0] is ticket and self.running < self.slots:
                            break
                    self._cond.wait(poll)
            except BaseException:
                # A waiter that gives up (a visitor's rerun interrupts the script) leaves the
                # line; a ticket left behind would block everyone after it for good.
                self._waiting.remove(ticket)
                self._cond.notify_all()
                raise
            self._waiting.popleft()
            self.running += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self.running -= 1
                self._cond.notify_all()
