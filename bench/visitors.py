"""Many visitors at once: eight chromium sessions uploading their own texts to one server.

One server started as ``make run`` starts it (``scripts/serve.py``, a fresh
``EMBEDCORE_CACHE_DIR``, the bundled offline model), warmed by a first visit that draws the
default map. Then:

- **alone**: one visitor uploads its own 400 texts (a CSV) to the explorer; the clock runs from
  the file handed to the uploader to the final UMAP map of those 400 texts drawn, page idle
  (three times, new texts each: the median run is the peer);
- **together**: eight visitors, each in its own browser context with its own 400 texts (no
  visitor's texts are in the cache), hand their files over at the same moment.

The peer is the *fair share*: if the server shared its cores perfectly, eight visitors on
``c`` usable cores would each wait ``8 × alone / c``. The row reports the slowest visitor against
that (goal ≤ 1.3x), that every visitor got a map, how many exceptions pages and the server log
showed, and the server's peak RSS (process tree, sampled every 0.2 s).

chromium draws all eight pages on the server's cores, which visitors' own browsers would not, so
the bench also reads CPU seconds (``/proc``), for the median alone run and for the eight together:

- of the server's process tree and of every chromium process, per visitor, together against
  alone: what sharing adds to the server's own work, apart from the browsers';
- the slowest visitor against ``8 × (server + chromium CPU of one visitor alone) / c``: the least
  time in which the cores can do the work at all. The fair share counts one core per visitor; when
  one visitor alone keeps more than one core busy (the model encodes on two threads, chromium
  draws while the server works), the fair share is below that floor and cannot be reached.

chromium runs at the server's priority: as root it would renice its GPU process and compositor
threads to -8 (about six times the server's CPU weight); it is started without CAP_SYS_NICE.
``visitors_browsers_below`` (:func:`rows_browsers_below_server`) runs the same with chromium at
nice 19, so the browsers take only what the server leaves idle: the nearest these two cores come
to visitors whose browsers run on their own machines, which the fair share assumes.
"""

from __future__ import annotations

import asyncio
import csv
import os
import shlex
import shutil
import tempfile
import threading
import time
from pathlib import Path

from tests.browser.chromium import CHROMIUM, launch_chromium

from .common import Row, cpu_seconds, fmt_bytes, fmt_s, log, process_name, tree_pids, tree_rss
from .first_visit import _IDLE, _MAP_DRAWN, _start, _stop, _wait_settled

VISITORS = 8
TEXTS_EACH = 400
GOAL = 1.3
#: One visitor alone is measured this many times (new texts each); the peer is the median run.
ALONE_RUNS = 3
#: Longest any one visitor may wait before the run counts it as not served.
VISIT_TIMEOUT_MS = 600_000


