"""What every benchmark shares: the result row, the table, fresh processes, memory readings.

A benchmark module exposes ``run(quick: bool) -> list[Row]``. The runner in
``bench/__main__.py`` calls each one in a fresh interpreter (``python -m bench.worker``)
so that one benchmark's imports, numba compilations and freed-but-kept memory
never colour the next one's figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"

#: Marker for the one line a worker prints with its JSON result (everything else is log).
RESULT_MARKER = "BENCH_RESULT "

#: Streamlit, HF and tokenizers stay quiet and offline in every child process.
CHILD_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    "PYTHONUNBUFFERED": "1",
}


@dataclass
class Row:
    """One line of the results table.

    ``ours`` and ``peer_figure`` are already formatted (with units); ``ratio`` says
    which way it reads (``0.25x time``); ``met`` is None for figures without a target.
    """

    target: str
    peer: str
    ours: str
    peer_figure: str
    ratio: str
    goal: str
    met: bool | None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        return cls(**data)


def log(*parts: object) -> None:
    """Progress goes to stderr so that stdout stays free for the result line."""
    print("   ", *parts, file=sys.stderr, flush=True)


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "—"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}" if unit == "GiB" else f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def ratio(ours: float | None, peer: float | None, what: str) -> str:
    """``ours / peer`` as ``0.26x time`` (so below 1 is faster, or smaller, for times and bytes)."""
    if not ours or not peer:
        return "—"
    return f"{ours / peer:.2f}x {what}"


@contextmanager
def timer() -> Iterator[Callable[[], float]]:
    """``with timer() as t: ...; t()`` — seconds elapsed (frozen when the block ends)."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS / VmHWM (peak RSS) and friends from ``/proc/<pid>/status``, in bytes.

    Read by hand rather than through psutil: it is four lines of Linux, and psutil is
    not among our dependencies.
    """
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key.startswith("Vm") and value.strip().endswith("kB"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


def tree_rss(pid: int) -> int:
    """RSS in bytes of ``pid`` and all its descendants (a Streamlit server plus its children)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            total += proc_status(current).get("VmRSS", 0)
            with open(f"/proc/{current}/task/{current}/children") as children:
                pids.extend(int(p) for p in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants that are alive now."""
    found, pids = [], [pid]
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/task/{current}/children") as children:
                pids.extend(int(p) for p in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
        found.append(current)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` (all its threads) has used so far; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_name(pid: int) -> str:
    """The kernel's short name of ``pid`` (``comm``); empty once it is gone."""
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **CHILD_ENV, **(extra or {})}
    # The benchmarks import `bench` and `embedcore` from the checkout, wherever they run.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def emit(result: Any) -> None:
    """Print a worker's result as the marked JSON line the parent reads."""
    print(RESULT_MARKER + json.dumps(result, default=_jsonable), flush=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Row):
        return value.to_json()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def run_fresh(
    target: str,
    kwargs: dict[str, Any] | None = None,
    *,
    timeout: float | None = 900,
    env: dict[str, str] | None = None,
) -> Any:
    """Call ``module:function(**kwargs)`` in a fresh interpreter and return what it returned.

    The function's return value must be JSON-serialisable. Its stderr passes through
    (progress logs); a failure raises ``RuntimeError`` with the child's last output.
    """
    command = [sys.executable, "-m", "bench.worker", target, json.dumps(kwargs or {})]
    completed = subprocess.run(
        command,
        cwd=ROOT,
        env=child_env(env),
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    tail = "\n".join(completed.stdout.splitlines()[-20:])
    raise RuntimeError(f"{target} exited with code {completed.returncode} and no result:\n{tail}")
