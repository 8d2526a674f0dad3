"""The static model ready before anyone waits for it: the ``prepare`` step and a stoppable build.

The model2vec distillation of MiniLM (see :mod:`embedcore.providers.local`) is made once per machine:
about 35 s on two idle cores, 2-9 minutes on a busy two-core machine. Two ways to make it:

* ``python -m embedcore prepare`` — what ``make run`` and ``make test`` run at install time;
  it calls :func:`build_static_model`.
* :class:`BackgroundBuild` — that same command in a child process, for the dashboard when a
  visitor needs a model nobody prepared: progress by named stage, and :meth:`~BackgroundBuild.cancel`
  stops it at once (a thread running torch could not be stopped).

Either way a build holds a file lock (two processes never distil the same model at once: the
second waits and then finds it built), writes into a temporary directory renamed into place
at the end (a stopped or crashed build never leaves half a model), and removes temporary
directories an earlier build that was killed left behind.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "STAGES",
    "BackgroundBuild",
    "BuildProgress",
    "BuildStatus",
    "build_sample_seed",
    "build_static_model",
    "is_built",
    "require_build_packages",
]

#: The build's stages in order, with what a person is told. ``waiting`` comes first only when
#: another process holds the lock.
STAGES = {
    "waiting": "Waiting for another process that is building the same model",
    "loading": "Loading all-MiniLM-L6-v2",
    "encoding": "Encoding the vocabulary",
    "reducing": "Reducing to 256 dimensions (PCA) and weighting the tokens",
    "saving": "Saving",
    "done": "Ready",
}
#: Share of the whole build each stage takes, measured on a busy two-core machine (loading 14 s,
#: encoding 76 s, the rest 1 s of 91 s): the progress bar moves at about the pace of the clock.
_WEIGHTS = {"waiting": 0.0, "loading": 0.15, "encoding": 0.8, "reducing": 0.03, "saving": 0.02}
_NUMBERED = ("loading", "encoding", "reducing", "saving")
#: A busy machine took 9 minutes; a lock held longer than this belongs to a build that hangs.
LOCK_TIMEOUT_S = 1800


def is_built(directory: Path) -> bool:
    """Whether ``directory`` holds a finished static model (the two files a load reads first)."""
    return (directory / "model.safetensors").is_file() and (directory / "config.json").is_file()


@dataclass(frozen=True)
class BuildProgress:
    """Where a build is.

    Attributes
    ----------
    stage : str
        A key of :data:`STAGES`.
    done, total : int
        Within the stage, where it can count (``encoding``: vocabulary tokens); else 0.
    elapsed : float
        Seconds since the build started.
    """

    stage: str
    done: int = 0
    total: int = 0
    elapsed: float = 0.0

    @property
    def fraction(self) -> float:
        """The whole build's share done, 0..1, by the stage weights."""
        if self.stage == "done":
            return 1.0
        before = 0.0
        for stage in _NUMBERED:
            if stage == self.stage:
                within = self.done / self.total if self.total else 0.0
                return min(1.0, before + _WEIGHTS[stage] * within)
            before += _WEIGHTS[stage]
        return 0.0

    @property
    def text(self) -> str:
        """``"Step 2 of 4 · Encoding the vocabulary: 12,288 / 30,522 tokens · 41 s"``."""
        label = STAGES.get(self.stage, self.stage)
        if self.stage in _NUMBERED:
            label = f"Step {_NUMBERED.index(self.stage) + 1} of {len(_NUMBERED)} · {label}"
        if self.total:
            label += f": {self.done:,} / {self.total:,} tokens"
        return f"{label} · {self.elapsed:.0f} s"


ProgressReport = Callable[[BuildProgress], None]


class _NullWriter:
    """Where model2vec's own tqdm bar goes while we report its progress ourselves."""

    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


