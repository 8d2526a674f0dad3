"""What a newcomer meets on the similarity explorer, each a bug once reported from a real browser.

- a first visit to a fresh server: a PCA preview, then the final map, and the preview's
  caption gone afterwards (it used to stay under the finished map);
- a box selection that "Clear selection" really clears (it used to stay: "20 selected");
- identical texts at one place on the map (four copies used to land far apart);
- a server started like ``make run``, or like ``make dev`` with live reload (the watcher of
  ``.streamlit/config.toml``), does not spin on its file watcher.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from streamlit_browser import (
    assert_healthy,
    box_select,
    element,
    metrics,
    new_session,
    open_page,
    plot,
    plot_state,
    rerun,
    scatter_points,
    screenshot,
    serve_app,
    wait_until_idle,
)

pytestmark = pytest.mark.slow

PREVIEW_CAPTION = "PCA preview"

#: Remembers whether a text was ever on the page (a caption can come and go between two polls).
_SEEN_SCRIPT = """
(() => {
  window.__seen = {};
  const watch = () => new MutationObserver(() => {
    const body = document.body ? document.body.innerText : '';
    for (const needle of window.__watchFor || []) if (body.includes(needle)) window.__seen[needle] = true;
  }).observe(document.documentElement, {subtree: true, childList: true, characterData: true});
  window.__watchFor = [%s];
  if (document.documentElement) watch(); else document.addEventListener('DOMContentLoaded', watch);
})();
"""


@pytest.fixture(scope="module")
def cold_server(tmp_path_factory):
    """A server process nobody has visited yet, fresh cache, started exactly like ``make run``."""
    env = {
        **os.environ,
        "EMBEDCORE_CACHE_DIR": str(tmp_path_factory.mktemp("cold-cache")),
        # numba's compiled code cold too, as on a fresh install: the first UMAP then takes long
        # enough that the page always shows its PCA preview first.
        "NUMBA_CACHE_DIR": str(tmp_path_factory.mktemp("cold-numba")),
        "EMBEDCORE_SAMPLE_SEED": "1",  # as users get it (used when `make` prepared the sample vectors)
    }
    env.pop("IONOS_API_TOKEN", None)
    env.pop("EMBEDCORE_WARM_UP", None)  # the warm-up is part of what a visitor gets
    log_path = tmp_path_factory.mktemp("cold-logs") / "streamlit.log"
    with serve_app(env, log_path) as (url, process):
        yield url, process, log_path
    assert "Traceback" not in log_path.read_text(errors="replace")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_first_visit_draws_a_preview_then_the_map_and_leaves_no_stale_caption(browser, cold_server):
    url, process, log_path = cold_server
    context, page = new_session(browser, url)
    context.add_init_script(_SEEN_SCRIPT % repr(PREVIEW_CAPTION))
    try:
        page.goto(url)
        graph = plot(page, "explorer_map")  # the final map (the preview has another key)
        wait_until_idle(page)
        assert_healthy(page)
        assert page.evaluate("() => window.__seen")[PREVIEW_CAPTION], "a cold server showed no PCA preview"
        state = plot_state(graph)
        assert sum(t["n"] for t in state["traces"]) == 100
        page.get_by_text("UMAP of 100 texts").first.wait_for()
        # The preview and its caption are replaced by the map: nothing says "preview" any more.
        assert page.get_by_text(PREVIEW_CAPTION).count() == 0, page.get_by_text(
            PREVIEW_CAPTION
        ).all_inner_texts()
        assert element(page, "explorer_map_preview").count() == 0
        screenshot(page, "first-visit")
    finally:
        context.close()

    _assert_idle(process, log_path)


def _assert_idle(process, log_path: Path, seconds: float = 10.0) -> None:
    # Idle after a visit: a file watcher must not walk .venv in an inotify-overflow loop. The
    # warm-up loads the model after the first visit: let that one-off work end first (a spinning
    # watcher never ends, so the wait is bounded and the check below still catches it).
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        before = _cpu_seconds(process.pid)
        time.sleep(2.0)
        if _cpu_seconds(process.pid) - before < 0.1:
            break
    before = _cpu_seconds(process.pid)
    time.sleep(seconds)
    busy = _cpu_seconds(process.pid) - before
    log = log_path.read_text(errors="replace")
    assert "overflow" not in log.lower(), log[-2000:]
    # A watcher in an overflow loop burns ~a whole core (≈ 10 s here); idle polling costs ~0.1 s.
    assert busy < 0.5 * seconds, f"the idle server used {busy:.1f} s of CPU in {seconds:.0f} s"


def test_live_reload_server_is_idle_after_a_visit(browser, tmp_path):
    """``make dev`` (and a plain ``streamlit run``, as on Community Cloud) watch the app's files."""
    from tomllib import loads

    config = loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text())
    watcher = config["server"]["fileWatcherType"]
    assert watcher == "poll", "Streamlit's default watcher walks .venv (inotify overflow, a busy core)"
    env = {**os.environ, "EMBEDCORE_CACHE_DIR": str(tmp_path / "cache")}
    log_path = tmp_path / "streamlit.log"
    with serve_app(env, log_path, extra_args=("--server.fileWatcherType", watcher)) as (url, process):
        context, page = new_session(browser, url)
        try:
            page.goto(url)
            page.get_by_text("UMAP of 100 texts").first.wait_for()
            wait_until_idle(page)
            assert_healthy(page)
        finally:
            context.close()
        _assert_idle(process, log_path)


