"""Start the slow one-off steps of a process in the background, before anybody waits for them.

A fresh server process pays, on its first map: importing torch and sentence-transformers
and loading the bundled model (≈ 5-7 s on two cores), and umap-learn's numba code (loaded
from numba's disk cache, or compiled: 5-40 s). :func:`start` begins both in daemon threads
and returns at once; the first visitor's run then finds them done or in progress (the
imports and numba wait on their own locks, so nothing is done twice).

``make run`` calls it as the server process starts (``scripts/serve.py``); ``app.py`` calls
it again on the first run (idempotent), which covers ``streamlit run app.py`` elsewhere,
such as Community Cloud. ``EMBEDCORE_WARM_UP=0`` turns it off.
"""

from __future__ import annotations

import logging
import os
import threading

__all__ = ["enabled", "model_ready", "start"]

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_model_thread: threading.Thread | None = None
_model_done = threading.Event()


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


def start(*, local_model: bool = True, projections: bool = True) -> bool:
    """Begin loading the bundled model and umap-learn's compiled code; returns at once.

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
    """
    if not enabled():
        return False
    global _model_thread
    if local_model:
        with _lock:
            if _model_thread is None:
                _model_thread = threading.Thread(
                    target=_load_local_model, name="embedcore-model-warm-up", daemon=True
                )
                _model_thread.start()
    if projections:
        from . import projection

        projection.warm_up()
    return True


def model_ready(timeout: float | None = 0) -> bool:
    """Has the background load of the bundled model finished (or failed)? Waits up to ``timeout`` s."""
    return _model_done.wait(timeout)