def _write_csv(path: Path, texts: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text"])
        writer.writerows([t] for t in texts)


class _PeakRSS:
    """Samples a process tree's RSS in a thread until stopped; ``peak`` in bytes."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, tree_rss(self.pid))

    def __enter__(self) -> _PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _chromium_at_priority(folder: Path, nice: int) -> str:
    """chromium at the server's priority (``nice=0``, :func:`_chromium_at_equal_priority`) or below it.

    At nice 19 the browsers get the cores only when the server leaves them idle: the server's
    work runs as if the browsers were on their visitors' own machines, and each page is drawn
    in the gaps (after its map is sent, or while the server waits).
    """
    chromium = _chromium_at_equal_priority(folder)
    if not nice:
        return chromium
    wrapper = folder / f"chromium-nice-{nice}"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n {int(nice)} {shlex.quote(chromium)} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def _chromium_at_equal_priority(folder: Path) -> str:
    """chromium, unable to raise its own threads above the server's priority.

    Run as root, chromium renices its GPU process and every page's compositor thread to nice -8
    (CAP_SYS_NICE allows it): about six times the CPU weight of the server at nice 0 whenever
    they are runnable. A visitor's browser runs on the visitor's machine and takes nothing from
    the server; on the bench's two cores it must share them, and does so at the server's own
    priority. As another user than root this changes nothing (chromium cannot renice then either).
    """
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        return CHROMIUM
    wrapper = folder / "chromium-equal-priority"
    wrapper.write_text(
        f'#!/bin/sh\nexec {shlex.quote(setpriv)} --bounding-set=-sys_nice --inh-caps=-sys_nice {shlex.quote(CHROMIUM)} "$@"\n'
    )
    wrapper.chmod(0o755)
    return str(wrapper)


class _CPU:
    """CPU seconds of the server's process tree and of the bench's chromium, between readings.

    Per process, so one that starts between two readings (a new page's renderer) counts from 0.
    """

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def read(self) -> dict:
        server = set(tree_pids(self.server_pid))
        mine = [p for p in tree_pids(os.getpid()) if p not in server and process_name(p).startswith("chrom")]
        return {
            "wall": time.perf_counter(),
            "server": {p: cpu_seconds(p) for p in server},
            "chromium": {p: cpu_seconds(p) for p in mine},
        }

    @staticmethod
    def used(before: dict, after: dict) -> dict:
        """``{"wall", "server", "chromium"}``: seconds elapsed and CPU seconds used in between."""
        out = {"wall": after["wall"] - before["wall"]}
        for group in ("server", "chromium"):
            out[group] = sum(max(cpu - before[group].get(p, 0.0), 0.0) for p, cpu in after[group].items())
        return out


async def _open_explorer(browser, url: str):
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    # Clicks too: eight pages opened at once on a loaded machine took longer than playwright's 30 s.
    context.set_default_timeout(VISIT_TIMEOUT_MS)
    page = await context.new_page()
    await page.goto(url)
    await page.get_by_text("UMAP of 100 texts").first.wait_for(timeout=VISIT_TIMEOUT_MS)
    await page.wait_for_function(_IDLE, timeout=VISIT_TIMEOUT_MS)
    await page.get_by_text("Upload", exact=True).click()
    await page.wait_for_function(_IDLE, timeout=VISIT_TIMEOUT_MS)
    return context, page


async def _upload_to_map(page, csv_path: Path, start: asyncio.Event) -> dict:
    """Hand ``csv_path`` to the explorer's uploader when ``start`` is set; seconds to the final map."""
    await start.wait()
    t0 = time.perf_counter()
    await page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(csv_path))
    await page.wait_for_function(
        _MAP_DRAWN,
        # At least: the map of clusters adds a trace of cluster names to the texts' points.
        arg=[".st-key-explorer_map .js-plotly-plot", TEXTS_EACH, False],
        timeout=VISIT_TIMEOUT_MS,
        polling=100,
    )
    first = time.perf_counter() - t0
    await page.get_by_text(f"UMAP of {TEXTS_EACH} texts").first.wait_for(timeout=VISIT_TIMEOUT_MS)
    await page.wait_for_function(_IDLE, timeout=VISIT_TIMEOUT_MS, polling=100)
    final = time.perf_counter() - t0
    exceptions = await page.locator("[data-testid='stException']").count()
    return {"first": first, "final": final, "exceptions": exceptions}


async def _visits(
    url: str, files: list[Path], process_pid: int, visitors: int, chromium: str
) -> tuple[dict, list, dict]:
    from playwright.async_api import async_playwright

    cpu = _CPU(process_pid)
    async with async_playwright() as pw:
        browser = await launch_chromium(pw, executable_path=chromium)
        try:
            # Warm the server as a first visitor would (model load, UMAP's compiled code).
            context, _ = await _open_explorer(browser, url)
            await context.close()
            await asyncio.to_thread(_wait_settled, process_pid)

            runs = []
            for path in files[:ALONE_RUNS]:  # the peer's own spread is large on a shared machine
                context, page = await _open_explorer(browser, url)
                go = asyncio.Event()
                go.set()
                before = cpu.read()
                runs.append(await _upload_to_map(page, path, go))
                runs[-1]["cpu"] = cpu.used(before, cpu.read())
                await context.close()
                log(
                    f"alone: first map {runs[-1]['first']:.1f} s, final {runs[-1]['final']:.1f} s, CPU server "
                    f"{runs[-1]['cpu']['server']:.1f} s, chromium {runs[-1]['cpu']['chromium']:.1f} s"
                )
                await asyncio.to_thread(_wait_settled, process_pid)
            alone = sorted(runs, key=lambda r: r["final"])[len(runs) // 2]

            opened = await asyncio.gather(*(_open_explorer(browser, url) for _ in range(visitors)))
            await asyncio.to_thread(_wait_settled, process_pid)
            go = asyncio.Event()
            tasks = [
                asyncio.create_task(_upload_to_map(page, path, go))
                for (_, page), path in zip(opened, files[ALONE_RUNS:], strict=True)
            ]
            before = cpu.read()
            go.set()
            together = await asyncio.gather(*tasks, return_exceptions=True)
            used = cpu.used(before, cpu.read())
            log(
                f"together: {used['wall']:.1f} s, CPU server {used['server']:.1f} s, chromium {used['chromium']:.1f} s"
            )
            for context, _ in opened:
                await context.close()
        finally:
            await browser.close()
    return alone, together, used


def rows_browsers_below_server(quick: bool = False) -> list[Row]:
    """:func:`rows` with chromium at nice 19: the server's cores as if the browsers were elsewhere."""
    return rows(quick, browser_nice=19)


def rows(quick: bool = False, browser_nice: int = 0) -> list[Row]:
    import sys

    from embedcore.system import usable_cores

    from .corpus import load_texts

    visitors = 3 if quick else VISITORS
    corpus, _ = load_texts(TEXTS_EACH * (VISITORS + ALONE_RUNS))
    with tempfile.TemporaryDirectory(prefix="bench-visitors-") as tmp:
        files = []
        for i in range(visitors + ALONE_RUNS):
            path = Path(tmp) / f"visitor-{i}.csv"
            _write_csv(path, corpus[i * TEXTS_EACH : (i + 1) * TEXTS_EACH])
            files.append(path)
        log_path = Path(tmp) / "server.log"
        chromium = _chromium_at_priority(Path(tmp), browser_nice)
        process, url, _ = _start([sys.executable, "scripts/serve.py"], tmp, log_path)
        try:
            with _PeakRSS(process.pid) as rss:
                alone, together, used = asyncio.run(_visits(url, files, process.pid, visitors, chromium))
        finally:
            _stop(process)
        tracebacks = log_path.read_text(errors="replace").count("Traceback")
    served = [r for r in together if isinstance(r, dict)]
    failed = [r for r in together if not isinstance(r, dict)]
    for r in failed:
        log(f"a visitor was not served: {r!r}")
    cores = usable_cores()
    fair = visitors * alone["final"] / cores
    slowest = max((r["final"] for r in served), default=float("nan"))
    exceptions = sum(r["exceptions"] for r in served) + tracebacks
    ratio_ = slowest / fair
    finals = sorted(r["final"] for r in served)
    one = alone["cpu"]  # the median alone run's CPU seconds
    alone_cpu = one["server"] + one["chromium"]
    # Eight visitors need at least eight times one visitor's CPU seconds; on ``cores`` cores no
    # schedule finishes the last of them sooner than this.
    floor = visitors * alone_cpu / cores
    server_each, chromium_each = used["server"] / visitors, used["chromium"] / visitors
    return [
        Row(
            f"{visitors} visitors at once, each uploading {TEXTS_EACH} texts → final map (slowest)"
            + (f", chromium at nice {browser_nice}" if browser_nice else ""),
            f"fair share: {visitors} × one visitor alone ÷ {cores} cores",
            fmt_s(slowest),
            fmt_s(fair),
            f"{ratio_:.2f}x time",
            f"≤ {GOAL}x, all served, 0 exceptions",
            ratio_ <= GOAL and not failed and exceptions == 0,
            [
                f"served {len(served)}/{visitors}; exceptions on pages and in the server log: {exceptions}; "
                f"server peak RSS {fmt_bytes(rss.peak)}; one visitor alone {fmt_s(alone['final'])} (median of {ALONE_RUNS}) "
                f"(first map {fmt_s(alone['first'])}); all finals: {', '.join(fmt_s(f) for f in finals)}; "
                f"one visitor alone kept {alone_cpu / alone['final']:.2f} of the {cores} cores busy (server "
                f"{fmt_s(one['server'])} + chromium {fmt_s(one['chromium'])} of CPU in {fmt_s(alone['final'])})"
                + (
                    ": more than the one core a visitor's fair share counts, so no schedule reaches it"
                    if alone_cpu > alone["final"]
                    else ""
                )
                + (
                    "; chromium draws every page on the same cores, at the server's priority"
                    if not browser_nice
                    else f"; chromium draws every page on the same cores at nice {browser_nice}: in the "
                    "server's idle moments, as if the browsers were on the visitors' machines"
                )
            ],
        ),
        Row(
            f"the same, against the CPU one visitor alone uses (server + chromium) × {visitors} ÷ {cores} cores",
            f"{visitors} × (server + chromium CPU seconds of one visitor alone) ÷ {cores} cores",
            fmt_s(slowest),
            fmt_s(floor),
            f"{slowest / floor:.2f}x time",
            "—",
            None,
            [
                "the least time in which the cores can do eight visitors' work at one visitor's cost; "
                "above 1x is work added by being together (or the machine's other load)"
            ],
        ),
        Row(
            f"server CPU per visitor, {visitors} at once",
            "server CPU of one visitor alone",
            fmt_s(server_each),
            fmt_s(one["server"]),
            f"{server_each / one['server']:.2f}x CPU",
            "—",
            None,
            [
                f"the server's process tree, from the files handed over to the last map drawn ({used['server']:.1f} CPU-s "
                f"in all); what the app itself costs per visitor when many share it: GIL handovers, queueing, reruns"
            ],
        ),
        Row(
            f"chromium CPU per visitor, {visitors} at once",
            "chromium CPU of one visitor alone",
            fmt_s(chromium_each),
            fmt_s(one["chromium"]),
            f"{chromium_each / one['chromium']:.2f}x CPU",
            "—",
            None,
            [
                f"every chromium process of the bench ({used['chromium']:.1f} CPU-s in all): drawing the pages, and "
                "animating the ones that wait — work a visitor's own browser does on the visitor's machine"
            ],
        ),
    ]