def test_clear_selection_clears_a_box_selection(page):
    open_page(page, "")
    graph = plot(page, "explorer_map")
    with rerun(page):
        rows = box_select(page, graph)
    assert len(rows) >= 3
    page.get_by_role("heading", name=f"{len(rows)} selected").wait_for()

    with rerun(page):
        element(page, "explorer_clear_selection").get_by_role("button").click()
    page.get_by_text("Drag a lasso or box on the map").wait_for()
    assert page.get_by_role("heading", name=f"{len(rows)} selected").count() == 0
    graph = plot(page, "explorer_map")
    marked = graph.evaluate(
        "g => g._fullData.filter(t => t.selectedpoints && t.selectedpoints.length).length"
    )
    assert marked == 0, "the map still draws the cleared selection"
    # Another rerun (any widget) must not bring the old selection back.
    with rerun(page):
        page.get_by_role("tab", name="Pairs", exact=True).click()
    with rerun(page):
        page.get_by_role("tab", name="Map", exact=True).click()
    plot(page, "explorer_map")
    assert page.get_by_role("heading", name=f"{len(rows)} selected").count() == 0
    assert_healthy(page)


def test_identical_texts_share_one_place_on_the_map(page):
    open_page(page, "")
    with rerun(page):
        page.get_by_text("Paste", exact=True).click()
    box = element(page, "explorer_paste").locator("textarea")
    same = "The cat sat on the mat."
    others = [
        "Stock markets fell sharply today.",
        "A recipe for tomato soup.",
        "The telescope observed a distant galaxy.",
        "Our team won the football match.",
        "Python lists are mutable sequences.",
        "Bake the bread for forty minutes.",
        "The orchestra played Beethoven.",
        "Interest rates rose again.",
        "Mars has two small moons.",
        "The striker scored twice.",
        "Functions can return other functions.",
    ]
    lines = [same, *others[:4], same, *others[4:8], same, *others[8:], same]
    box.fill("\n".join(lines))
    with rerun(page):
        box.press("Control+Enter")
    metrics(page, "Texts")
    graph = plot(page, "explorer_map")
    wait_until_idle(page)
    points = {p["row"]: (p["px"], p["py"]) for p in scatter_points(graph)}
    copies = [i for i, text in enumerate(lines) if text == same]
    assert len(copies) == 4 and len(points) == len(lines)
    placed = {(round(points[i][0], 1), round(points[i][1], 1)) for i in copies}
    assert len(placed) == 1, f"four identical texts at {placed}"
    assert_healthy(page)
