"""Start the slow one-off steps of a process in the background, before anybody waits for them.

A fresh server process pays, on its first map: importing plotly for the figures,
umap-learn and its numba code (loaded from numba's disk cache, or compiled: 7-8 s of CPU since
pynndescent is left out, 33 s before; see :func:`embedcore.analysis.projection._import_umap`),
and, for the first texts that are not cached, importing torch and sentence-transformers and loading the
bundled model (≈ 5-7 s on two cores). :func:`start` begins them in one daemon thread and
returns at once; the first visitor's run then finds each step done or in progress (imports
and numba wait on their own locks, so nothing is done twice).

The steps run one after the other, in the order a first visit needs them: the default page
draws its first map from vectors shipped with the install (``prepare --samples``) and needs
only the figures and UMAP; the model is needed only once somebody embeds new texts. Run side
by side, the model load took CPU from the first visit's page on two cores.

An API-only install (Streamlit Community Cloud: ``requirements.txt`` alone) has no bundled
model and no shipped sample vectors. There the dashboard hands :func:`start` a
:class:`SampleWarmUp`: the default page's sample texts, embedded once per server process
through the operator's endpoint and token into the shared cache, first of all the steps (a
network wait, no CPU), so the first visitor's page finds them there and draws a map without
anybody pressing Embed; every later visitor is answered from the cache at no cost.

``make run`` calls it as the server process starts (``scripts/serve.py``); ``app.py`` calls
it again on the first run (idempotent), which covers ``streamlit run app.py`` elsewhere,
such as Community Cloud. ``EMBEDCORE_WARM_UP=0`` turns it off.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SampleWarmUp",
    "embed_sample",
    "enabled",
    "finished",
    "model_ready",
    "sample_ready",
    "start",
    "started",
    "steps",
]

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_thread: threading.Thread | None = None
_model_done = threading.Event()
_sample_done = threading.Event()
#: The texts of the sample being embedded (set by :func:`start`), for :func:`sample_ready`.
_sample_texts: tuple[str, ...] = ()
#: (step, started, finished) in time.monotonic() seconds, in the order the steps ran.
_steps: list[tuple[str, float, float]] = []


def enabled() -> bool:
    """False when ``EMBEDCORE_WARM_UP`` is ``0`` / ``false`` / ``no`` / ``off``."""
    return os.environ.get("EMBEDCORE_WARM_UP", "1").strip().lower() not in {"0", "false", "no", "off"}


def _load_local_model() -> None:
    try:
        from embedcore.providers.local import LocalModel

        if LocalModel.available():
            seconds = LocalModel(cache=None).load()
            _log.info("bundled model loaded in the background in %.1f s", seconds)
    except Exception as exc:  # a warm-up must never take the server down; the page reports it later
        if cut_short_by_exit(exc):
            _log.info("loading the bundled model in the background stopped: the server is shutting down")
        else:
            _log.warning("loading the bundled model in the background failed", exc_info=True)
    finally:
        _model_done.set()


def cut_short_by_exit(error: BaseException | None = None) -> bool:
    """Was a step cut short because the interpreter began to exit (a server stopped mid-step)?

    At exit, ``threading`` first runs its exit handlers — ``concurrent.futures`` then refuses new
    work ("cannot schedule new futures after interpreter shutdown", which transformers' loader
    meets) — and then marks the main thread stopped. Either sign is no failure worth a traceback.
    """
    if not threading.main_thread().is_alive():
        return True
    while error is not None:
        if isinstance(error, RuntimeError) and "interpreter shutdown" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


@dataclass(frozen=True)
class SampleWarmUp:
    """The sample a server embeds through its operator's endpoint as it starts (see the module).

    Attributes
    ----------
    provider : Provider
        The operator's API provider, with its shared cache (what a first visitor's page uses).
    texts : sequence of str
        The default page's sample texts.
    pick_model : callable
        ``pick_model(served model ids) -> model id or None``: the model a first visitor's
        sidebar starts on, so the page finds the vectors of the model it shows.
    budget : BudgetGuard, optional
        The operator's budget, counting this under the server's own name (not a visitor's).
    """

    provider: Any
    texts: Sequence[str]
    pick_model: Callable[[list[str]], str | None]
    #: A :class:`embedcore.providers.budget.BudgetGuard` the embedding is counted against (None: no budget).
    budget: Any = None


def embed_sample(sample: SampleWarmUp):
    """List the endpoint's models, pick the first visitor's, embed the sample into the cache.

    Returns the :class:`embedcore.types.EmbeddingResult` (None when no model is served). Texts
    already cached cost nothing: a restarted server sends no request.
    """
    model = sample.pick_model([m.id for m in sample.provider.list_models()])
    if model is None:
        return None
    # The one call that spends the operator's token unasked: counted against the budget.
    result = sample.provider.embed(list(sample.texts), model, budget=sample.budget)
    _log.info("sample of %d texts ready for %s (%d fetched)", len(result), model, result.fetched)
    return result


def _import_figures() -> None:
    from embedcore.figures import heatmaps, scatter  # noqa: F401  (plotly: every map needs them)


def _warm_up_umap() -> None:
    from embedcore.analysis import projection

    projection.warm_up().join()


def _freeze_long_lived() -> None:
    from embedcore.system import freeze_long_lived

    _log.info("%d long-lived objects kept out of garbage collections", freeze_long_lived())


def _run(plan: list) -> None:
    for step in plan:
        started = time.monotonic()
        try:
            step()
        except Exception as exc:  # a warm-up must never take the server down; the page reports it later
            if cut_short_by_exit(exc):
                _log.info("warm-up step %s stopped: the server is shutting down", step.__name__)
                return
            _log.warning("warm-up step %s failed", step.__name__, exc_info=True)
        _steps.append((step.__name__.lstrip("_"), started, time.monotonic()))
        _log.info("warm-up step %s took %.1f s", _steps[-1][0], _steps[-1][2] - started)


def start(*, local_model: bool = True, projections: bool = True, sample: SampleWarmUp | None = None) -> bool:
    """Begin importing the figures, umap-learn's compiled code and the bundled model; returns at once.

    Parameters
    ----------
    local_model : bool
        Import torch / sentence-transformers and load all-MiniLM-L6-v2 (skipped when they are
        not installed, as on Community Cloud).
    projections : bool
        :func:`embedcore.analysis.projection.warm_up`.
    sample : SampleWarmUp, optional
        Embed these sample texts through the operator's API first (:func:`embed_sample`).

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
    global _thread, _sample_texts
    plan = [_import_figures]
    if sample is not None:

        def _embed_sample() -> None:
            try:
                embed_sample(sample)
            finally:
                _sample_done.set()

        # First: a network wait that a first visit's page waits for, before the CPU-bound steps.
        plan.insert(0, _embed_sample)
    if projections:
        plan.append(_warm_up_umap)
    if local_model:
        plan.append(_load_local_model)
    # Last: what the steps built (modules, compiled code, the model) is what every later
    # collection would walk again.
    plan.append(_freeze_long_lived)
    with _lock:
        if _thread is None:
            if sample is not None:
                _sample_texts = tuple(sample.texts)
            _thread = threading.Thread(target=_run, args=(plan,), name="embedcore-warm-up", daemon=True)
            _thread.start()
    return True


def started() -> bool:
    """Has :func:`start` begun the warm-up in this process?"""
    return _thread is not None


def finished(timeout: float | None = 0) -> bool:
    """Whether every step of the warm-up has run (waiting up to ``timeout`` s; None: no limit)."""
    thread = _thread
    if thread is None:
        return False
    thread.join(timeout)
    return not thread.is_alive()


def steps() -> list[tuple[str, float, float]]:
    """The warm-up steps finished so far: ``(name, started, finished)`` in ``time.monotonic()`` s."""
    return list(_steps)


def sample_ready(texts: Sequence[str], timeout: float | None = 0) -> bool:
    """Whether no sample embedding of ``texts`` is under way (waiting up to ``timeout`` s for it).

    True at once when the warm-up embeds no sample or another one: a page asks before looking
    ``texts`` up in the cache, and waits only when the warm-up is about to put them there.
    """
    if not _sample_texts or tuple(texts) != _sample_texts:
        return True
    return _sample_done.wait(timeout)


def model_ready(timeout: float | None = 0) -> bool:
    """Has the background load of the bundled model finished (or failed)? Waits up to ``timeout`` s."""
    return _model_done.wait(timeout)
