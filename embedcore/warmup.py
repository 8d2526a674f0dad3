"""Start the slow one-off steps of a process in the background, before anybody waits for them.

A fresh server process pays, on its first map: importing plotly for the figures,
umap-learn's numba code (loaded from numba's disk cache, or compiled: 5-40 s), and, for the
first texts that are not cached, importing torch and sentence-transformers and loading the
bundled model (≈ 5-7 s on two cores). :func:`start` begins them in one daemon thread and
returns at once; the first visitor's run then finds each step done or in progress (imports
and numba wait on their own locks, so nothing is done twice).

The steps run one after the other, in the order a first visit needs them: the default page
draws its first map from vectors shipped with the install (``prepare --samples``) and needs
only the figures and UMAP; the model is needed only once somebody embeds new texts. Run side
by side, the model load took CPU from the first visit's page on two cores.

``make run`` calls it as the server process starts (``scripts/serve.py``); ``app.py`` calls
it again on the first run (idempotent), which covers ``streamlit run app.py`` elsewhere,
such as Community Cloud. ``EMBEDCORE_WARM_UP=0`` turns it off.
"""

from __future__ import annotations

import logging
import os
import threading
import time

__all__ = ["enabled", "model_ready", "start", "steps"]

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_thread: threading.Thread | None = None
_model_done = threading.Event()
#: (step, started, finished) in time.monotonic() seconds, in the order the steps ran.
_steps: list[tuple[str, float, float]] = []


def enabled() -> bool:
    """False when ``EMBEDCORE_WARM_UP`` is ``0`` / ``false`` / ``no`` / ``off``."""
    return os.environ.get("EMBEDCORE_WARM_UP", "1").strip().lower() not in {"0", "false", "no", "off"}


def _load_local_model() -> None:
    try:
        from .local import LocalModel

        if LocalModel.available():
            seconds = LocalModel(cache=None).load()
            _log.info("bundled model loaded in the background in %.1f s", seconds)
    except Exception:  # a warm-up must never take the server down; the page reports it later
        _log.warning("loading the bundled model in the background failed", exc_info=True)
    finally:
        _model_done.set()


def _import_figures() -> None:
    from . import charts  # noqa: F401  (plotly: every map needs it)


def _warm_up_umap() -> None:
    from . import projection

    projection.warm_up().join()


def _run(plan: list) -> None:
    for step in plan:
        started = time.monotonic()
        try:
            step()
        except Exception:  # a warm-up must never take the server down; the page reports it later
            _log.warning("warm-up step %s failed", step.__name__, exc_info=True)
        _steps.append((step.__name__.lstrip("_"), started, time.monotonic()))


def start(*, local_model: bool = True, projections: bool = True) -> bool:
    """Begin importing the figures, umap-learn's compiled code and the bundled model; returns at once.

    Parameters
    ----------
    local_model : bool
        Import torch / sentence-transformers and load all-MiniLM-L6-v2 (skipped when they are
        not installed, as on Community Cloud).
    projections : bool
        :func:`embedcore.projection.warm_up`.

    Returns
    -------
    bool
        False when warm-up is turned off (``EMBEDCORE_WARM_UP=0``), else True.

    Notes
    -----
    Idempotent: the first call fixes the steps; later calls start nothing.
    """
    if not enabled():
        return False
    global _thread
    plan = [_import_figures]
    if projections:
        plan.append(_warm_up_umap)
    if local_model:
        plan.append(_load_local_model)
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_run, args=(plan,), name="embedcore-warm-up", daemon=True)
            _thread.start()
    return True


def steps() -> list[tuple[str, float, float]]:
    """The warm-up steps finished so far: ``(name, started, finished)`` in ``time.monotonic()`` s."""
    return list(_steps)


def model_ready(timeout: float | None = 0) -> bool:
    """Has the background load of the bundled model finished (or failed)? Waits up to ``timeout`` s."""
    return _model_done.wait(timeout)
