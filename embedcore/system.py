"""What this machine lets the process use."""

from __future__ import annotations

import functools
import os

__all__ = ["usable_cores"]


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