@contextlib.contextmanager
def _encoding_reported(report: Callable[[int, int], None], finished: Callable[[], None]) -> Iterator[None]:
    """Route model2vec's "Encoding tokens" tqdm bar (its one long stage) to ``report(done, total)``.

    model2vec has no progress callback; its ``inference`` module draws a tqdm bar over the
    vocabulary. We swap that name for a subclass for the duration of one build. If a later
    model2vec moves the bar, the build still works; only the count within the stage is lost.
    """
    from embedcore.providers import local

    try:
        with local.HEAVY_IMPORT_LOCK:
            from model2vec.distill import inference
    except ImportError:  # pragma: no cover - the build itself will say what is missing
        yield
        return
    original = getattr(inference, "tqdm", None)
    if original is None:
        yield
        return

    class Reporting(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:
            kwargs["file"] = _NullWriter()
            super().__init__(*args, **kwargs)
            report(0, int(self.total or 0))

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            report(int(self.n), int(self.total or 0))
            return shown

        def close(self) -> None:
            super().close()
            finished()

    inference.tqdm = Reporting
    try:
        yield
    finally:
        inference.tqdm = original


def _sweep_half_builds(directory: Path) -> None:
    # Only called under the lock: a temporary directory of ours is then never someone's live build.
    for leftover in directory.parent.glob(f".building-{directory.name}-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def require_build_packages() -> None:
    """Raise :class:`~embedcore.errors.ModelUnavailableError` naming what a build would miss.

    Checked without importing anything heavy.
    """
    from embedcore.providers import local

    missing = local._missing(local._DISTILL_PACKAGES)
    if missing:
        raise local._unavailable(local.catalog.MINILM_STATIC_ID, missing, " (needed to build it)")


def build_static_model(
    directory: str | os.PathLike,
    *,
    device: str = "cpu",
    progress: ProgressReport | None = None,
) -> bool:
    """Distil all-MiniLM-L6-v2 into ``directory`` with model2vec, unless it is built already.

    Parameters
    ----------
    directory : path
        The model's own directory (``<models dir>/<STATIC_BUILD_NAME>``); its parent is created.
    device : str
        A torch device.
    progress : callable(BuildProgress), optional
        Told each stage as it starts and the vocabulary count as it is encoded.

    Returns
    -------
    bool
        True when this call built the model, False when it was there already (perhaps built
        by another process while this one waited for the lock).

    Raises
    ------
    ModelUnavailableError
        When the packages the build needs are missing.
    """
    from filelock import FileLock, Timeout  # a dependency of huggingface_hub, so present with model2vec

    from embedcore.providers import local

    directory = Path(directory)
    if is_built(directory):
        return False
    require_build_packages()
    start = time.perf_counter()

    def tell(stage: str, done: int = 0, total: int = 0) -> None:
        if progress is not None:
            progress(BuildProgress(stage, done, total, time.perf_counter() - start))

    directory.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(directory) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        tell("waiting")
        lock.acquire(timeout=LOCK_TIMEOUT_S)
    try:
        if is_built(directory):
            return False
        _sweep_half_builds(directory)
        tell("loading")
        local._go_offline()
        with local.HEAVY_IMPORT_LOCK:
            from model2vec.distill import distill

        with _encoding_reported(lambda done, total: tell("encoding", done, total), lambda: tell("reducing")):
            static = distill(
                model_name=str(local._minilm_path()), pca_dims=local._STATIC_PCA_DIMS, device=device
            )
        tell("saving")
        tmp = Path(tempfile.mkdtemp(prefix=f".building-{directory.name}-", dir=directory.parent))
        try:
            static.save_pretrained(tmp)
            try:
                os.rename(tmp, directory)
            except OSError:
                # Someone without the lock (another file system, a manual copy) got there
                # first; their copy is as good as ours.
                if not is_built(directory):
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        tell("done")
        return True
    finally:
        lock.release()


# --- in a child process, for the dashboard ------------------------------------------------------


@dataclass(frozen=True)
class BuildStatus:
    """A snapshot of a :class:`BackgroundBuild`.

    Attributes
    ----------
    state : {"idle", "running", "done", "failed", "cancelled"}
    progress : BuildProgress or None
        The last stage the child reported.
    error : str or None
        Why a failed build failed (the child's own message).
    """

    state: str
    progress: BuildProgress | None = None
    error: str | None = None

    @property
    def fraction(self) -> float:
        return self.progress.fraction if self.progress else 0.0

    @property
    def text(self) -> str:
        return self.progress.text if self.progress else "Starting the build (importing torch)…"


_RUNNING: weakref.WeakSet[BackgroundBuild] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    # A build outliving the server that started it would hold two cores for minutes for nobody.
    for build in list(_RUNNING):
        build.cancel()


class BackgroundBuild:
    """``python -m embedcore prepare`` for one model directory, in a child process.

    Parameters
    ----------
    directory : path
        The model's directory, as :meth:`embedcore.providers.local.LocalModel.static_model_path` gives it
        (``<models dir>/<STATIC_BUILD_NAME>``).

    Notes
    -----
    One object per directory and server process (the dashboard keeps it in a shared cache):
    every session that needs the model watches the same build. Thread-safe.
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._state = "done" if is_built(self.directory) else "idle"
        self._progress: BuildProgress | None = None
        self._error: str | None = None
        self._cancelled = False

    def __repr__(self) -> str:
        return f"BackgroundBuild({str(self.directory)!r}, state={self._state!r})"

    def start(self) -> None:
        """Start the build unless it is running or the model is there; restarts a stopped one."""
        with self._lock:
            if self._state == "running":
                return
            if is_built(self.directory):
                self._state = "done"
                return
            package_root = str(Path(__file__).resolve().parents[2])
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
                "PYTHONUNBUFFERED": "1",
            }
            command = [
                sys.executable,
                "-m",
                "embedcore",
                "prepare",
                "--models-dir",
                str(self.directory.parent),
                "--progress",
                "json",
            ]
            self._process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                env=env,
            )
            self._state, self._progress, self._error, self._cancelled = "running", None, None, False
            _RUNNING.add(self)
            process = self._process
        threading.Thread(target=self._follow, args=(process,), name="static-model-build", daemon=True).start()

    def _follow(self, process: subprocess.Popen) -> None:
        errors: deque[str] = deque(maxlen=20)
        drain = threading.Thread(target=lambda: errors.extend(process.stderr), daemon=True)
        drain.start()
        for line in process.stdout:
            try:
                event = json.loads(line)
                update = BuildProgress(
                    event["stage"], int(event["done"]), int(event["total"]), float(event["elapsed"])
                )
            except (ValueError, KeyError, TypeError):
                continue  # a stray line from a library is not ours to parse
            with self._lock:
                self._progress = update
        code = process.wait()
        drain.join(timeout=5)
        with self._lock:
            if process is not self._process:
                return
            _RUNNING.discard(self)
            if self._cancelled:
                self._state = "cancelled"
            elif code == 0 and is_built(self.directory):
                self._state = "done"
            else:
                said = [e.strip() for e in errors if e.strip().startswith("error:")]
                self._error = (
                    said[-1].removeprefix("error:").strip() if said else "".join(errors).strip()
                ) or (f"the build process ended with exit code {code}")
                self._state = "failed"

    def status(self) -> BuildStatus:
        with self._lock:
            if self._state in ("idle", "cancelled", "failed") and is_built(self.directory):
                self._state = "done"  # another process built it meanwhile
            return BuildStatus(self._state, self._progress, self._error)

    def wait(self, timeout: float | None = None, poll: float = 0.2) -> BuildStatus:
        """Block until the build is no longer running (or ``timeout`` s passed); returns the status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        status = self.status()
        while status.state == "running" and (deadline is None or time.monotonic() < deadline):
            time.sleep(poll)
            status = self.status()
        return status

    def cancel(self, timeout: float = 10) -> None:
        """Stop a running build and wait for its process to end; nothing is saved.

        The child removes its temporary directory as it stops; should it have to be killed,
        the temporary directory is removed here (and by any later build).
        """
        with self._lock:
            process = self._process
            if self._state != "running" or process is None:
                return
            self._cancelled = True
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self._sweep_if_free()
        with self._lock:
            if process is self._process and self._state == "running":
                self._state = "cancelled"
                _RUNNING.discard(self)

    def _sweep_if_free(self) -> None:
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.directory) + ".lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return  # another process is building; its temporary directory is live
        try:
            _sweep_half_builds(self.directory)
        finally:
            lock.release()


def build_sample_seed(path: Path | None = None, *, names: Sequence[str] | None = None) -> tuple[Path, int]:
    """Embed the built-in sample sets with the bundled MiniLM into a seed file; ``(path, vectors)``.

    ``names``: the samples to embed, by default all of :data:`embedcore.io.SAMPLES` — the
    10,000-sentence ``docs`` sample included (measured: 10,243 texts, 85 CPU-seconds, a 22 MB
    file), so choosing it in the explorer needs no model either.

    Real vectors of the real model, made once at install time (``prepare --samples``), so a
    first visit's default page finds its sample embedded without loading torch (see
    :class:`embedcore.stores.cache.SeededCache`). Written to a temporary file and renamed into place:
    a reader never sees half a seed.
    """
    from embedcore import io
    from embedcore.providers import catalog
    from embedcore.providers.local import LocalModel, sample_seed_path
    from embedcore.stores.cache import EmbeddingCache

    target = Path(path) if path is not None else sample_seed_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    seed = EmbeddingCache(partial)
    chosen = tuple(io.SAMPLES) if names is None else tuple(names)
    texts = list(dict.fromkeys(t for name in chosen for t in io.load_sample(name).texts))
    try:
        LocalModel(cache=seed).embed(texts, catalog.MINILM_ID)
    finally:
        seed.close()
    for suffix in ("-wal", "-shm"):  # closed: SQLite has folded its journal into the file
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    os.replace(partial, target)
    return target, len(texts)
