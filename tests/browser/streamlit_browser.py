"""Helpers the browser tests share: wait for Streamlit to settle, read Plotly charts, keep screenshots.

Waiting on Streamlit
--------------------
The app root carries two attributes the frontend keeps up to date (Streamlit's own
end-to-end tests wait on them): ``data-test-connection-state`` (``CONNECTED`` once the
websocket is up) and ``data-test-script-state`` (``initial`` -> ``running`` ->
``notRunning``). Two traps: loading a page runs the script twice with a ~0.1 s
``notRunning`` gap between the runs, and right after a click the state still reads
``notRunning`` until the rerun request reaches the server. So a MutationObserver
(:data:`RUN_COUNTER_SCRIPT`, installed in every page by :func:`new_session`) counts the runs
and stamps the last state change; :func:`wait_until_idle` wants ``notRunning`` *for a while*,
and :func:`rerun` first waits for the run count to move. Tests then still wait for the
specific element they expect: the script finishing is not Plotly having drawn.
"""

from __future__ import annotations

import contextlib
import io
import math
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DOCS = Path(__file__).resolve().parents[2] / "docs"
#: Generous: the first run in a server imports sentence-transformers and compiles numba,
#: and CI machines are shared with other jobs.
RUN_TIMEOUT = 240_000

#: Keeps, per page load, ``window.__stBusyCount`` (how often the app entered a state other
#: than ``notRunning``) and ``window.__stLastChange`` (when the state last changed). It watches
#: element insertion too: the app root may be created already ``running``.
RUN_COUNTER_SCRIPT = """
(() => {
  window.__stBusyCount = 0;
  window.__stLastChange = performance.now();
  window.__stLog = [];  // [ms since load, state]: for failure messages
  let last = null;
  const check = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    const script = app ? app.getAttribute('data-test-script-state') : null;
    const state = app ? script + '|' + app.getAttribute('data-test-connection-state') : null;
    if (state === last) return;
    const before = last ? last.split('|')[0] : null;
    if (script && script !== 'notRunning' && script !== before) window.__stBusyCount += 1;
    last = state;
    window.__stLastChange = performance.now();
    window.__stLog.push([Math.round(window.__stLastChange), state]);
    if (window.__stLog.length > 60) window.__stLog.shift();
  };
  const watch = () => new MutationObserver(check).observe(document.documentElement, {
    subtree: true, childList: true, attributes: true,
    attributeFilter: ['data-test-script-state', 'data-test-connection-state'],
  });
  if (document.documentElement) watch(); else document.addEventListener('DOMContentLoaded', watch);
})();
"""

_APP = '[data-testid="stApp"]'
_IDLE = """(settle) => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && performance.now() - (window.__stLastChange || 0) >= settle;
}"""


def wait_until_idle(page, timeout: float = RUN_TIMEOUT, settle: float = 700) -> None:
    """Wait until the app is connected and has been ``notRunning`` for ``settle`` ms.

    The quiet period matters: loading a page runs the script twice in a row (the second run
    starts ~0.1 s after the first ends), and a rerun started by ``st.rerun()`` follows its
    predecessor just as closely.
    """
    page.wait_for_selector(_APP, state="attached", timeout=timeout)
    page.wait_for_function(_IDLE, arg=settle, timeout=timeout, polling=100)


