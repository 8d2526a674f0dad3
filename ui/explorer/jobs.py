"""Maps too large to compute inside a script run: one background thread at a time, results kept.

Above :data:`BACKGROUND_ABOVE` points a slow method's map (UMAP of 100,000 texts: minutes) is
computed in a daemon thread; the page shows PCA meanwhile, stays usable, and a fragment reruns it
when the map is ready. This is a job runner, not a memo: a job runs once, its result moves to
:data:`BACKGROUND_MAPS`'s finished maps (a bounded :class:`embedcore.memo.Memo`), and an error is
handed once to the page that asks next.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from embedcore.analysis.projection import ProjectionResult, display_name, project_with_info
from embedcore.errors import ProjectionInputError
from embedcore.memo import Memo

#: Above this many points a slow method's map is computed in a background thread: the page shows
#: the PCA map meanwhile, stays usable (Find, selection, the other tabs), and switches when it is
#: ready. 100,000 points take minutes on two cores (see the README's Benchmarks).
BACKGROUND_ABOVE = 20_000
#: How often the page looks whether a background map is ready (seconds).
POLL_SECONDS = 2.0
#: Finished background maps kept (coordinates only: 100k points are 0.8 MB).
MAPS_KEPT = 8


class ProjectionPending(ProjectionInputError):
    """The map is being computed in the background; the page shows PCA until it is ready.

    A :class:`ProjectionInputError`, so a page that falls back to PCA on one does so here too.
    """


@dataclass
class Job:
    """One background map: when it was asked for and started, and how it ended."""

    n: int
    queued: float = field(default_factory=time.monotonic)
    started: float | None = None
    result: ProjectionResult | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class BackgroundMaps:
    """The running jobs (at most one computing, the others waiting) and the finished maps.

    Finished maps are kept here rather than in Streamlit's cache, whose evictions would not be
    seen: a map missing there would be computed again in the script run, freezing the page.
    """

    def __init__(self, kept: int = MAPS_KEPT) -> None:
        self._jobs: dict[tuple, Job] = {}
        self._lock = threading.Lock()  # one lock for both: no session starts a map another just finished
        self._one_at_a_time = threading.Lock()  # two 100k UMAPs at once would share two cores
        self.finished: Memo[ProjectionResult] = Memo(kept)

    def _run(self, job: Job, vectors: np.ndarray, key: tuple) -> None:
        _, method, n_components, random_state, params = key
        with self._one_at_a_time:
            job.started = time.monotonic()
            try:
                job.result = project_with_info(
                    vectors, method, n_components, random_state=random_state, use_cache=False, **dict(params)
                )
            except BaseException as exc:  # handed to the page that asks for the map
                job.error = exc
            finally:
                job.done.set()

    def get(self, key: tuple, vectors: np.ndarray) -> ProjectionResult | Job:
        """The map ``key`` when it is ready, else its job (started here if none was)."""
        with self._lock:
            result = self.finished.get(key)
            if result is not None:
                return result
            job = self._jobs.get(key)
            if job is None:
                job = self._jobs[key] = Job(n=len(vectors))
                # A daemon thread, not an executor: stopping the server must not wait for a UMAP.
                threading.Thread(
                    target=self._run, args=(job, vectors, key), name="embedcore-map", daemon=True
                ).start()
            if job.done.is_set():
                del self._jobs[key]
                if job.error is None:
                    return self.finished.put(key, job.result)
        return job

    def job(self, key: tuple) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def running(self) -> bool:
        """Is a map still being computed (or waiting) in this process?"""
        with self._lock:
            return any(not job.done.is_set() for job in self._jobs.values())

    def pending(self) -> int:
        """Jobs not yet collected by a page (running, waiting, or done and unread)."""
        with self._lock:
            return len(self._jobs)


#: The process's background maps.
BACKGROUND_MAPS = BackgroundMaps()


def large_map(key: tuple, vectors: np.ndarray) -> ProjectionResult:
    """The map ``key`` when it is ready; else start it (once) and raise :class:`ProjectionPending`."""
    found = BACKGROUND_MAPS.get(key, vectors)
    if isinstance(found, ProjectionResult):
        return found
    if found.done.is_set():
        raise found.error  # the page says why; asking again starts afresh
    _watch_job(key)
    raise ProjectionPending(
        f"The {display_name(key[1])} map of {len(vectors):,} texts is being computed "
        "in the background; the page stays usable and switches to it when it is ready."
    )


def background_maps_running() -> bool:
    """Is a map still being computed in the background in this process?"""
    return BACKGROUND_MAPS.running()


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


@st.fragment(run_every=POLL_SECONDS)
def _watch_job(key: tuple) -> None:
    """Say how long the background map has been running; rerun the page once it is done."""
    job = BACKGROUND_MAPS.job(key)
    if job is None or job.done.is_set():
        st.rerun()
    now = time.monotonic()
    if job.started is None:
        stage = f"waiting for another map to finish ({_clock(now - job.queued)})"
    else:
        stage = f"{_clock(now - job.started)} so far"
    st.caption(
        f":material/hourglass_top: {display_name(key[1])} of {job.n:,} texts in the background — {stage}. "
        "100,000 texts took 2½ to 4½ minutes on two cores in our benchmark."
    )
