"""The app as Streamlit Community Cloud runs it, and what its visitors wait for and its memory holds.

An API-only install: a virtualenv made from ``requirements.txt`` alone (no PyTorch, no bundled
model; ``make cloud-venv`` builds it, ``$EMBEDCORE_CLOUD_PYTHON`` names another one), the app
started as Cloud starts it (``streamlit run app.py``, through :mod:`bench.cloud_server`, which
records the modules imported and the peak RSS), secrets with an operator's token,
``lock_endpoint = true`` and the base URL of :mod:`bench.fake_api` answering as IONOS does (three
models of 768/1024/1024 dimensions, MPNet's vectors not unit length, a bearer token required,
5 requests/s with bursts of 10). Every server starts with an empty embedding cache and an empty
numba cache (``NUMBA_CACHE_DIR``): a fresh container.

:func:`deployment` is that setup; the browser tests (``tests/browser/test_cloud.py``) use it too.
:func:`rows` is the ``cloud`` benchmark: for each workload a fresh server, a visitor in chromium,
and the server's peak RSS —

- **sample**: the default page opened, nothing pressed → first map, final UMAP map. Peers: the
  same without the server embedding the sample at start (``EMBEDCORE_WARM_UP=0``): the visitor
  presses Embed, as before (issue 23: 18-25 s); and the same app started again on the numba
  cache the first server wrote (a server restarted where its disk is kept).
- **10k**: the built-in ``docs`` sample (10,000 texts) chosen, Embed pressed → first map, UMAP;
- **20k**: a 20,000-text CSV uploaded (the most one run embeds), Embed pressed → first map, UMAP;
- **100k vectors**: a Parquet file of 100,000 texts with their vectors uploaded → map, or the
  app's refusal when it would not fit.

The peer of the memory rows is the full install (``requirements-local.txt``: the bundled model
loaded at start) through the same API, same workload, same run.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .common import ROOT, Row, child_env, fmt_s, log, proc_status
from .fake_api import FakeAPIProcess
from .first_visit import _IDLE, _MAP_DRAWN

#: The operator's token in the secrets of every Cloud deployment made here (a test value).
TOKEN = "cloud-operator-token-0123456789abcdef"
#: Names the Python of an API-only virtualenv; default :data:`DEFAULT_VENV`.
CLOUD_PYTHON_ENV = "EMBEDCORE_CLOUD_PYTHON"
DEFAULT_VENV = Path(os.environ.get("EMBEDCORE_CLOUD_VENV", "/tmp/embedcore-cloud-venv"))
#: Streamlit Community Cloud's smallest app (docs/FACTS.md).
CLOUD_MEMORY_MB = 690
#: Goals of issue 23 (a fresh container, two cores).
FIRST_MAP_GOAL_S = 8.0
FINAL_MAP_GOAL_S = 15.0

#: Any map (the PCA preview or the final one) / the final map only (its own element key).
ANY_MAP = "[data-testid='stMain'] .js-plotly-plot"
FINAL_MAP = ".st-key-explorer_map .js-plotly-plot"


def api_only_python() -> Path:
    """The Python of the API-only virtualenv; ``RuntimeError`` saying how to make it when missing."""
    configured = os.environ.get(CLOUD_PYTHON_ENV)
    python = Path(configured) if configured else DEFAULT_VENV / "bin" / "python"
    if not python.exists():
        raise RuntimeError(
            f"no API-only virtualenv at {python}: run `make cloud-venv` (or set {CLOUD_PYTHON_ENV})"
        )
    return python


def has_local_model(python: Path | str) -> bool:
    """Can ``python`` import torch or sentence-transformers (so it is not an API-only install)?"""
    code = (
        "import importlib.util as u; print(any(u.find_spec(m) for m in ('torch', 'sentence_transformers')))"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip() == "True"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Deployment:
    """A running Cloud-like app: its URL, server process, the fake API, and where it writes its record."""

    url: str
    process: subprocess.Popen
    api: FakeAPIProcess
    record_path: Path
    log_path: Path
    #: Filled by :meth:`stop`: ``{"modules": [...], "peak_rss": bytes}``.
    record: dict = field(default_factory=dict)

    def peak_rss(self) -> int:
        """The server's peak resident memory so far (VmHWM), in bytes."""
        return proc_status(self.process.pid)["VmHWM"]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> dict:
        """Stop the server the way a container is stopped (SIGTERM) and read its record."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.record and self.record_path.exists():
            self.record = json.loads(self.record_path.read_text())
        return self.record


@contextmanager
def deployment(
    workdir: Path,
    *,
    python: Path | str | None = None,
    warm_up: bool = True,
    rate: float = 5.0,
    burst: int = 10,
    memory_limit_mb: int | None = CLOUD_MEMORY_MB,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Iterator[Deployment]:
    """Start the fake IONOS API and the app on an API-only install, as an operator deploys it.

    Parameters
    ----------
    workdir : Path
        Secrets, caches, logs and the record go here (a fresh directory: a fresh container).
    python : path, optional
        The virtualenv's Python (default :func:`api_only_python`).
    warm_up : bool
        False sets ``EMBEDCORE_WARM_UP=0`` (nothing embedded or compiled at start).
    rate, burst : float, int
        The API's rate limit (IONOS: 5 requests/s, bursts of 10).
    memory_limit_mb : int or None
        ``EMBEDCORE_MEMORY_LIMIT_MB``: the memory of Cloud's smallest app by default (a
        container here has no limit of its own to read); None: no limit, nothing refused.
    env : dict, optional
        More environment for the app.
    """
    python = str(python or api_only_python())
    workdir.mkdir(parents=True, exist_ok=True)
    with FakeAPIProcess(token=TOKEN, rate=rate, burst=burst, max_seconds=3600, max_requests=100_000) as api:
        secrets = workdir / "secrets.toml"
        secrets.write_text(f'IONOS_API_TOKEN = "{TOKEN}"\nbase_url = "{api.url}"\nlock_endpoint = true\n')
        (workdir / "numba").mkdir(exist_ok=True)
        app_env = child_env(
            {
                "EMBEDCORE_CACHE_DIR": str(workdir / "cache"),
                "NUMBA_CACHE_DIR": str(workdir / "numba"),
                **(env or {}),
            }
        )
        for name in (
            "IONOS_API_TOKEN",
            "EMBEDCORE_BASE_URL",
            "EMBEDCORE_LOCK_ENDPOINT",
            "EMBEDCORE_DATABASE_URL",
        ):
            app_env.pop(name, None)
        app_env.pop("EMBEDCORE_MEMORY_LIMIT_MB", None)
        if memory_limit_mb:
            app_env["EMBEDCORE_MEMORY_LIMIT_MB"] = str(memory_limit_mb)
        if warm_up:
            app_env.pop("EMBEDCORE_WARM_UP", None)
        else:
            app_env["EMBEDCORE_WARM_UP"] = "0"
        port = _free_port()
        record_path, log_path = workdir / "record.json", workdir / "server.log"
        record_path.unlink(missing_ok=True)
        with log_path.open("w") as log_file:
            command = [python, str(ROOT / "bench" / "cloud_server.py"), str(record_path)]
            command += ["--server.port", str(port), "--secrets.files", str(secrets)]
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=app_env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        served = Deployment(f"http://127.0.0.1:{port}", process, api, record_path, log_path)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the app exited: {served.log_text()[-3000:]}")
                try:
                    with urllib.request.urlopen(f"{served.url}/_stcore/health", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"no health check in {timeout} s: {served.log_text()[-3000:]}"
                        ) from None
                    time.sleep(0.1)
            yield served
        finally:
            served.stop()


# --- what a visitor does -----------------------------------------------------------------------


#: Milliseconds a bench step may take: a first UMAP compile took 2-5 minutes on two cores shared
#: with other work (load average 12-17).
STEP_MS = 1_200_000


def wait_idle(page, timeout: float = STEP_MS) -> None:
    page.wait_for_function(_IDLE, timeout=timeout, polling=100)


def wait_map(page, selector: str, n: int, timeout: float = STEP_MS) -> None:
    page.wait_for_function(_MAP_DRAWN, arg=[selector, n, False], timeout=timeout, polling=50)


def first_visit(page, url: str, n: int = 100) -> dict:
    """Open the default page; seconds to the first map and to the final UMAP map (nothing pressed)."""
    t0 = time.perf_counter()
    page.goto(url)
    wait_map(page, ANY_MAP, n)
    first = time.perf_counter() - t0
    wait_map(page, FINAL_MAP, n)
    page.get_by_text(f"UMAP of {n:,} texts ·").first.wait_for(timeout=STEP_MS)
    final = time.perf_counter() - t0
    wait_idle(page)
    return {"first": first, "final": final}


def press_embed(page, n: int) -> dict:
    """Press the explorer's Embed; seconds to the first map of ``n`` points and to the final map."""
    wait_idle(page)
    t0 = time.perf_counter()
    page.locator(".st-key-explorer_embed button").click()
    wait_map(page, ANY_MAP, n, timeout=STEP_MS)
    first = time.perf_counter() - t0
    wait_map(page, FINAL_MAP, n, timeout=STEP_MS)
    page.get_by_text(f"UMAP of {n:,} texts ·").first.wait_for(timeout=STEP_MS)
    final = time.perf_counter() - t0
    wait_idle(page, timeout=STEP_MS)
    return {"first": first, "final": final}