def new_session(browser, base_url: str, *, width: int = 1400, height: int = 1000):
    """A new browser context and page on ``base_url`` (a new Streamlit session): ``(context, page)``.

    The page gets ``page.app_url`` and ``page.js_errors`` (uncaught JavaScript errors).
    """
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    context.add_init_script(RUN_COUNTER_SCRIPT)
    page = context.new_page()
    page.set_default_timeout(120_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.app_url = base_url
    page.js_errors = errors
    return context, page


@contextlib.contextmanager
def no_new_traceback(log_path: Path):
    """The body must add no traceback to the server log: an exception a page swallowed or only
    logged is still a bug."""
    log_start = log_path.stat().st_size
    yield
    with open(log_path, errors="replace") as log:
        log.seek(log_start)
        new_output = log.read()
    assert "Traceback" not in new_output, new_output[-4000:]


def _busy_count(page) -> int:
    return int(page.evaluate("() => window.__stBusyCount || 0"))


@contextlib.contextmanager
def rerun(page, timeout: float = RUN_TIMEOUT, start_timeout: float = 15_000):
    """Run the body (a click, a key press, a drag), then wait for the rerun it causes to finish.

    If no rerun starts within ``start_timeout`` ms (an interaction Streamlit handles without
    one), carry on: callers wait for the element they expect anyway.
    """
    before = _busy_count(page)
    yield
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(
            "(n) => (window.__stBusyCount || 0) > n", arg=before, timeout=start_timeout, polling=50
        )
    wait_until_idle(page, timeout)


def assert_healthy(page) -> None:
    """No Streamlit exception box, no "page not found" dialog, no uncaught JavaScript error."""
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, exceptions.all_inner_texts()
    dialogs = [t for t in page.locator('[data-testid="stDialog"]').all_inner_texts() if "not found" in t]
    assert not dialogs, dialogs
    assert not page.js_errors, page.js_errors


def open_page(page, path: str = "", timeout: float = RUN_TIMEOUT) -> None:
    """Load ``/<path>`` in a fresh session and wait for its first run to finish."""
    page.goto(f"{page.app_url}/{path}")
    wait_until_idle(page, timeout)
    assert_healthy(page)


def go_to(page, link: str) -> None:
    """Another page of the app in the same session (page.goto would start a new one)."""
    with rerun(page):
        # Our page list (ui.common.navigation.draw_page_links): st.page_link elements in the sidebar.
        page.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]').get_by_text(
            link, exact=True
        ).click()
    assert_healthy(page)


def element(page, key: str):
    """The element a widget or chart was given ``key=`` for (Streamlit adds ``st-key-<key>``)."""
    return page.locator(f".st-key-{key}")


def paste_texts(page, texts: list[str]) -> None:
    """In the explorer's text panel: choose Paste, type ``texts`` one per line, apply (Ctrl+Enter)."""
    with rerun(page):
        page.get_by_text("Paste", exact=True).first.click()
    area = element(page, "explorer_paste").locator("textarea")
    area.fill("\n".join(texts))
    with rerun(page):
        area.press("Control+Enter")


def choose(page, key: str, option: str) -> None:
    """Pick ``option`` (its visible label) in the selectbox created with ``key=``; wait for the rerun."""
    box = element(page, key).get_by_role("combobox")
    # Scrolled to first: a click that has to scroll the page opened the list, and the scroll
    # closed it again.
    box.scroll_into_view_if_needed()
    box.click()
    with rerun(page):
        page.get_by_role("option", name=option, exact=True).click()


def open_sample_collection(page) -> None:
    """Search page: build the sample collection, or open it when an earlier test on this server built it."""
    button = element(page, "search_sample").get_by_role("button")
    if not button.is_visible():  # "New collection" starts closed once a collection exists
        page.locator('[data-testid="stMain"]').get_by_text("New collection", exact=True).first.click()
        button.wait_for(state="visible")
    with rerun(page):
        button.click()


def click_button(page, name: str) -> None:
    """Click the button named ``name`` and wait for the rerun it starts."""
    with rerun(page):
        page.get_by_role("button", name=name, exact=True).click()


def title(page) -> str:
    return page.locator("h1").first.inner_text().strip()


def run_log(page) -> list:
    """The app's recent script states, ``[[ms since load, "state|connection"], ...]``."""
    return page.evaluate("() => window.__stLog || []")


