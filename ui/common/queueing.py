"""Heavy work waits its turn, and the visitor sees that it waits.

A server shared by many visitors runs every session's script in a thread of one process.
Embedding on the server's own CPU (the bundled model) and computing a new map are the heavy
parts; run for eight visitors at once on two cores they compete (torch and numba workers
oversubscribe the cores) and every visitor waits longer than their share. They go through
one first-come-first-served :class:`embedcore.system.WorkQueue` instead, as many at once as
the server has usable cores, and a visitor behind others reads how many jobs are ahead.
Work that costs the server nothing (API calls, cached results, PCA) does not queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from ui.common.cached import work_queue
from ui.common.format import plural


@contextmanager
def heavy_work(what: str) -> Iterator[None]:
    """Run the block when its turn comes; meanwhile say how many jobs are ahead.

    Parameters
    ----------
    what : str
        What waits, for the message: "Embedding 400 texts", "The UMAP map".
    """
    notice = st.empty()

    def waiting(ahead: int) -> None:
        notice.info(
            f"{what} is queued behind {plural(ahead, 'job')} of other visitors on this server "
            "and starts as soon as a core is free.",
            icon=":material/hourglass_top:",
        )

    try:
        with work_queue().turn(waiting):
            notice.empty()
            yield
    finally:
        notice.empty()
