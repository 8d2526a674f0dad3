"""What this machine lets the process use: cores, and memory."""

from __future__ import annotations

import collections
import contextlib
import functools
import gc
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from embedcore.errors import MemoryLimitError

__all__ = [
    "MEMORY_LIMIT_ENV",
    "WORK_SLOTS_ENV",
    "WorkQueue",
    "check_memory",
    "freeze_long_lived",
    "memory_in_use",
    "memory_limit",
    "texts_that_fit",
    "usable_cores",
    "work_bytes",
    "work_slots",
]

#: Heavy jobs a server runs at once (default: its usable cores).
WORK_SLOTS_ENV = "EMBEDCORE_WORK_SLOTS"


def freeze_long_lived() -> int:
    """Collect garbage once, then keep every object alive now out of later collections.

    A server holds ~600,000 objects once torch, transformers, plotly and umap-learn are
    imported and the bundled model is loaded, and Streamlit collects garbage after every
    script run of every session (``runner.postScriptGC``: ``gc.collect(2)``). Each collection
    walked all of them while holding the GIL — 1.2-1.5 s each on a loaded 2-core machine —
    and no other visitor's script, nor the server's event loop, ran meanwhile
    (py-spy, eight visitors at once: 15 % of the sessions' samples). Frozen
    (:func:`gc.freeze`), they are skipped: the same collection then takes well under a
    millisecond, and what a run leaves behind is still collected as before.

    Call it once the long-lived part of the process is built (the warm-up does, after its
    last step). An object alive now is still freed when its last reference goes; only a
    reference cycle among such objects would stay (modules, models and caches do not become
    garbage).

    Returns
    -------
    int
        How many objects are frozen now.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


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


#: Megabytes the app may use in all (an operator's setting); default: the container's limit.
MEMORY_LIMIT_ENV = "EMBEDCORE_MEMORY_LIMIT_MB"
#: cgroup v2, then v1: where a container's memory limit is read.
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
#: A cgroup v1 "no limit" is a huge number, not "max".
_NO_LIMIT_ABOVE = 2**60

#: Bytes held at the peak of embedding and mapping ``n`` texts, per byte of their float32 vectors:
#: measured on the API-only install (10,000 x 1024 through the API, then the PCA preview, the exact
#: neighbours and UMAP: +310 MB over the 41 MB of vectors, see the README's Community Cloud section).
WORK_BYTES_PER_VECTOR_BYTE = 8
#: And per text, whatever its vector: its string in the page, the map's hover text, the figure.
WORK_BYTES_PER_TEXT = 2_000


def memory_limit() -> int | None:
    """Bytes this process may use in all: ``$EMBEDCORE_MEMORY_LIMIT_MB``, else its container's limit.

    None when there is no limit (a laptop, a container without one) or it cannot be read.
    """
    configured = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if configured:
        try:
            return int(float(configured) * 2**20) or None
        except ValueError:
            return None
    for path in _CGROUP_LIMITS:
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        if value.isdigit() and int(value) < _NO_LIMIT_ABOVE:
            return int(value)
        return None
    return None


def memory_in_use() -> int:
    """This process's resident memory now, in bytes (0 where ``/proc`` is not there)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def work_bytes(n_texts: int, dimensions: int | None) -> int:
    """Memory that embedding and mapping ``n_texts`` vectors of ``dimensions`` floats takes at its peak.

    ``dimensions`` unknown: 1024, the widest of the IONOS models.
    """
    vector_bytes = int(n_texts) * int(dimensions or 1024) * 4
    return vector_bytes * WORK_BYTES_PER_VECTOR_BYTE + int(n_texts) * WORK_BYTES_PER_TEXT


def texts_that_fit(dimensions: int | None) -> int | None:
    """How many texts of ``dimensions`` could be embedded and mapped now (None: no limit)."""
    limit = memory_limit()
    if limit is None:
        return None
    return max(limit - memory_in_use(), 0) // work_bytes(1, dimensions)


def check_memory(needed: int, what: str, *, fewer: str | None = None) -> None:
    """Refuse, before it starts, work that needs ``needed`` more bytes than the limit leaves.

    Parameters
    ----------
    needed : int
        Bytes the work adds at its peak (:func:`work_bytes`).
    what : str
        The work, for the message ("Embedding and mapping 20,000 texts").
    fewer : str, optional
        What would fit instead ("about 4,000 texts"), for the message.

    Raises
    ------
    MemoryLimitError
        When :func:`memory_limit` is set and ``memory_in_use() + needed`` is above it.
    """
    limit = memory_limit()
    if limit is None:
        return
    in_use = memory_in_use()
    if in_use + needed <= limit:
        return
    left = max(limit - in_use, 0)
    instead = f" About {fewer} would fit." if fewer else ""
    raise MemoryLimitError(
        f"{what} needs about {needed / 2**20:,.0f} MB of memory and this server has {left / 2**20:,.0f} MB "
        f"left (it may use {limit / 2**20:,.0f} MB in all), so it does not fit and was not started.{instead} "
        "Whoever runs the app can give it more memory (Community Cloud apps may have up to 2.7 GB) or run it "
        "on a larger machine."
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
        from embedcore.errors import ConfigurationError

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