def metrics(page, *expected: str, timeout: float = 60_000) -> dict[str, str]:
    """``{label: value}`` of the ``st.metric`` elements on the page.

    Waits (up to ``timeout`` ms) until every label in ``expected`` is there.
    """
    deadline = time.monotonic() + timeout / 1000
    while True:
        found = {}
        for metric in page.locator('[data-testid="stMetric"]').all():
            with contextlib.suppress(PlaywrightTimeout):
                label = metric.locator('[data-testid="stMetricLabel"]').inner_text(timeout=2_000).strip()
                found[label] = (
                    metric.locator('[data-testid="stMetricValue"]').inner_text(timeout=2_000).strip()
                )
        if all(label in found for label in expected):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"metrics {expected} not shown; found {found}; runs {run_log(page)}")
        time.sleep(0.2)


def grid_text(dataframe) -> str:
    """Visible cell text of an ``st.dataframe``.

    The grid paints on a canvas; its accessibility layer keeps the visible rows as a table.
    """
    dataframe.locator("table").first.wait_for(state="attached")
    return dataframe.locator("table").first.evaluate("t => t.textContent")


# --- Plotly -------------------------------------------------------------------------------------

_PLOT_STATE = """(g) => {
  const data = g._fullData || [];
  const layout = g._fullLayout || {};
  const length = (a) => (a && a.length !== undefined) ? a.length : 0;
  return {
    traces: data.map((t) => ({
      type: t.type, name: t.name, visible: t.visible,
      n: length(t.x) || length(t.z) || length(t.y) || length(t.r),
      rows: length(t.z), cols: t.z && t.z[0] ? length(t.z[0]) : 0,
    })),
    dragmode: layout.dragmode,
    mainSvg: g.querySelectorAll('.main-svg').length,
    svgPoints: g.querySelectorAll('.scatterlayer .point').length,
    bars: g.querySelectorAll('.barlayer .point path, .barlayer .point').length,
    heatmapImages: g.querySelectorAll('.heatmaplayer image, .hm image').length,
    glCanvases: g.querySelectorAll('.gl-container canvas').length,
    width: g.getBoundingClientRect().width, height: g.getBoundingClientRect().height,
  };
}"""

_DRAWN = """(g) => !!(g && g._fullData && g._fullData.length && g._fullLayout
  && g.querySelector('.main-svg') && g.getBoundingClientRect().width > 50)"""


def plot(page, key: str, timeout: float = RUN_TIMEOUT):
    """The Plotly graph div of the chart drawn with ``key=``, once Plotly has drawn it."""
    graph = element(page, key).locator(".js-plotly-plot").first
    graph.wait_for(state="attached", timeout=timeout)
    graph.evaluate(
        f"async (g) => {{ const drawn = {_DRAWN}; for (let i = 0; i < 600 && !drawn(g); i++) await new Promise(r => setTimeout(r, 100)); }}"
    )
    assert graph.evaluate(_DRAWN), f"Plotly chart {key!r} was not drawn"
    return graph


def plot_state(graph) -> dict:
    """Traces (type, name, point count, heatmap shape) and what Plotly put in the DOM."""
    return graph.evaluate(_PLOT_STATE)


def scatter_points(graph) -> list[dict]:
    """Every marker of a 2-D scatter: page position (``px``, ``py``), ``row`` (customdata), trace name.

    Positions come from Plotly's own axes (``l2p``) and the graph's box, so they are where a
    mouse has to go.
    """
    graph.scroll_into_view_if_needed()
    return graph.evaluate(
        """(g) => {
          const L = g._fullLayout, box = g.getBoundingClientRect(), out = [];
          for (const t of g._fullData) {
            if (!t.customdata || !(t.type === 'scatter' || t.type === 'scattergl')) continue;
            const xa = L[t.xaxis.replace('x', 'xaxis')], ya = L[t.yaxis.replace('y', 'yaxis')];
            for (let i = 0; i < t.x.length; i++) {
              const c = t.customdata[i];
              out.push({px: box.left + xa._offset + xa.l2p(t.x[i]), py: box.top + ya._offset + ya.l2p(t.y[i]),
                        row: Array.isArray(c) || ArrayBuffer.isView(c) ? Number(c[0]) : Number(c), name: t.name});
            }
          }
          return out;
        }"""
    )