def choose_sample(page, name: str) -> None:
    """Pick the sample ``name`` in the explorer's list, opened the way the browser tests open it.

    Scrolled to before the click (a click that scrolls the page opened the list and the scroll
    closed it), and clicked again when the list did not open: the full install's taller sidebar
    left it closed once, and the run then waited a whole step for an option never shown.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    box = page.locator(".st-key-explorer_sample").get_by_role("combobox")
    # Large samples are listed with their size ("docs — 10,000 texts").
    option = page.get_by_role("option", name=name).first
    for _ in range(3):
        box.scroll_into_view_if_needed()
        box.click()
        try:
            option.wait_for(state="visible", timeout=10_000)
        except PlaywrightTimeoutError:
            continue
        option.click()
        wait_idle(page)
        return
    raise RuntimeError(f"the sample list did not open to offer {name!r}")


def upload(page, path: Path) -> None:
    page.get_by_text("Upload", exact=True).first.click()
    wait_idle(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(path))


def choose_api(page) -> None:
    """On a full install the sidebar starts on the bundled model: switch to the configured endpoint.

    Checked, and clicked again when it did not take: a run of the 10k peer once waited 20 minutes
    for an Embed button that a local provider never shows.
    """
    import re

    radio = page.get_by_role("radio", name=re.compile("Configured endpoint"))
    for _ in range(3):
        page.get_by_text("Configured endpoint", exact=False).first.click()
        wait_idle(page)
        if radio.first.is_checked():
            return
    raise RuntimeError("the sidebar did not switch to the configured endpoint")


# --- the benchmark -----------------------------------------------------------------------------


def _texts_csv(path: Path, n: int) -> Path:
    from .corpus import load_texts

    texts, _ = load_texts(n)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text"])
        writer.writerows([t] for t in texts)
    return path


def _vectors_parquet(path: Path, n: int) -> Path:
    from embedcore import io

    from .large_data import MODEL, load_texts, load_vectors

    texts, labels = load_texts(n)
    path.write_bytes(io.to_parquet_bytes(texts, load_vectors(n), labels=labels, model=MODEL))
    return path


def _visit(page, app: Deployment, workload: str, files: dict, *, pressed: bool, full_install: bool) -> dict:
    """What one visitor does for ``workload``; seconds to the first and the final map."""
    if workload == "sample" and not pressed:
        return first_visit(page, app.url)
    page.goto(app.url)
    wait_idle(page)  # the default page done (its first UMAP compiled), as a visitor who looked first
    if full_install:
        choose_api(page)
    if workload == "sample":
        return press_embed(page, 100)
    if workload == "10k":
        choose_sample(page, "docs")
        return press_embed(page, 10_000)
    if workload == "20k":
        upload(page, files["20k"])
        page.get_by_text("20,000 texts").first.wait_for(timeout=STEP_MS)
        return press_embed(page, 20_000)
    # 100k vectors: shown as they are, or refused before they are read.
    t0 = time.perf_counter()
    upload(page, files["100k"])
    refused = page.get_by_text("does not fit", exact=False).first
    drawn = page.locator(ANY_MAP)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and not refused.is_visible() and not drawn.count():
        time.sleep(0.2)
    out = {"refused": refused.is_visible()}
    if not out["refused"]:
        wait_map(page, ANY_MAP, 100_000, timeout=STEP_MS)
    out["first"] = time.perf_counter() - t0
    wait_idle(page, timeout=STEP_MS)
    return out


def _workload(
    browser, python: str, workload: str, files: dict, *, pressed: bool = False, numba_dir: Path | None = None
) -> dict:
    """One fresh server (no memory limit: what the work takes), one visitor; times and peak RSS.

    ``pressed``: the server embeds nothing at start (``EMBEDCORE_WARM_UP=0``) and the visitor
    presses Embed. ``numba_dir``: numba's disk cache (API-only install; default an empty one, as
    a fresh container has).
    """
    full_install = has_local_model(python)
    # The full install keeps numba's disk cache as `make` left it (prepare --maps); the API-only one
    # starts from an empty one, as a fresh container does, unless one is handed over.
    if full_install:
        numba = {"NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", "")}
    else:
        numba = {"NUMBA_CACHE_DIR": str(numba_dir)} if numba_dir else {}
    with (
        tempfile.TemporaryDirectory(prefix=f"bench-cloud-{workload}-") as tmp,
        deployment(Path(tmp), python=python, warm_up=not pressed, memory_limit_mb=None, env=numba) as app,
    ):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        # Every wait as long as a bench step: playwright's 30 s default failed two runs on a quiet
        # machine (the file uploader of a server loading the bundled model, its Embed button).
        context.set_default_timeout(STEP_MS)
        page = context.new_page()
        try:
            out = _visit(page, app, workload, files, pressed=pressed, full_install=full_install)
        except Exception:
            # What the visitor saw when a step failed or timed out: a full-install 10k peer once
            # waited out a step with its server idle, and nothing showed where it stood.
            shot = (
                ROOT
                / "bench"
                / "results"
                / f"cloud-{workload}-{'full' if full_install else 'api'}-failed.png"
            )
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
            log(f"{workload}: a step failed; the page is in {shot}")
            raise
        finally:
            context.close()
        out["peak_rss"] = app.peak_rss()
        record = app.stop()
        out["torch"] = any(
            m.split(".")[0] in {"torch", "sentence_transformers"} for m in record.get("modules", [])
        )
        out["tracebacks"] = app.log_text().count("Traceback")
    how = ("full install" if full_install else "API-only") + (", pressed" if pressed else "")
    how += ", numba cache handed over" if numba_dir and not full_install else ""
    log(f"{workload} ({how}) at load {os.getloadavg()[0]:.1f}: {out}")
    return out


def rows(quick: bool = False) -> list[Row]:
    import sys

    from playwright.sync_api import sync_playwright

    from tests.browser.chromium import launch_chromium

    cloud = str(api_only_python())
    full = sys.executable  # make bench runs in the full install
    workloads = ("sample", "10k") if quick else ("sample", "10k", "20k", "100k")
    with tempfile.TemporaryDirectory(prefix="bench-cloud-files-") as tmp:
        files = {"20k": _texts_csv(Path(tmp) / "texts-20k.csv", 20_000)}
        if "100k" in workloads:
            files["100k"] = _vectors_parquet(Path(tmp) / "vectors-100k.parquet", 100_000)
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            try:
                # The first-visit rows first, then each workload and its peer side by side. The
                # first server fills a numba cache; the second starts on it, as a server restarted
                # in the same container (or on a disk that keeps it) does.
                numba_dir = Path(tmp) / "numba"
                numba_dir.mkdir()
                ours = {"sample": _workload(browser, cloud, "sample", files, numba_dir=numba_dir)}
                restarted = _workload(browser, cloud, "sample", files, numba_dir=numba_dir)
                pressed = _workload(browser, cloud, "sample", files, pressed=True)
                peers = {}
                for w in workloads:
                    if w not in ours:
                        ours[w] = _workload(browser, cloud, w, files)
                    peers[w] = _workload(browser, full, w, files)
            finally:
                browser.close()
    sample = ours["sample"]
    limit = CLOUD_MEMORY_MB * 2**20
    note = "fresh server, empty embedding and numba caches; API at IONOS's 5 requests/s"

    def visit_row(what: str, key: str, goal_s: float, more: str = "") -> Row:
        return Row(
            f"Cloud (API-only) first visit: {what}",
            "warm-up off: the visitor presses Embed (before issue 23)",
            fmt_s(sample[key]),
            fmt_s(pressed[key]),
            f"{sample[key] / pressed[key]:.2f}x time",
            f"≤ {goal_s:g} s",
            sample[key] <= goal_s,
            [note + more],
        )

    def restart_row(what: str, key: str, goal_s: float) -> Row:
        return Row(
            f"Cloud (API-only) first visit: {what}, fresh numba cache",
            "the same, numba's disk cache kept (a restarted server)",
            fmt_s(sample[key]),
            fmt_s(restarted[key]),
            f"{sample[key] / restarted[key]:.2f}x time",
            f"≤ {goal_s:g} s",
            sample[key] <= goal_s,
            [note + "; both from navigation, nothing pressed"],
        )

    out = [
        visit_row(
            "first map, nothing pressed",
            "first",
            FIRST_MAP_GOAL_S,
            "; ours from navigation, the peer from the click",
        ),
        visit_row("final UMAP map", "final", FINAL_MAP_GOAL_S),
        restart_row("first map", "first", FIRST_MAP_GOAL_S),
        restart_row("final UMAP map", "final", FINAL_MAP_GOAL_S),
    ]
    names = {
        "sample": "the 100-text sample",
        "10k": "the 10k docs sample",
        "20k": "a 20,000-text upload",
        "100k": "a 100k-row vector file",
    }
    for workload in workloads:
        got, peer = ours[workload], peers[workload]
        times = (
            "refused before reading"
            if got.get("refused")
            else f"map {fmt_s(got.get('first'))}"
            + (f", UMAP {fmt_s(got['final'])}" if "final" in got else "")
        )
        out.append(
            Row(
                f"Cloud (API-only) peak RSS, {names[workload]}",
                "full install (requirements-local.txt), same API and workload",
                f"{got['peak_rss'] / 2**20:,.0f} MiB",
                f"{peer['peak_rss'] / 2**20:,.0f} MiB",
                f"{got['peak_rss'] / peer['peak_rss']:.2f}x memory",
                f"≤ {CLOUD_MEMORY_MB} MB, or refused with a message",
                (got["peak_rss"] <= limit or bool(got.get("refused"))) and not got["torch"],
                [
                    f"{times} (from navigation, or from the click / upload); torch imported: {got['torch']}; "
                    f"tracebacks in the log: {got['tracebacks']}"
                ],
            )
        )
    return out