#: Data coordinates of every text on a 2-D map, by row (Plotly's own traces; rings, lines, names,
#: the query star and Find's matches left out).
_POSITIONS = """(g) => {
  const out = {};
  for (const t of g._fullData) {
    if (!t.customdata || ['links', 'names', 'neighbours', 'query'].includes(t.name)
        || (t.name || '').startsWith('matches')) continue;
    for (let i = 0; i < t.x.length; i++) {
      const c = t.customdata[i];
      out[Array.isArray(c) || ArrayBuffer.isView(c) ? Number(c[0]) : Number(c)] = [t.x[i], t.y[i]];
    }
  }
  return out;
}"""

_MARKED = """(g) => g._fullData.flatMap((t) => (t.selectedpoints || []).map((i) => {
  const c = t.customdata[i]; return Array.isArray(c) || ArrayBuffer.isView(c) ? Number(c[0]) : Number(c);
}))"""


def map_positions(graph) -> dict:
    """``{row (as text): [x, y]}`` of every text on a 2-D map, as Plotly holds them."""
    return graph.evaluate(_POSITIONS)


def marked_rows(graph) -> list[int]:
    """Rows Plotly draws as selected (``selectedpoints``), sorted."""
    return sorted(graph.evaluate(_MARKED))


def box_select(page, graph, rows_wanted: int = 10) -> list[int]:
    """Drag a box with the mouse (the modebar's box tool) over the ``rows_wanted`` left-most markers
    (and any that share their columns); the rows inside it."""
    points = scatter_points(graph)
    # A box from the left-most marker to the right edge of the ~rows_wanted left-most ones.
    by_x = sorted(points, key=lambda p: p["px"])
    chosen = by_x[:rows_wanted]
    x0, x1 = chosen[0]["px"] - 6, (chosen[-1]["px"] + by_x[rows_wanted]["px"]) / 2
    y0 = min(p["py"] for p in points) - 6
    y1 = max(p["py"] for p in points) + 6
    inside = sorted(p["row"] for p in points if x0 < p["px"] < x1 and y0 < p["py"] < y1)
    graph.hover()
    graph.locator('.modebar-btn[data-attr="dragmode"][data-val="select"]').click()
    page.mouse.move(x0, y0)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(x0 + (x1 - x0) * step / 20, y0 + (y1 - y0) * step / 20)
    page.mouse.up()
    return inside


def lasso_around(
    page, graph, points: list[dict], centre: dict, *, radii=range(24, 90, 2), margin=5.0
) -> list[int]:
    """Drag a circular lasso with the mouse around ``centre``; return the rows it must select.

    The radius is chosen so that no marker lies within ``margin`` pixels of the lasso line,
    so which points are inside is not a matter of rounding. The mouse moves in small steps
    like a hand would: Plotly builds the lasso from the mouse-move events.
    """
    cx, cy = centre["px"], centre["py"]
    distances = [math.hypot(p["px"] - cx, p["py"] - cy) for p in points]
    for radius in radii:
        if all(abs(d - radius) > margin for d in distances):
            break
    else:
        raise AssertionError("no lasso radius keeps clear of every marker")
    inside = sorted(p["row"] for p, d in zip(points, distances, strict=True) if d < radius)
    page.mouse.move(cx + radius, cy)
    page.mouse.down()
    steps = 48
    for k in range(1, steps + 1):
        angle = 2 * math.pi * k / steps
        page.mouse.move(cx + radius * math.cos(angle), cy + radius * math.sin(angle), steps=2)
    page.mouse.up()
    return inside


# --- screenshots --------------------------------------------------------------------------------


def screenshot(page, name: str, *, full: bool = True, max_height: int = 5000) -> Path:
    """Save ``tests/artifacts/<name>.png``: the whole page, not only the viewport.

    Streamlit scrolls inside its main container, so Playwright's ``full_page`` sees only the
    window; instead the window is made as tall as the content for the shot, then restored.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    size = page.viewport_size
    # Out of the way: a hovered dataframe shows a toolbar over whatever sits above it.
    page.mouse.move(size["width"] // 2, 8)  # the empty header strip above the page
    if full:
        height = page.evaluate(
            """() => Math.max(...['stMain', 'stAppViewContainer', 'stSidebarContent']
                 .map((id) => document.querySelector(`[data-testid="${id}"]`))
                 .filter(Boolean).map((e) => e.scrollHeight))"""
        )
        height = int(min(max(height, size["height"]), max_height))
        if height > size["height"]:
            page.set_viewport_size({"width": size["width"], "height": height})
            # Let Plotly's resize handlers and the grid's virtual rows catch up.
            page.wait_for_timeout(800)
    try:
        page.screenshot(path=str(target), animations="disabled", caret="hide")
    finally:
        if page.viewport_size != size:
            page.set_viewport_size(size)
    return target


def save_doc_screenshot(source: Path, name: str, *, max_bytes: int = 400_000, max_height: int = 1900) -> Path:
    """Copy an artifact screenshot to ``docs/<name>.png``, cropped and quantised under ``max_bytes``."""
    from PIL import Image

    DOCS.mkdir(exist_ok=True)
    target = DOCS / f"{name}.png"
    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.height > max_height:
            image = image.crop((0, 0, image.width, max_height))
        for colours, scale in ((256, 1.0), (128, 1.0), (128, 0.8), (64, 0.7)):
            shot = image
            if scale != 1.0:
                shot = image.resize((int(image.width * scale), int(image.height * scale)), Image.LANCZOS)
            buffer = io.BytesIO()
            shot.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
                buffer, "PNG", optimize=True
            )
            if buffer.tell() <= max_bytes:
                break
    target.write_bytes(buffer.getvalue())
    return target


def wait_for_text(locator, text: str, timeout: float = RUN_TIMEOUT) -> None:
    """Wait until ``locator``'s text contains ``text`` (polling; the element may be redrawn).

    Reads ``textContent``, which includes the visually hidden table a dataframe keeps for
    screen readers (``innerText`` leaves it out).
    """
    deadline = time.monotonic() + timeout / 1000
    while True:
        with contextlib.suppress(PlaywrightTimeout):
            if text in (locator.text_content(timeout=2_000) or ""):
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} did not appear in {locator}")
        time.sleep(0.2)


# --- the server ---------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not become healthy at {url} within {timeout} s")


@contextlib.contextmanager
def running_streamlit(env: dict[str, str], log_path: Path, *, timeout: float = 90):
    """A server nobody else touched (:func:`serve_app`); yields its URL and fails on a logged traceback."""
    with serve_app(env, log_path, timeout=timeout) as (url, _process):
        yield url
    text = log_path.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]


@contextlib.contextmanager
def serve_app(env: dict[str, str], log_path: Path, *, timeout: float = 90, extra_args: tuple[str, ...] = ()):
    """The app exactly as ``make run`` starts it (``scripts/serve.py``); yields ``(url, process)``.

    No flags beyond the port (and ``extra_args``, which ``make dev`` adds): the project's own
    ``.streamlit/config.toml`` and ``scripts/serve.py`` decide the file watcher, headless mode and
    the rest, so what the tests meet is what users meet (a test server with the watcher switched
    off once hid a watcher that kept a core busy).
    """
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "scripts/serve.py", "--server.port", str(port), *extra_args],
            cwd=ROOT,
            env={**env, "HF_HUB_OFFLINE": "1", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, process, timeout)
            yield url, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
