"""Compare models on a fresh server, as a newcomer meets it: opening the page computes nothing.

Its own server process, with a fresh cache dir and an empty models dir (``EMBEDCORE_MODELS_DIR``):
the static model2vec model is *not* there, as after an install without ``make``. Opening the
page must neither build it nor embed anything; the **Compare** button does the work, and an
in-page build shows its stages and can be stopped without leaving half a model behind.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from streamlit_browser import (
    assert_healthy,
    element,
    metrics,
    new_session,
    plot,
    plot_state,
    rerun,
    running_streamlit,
    screenshot,
    title,
    wait_for_text,
    wait_until_idle,
)

from embedcore.providers import catalog
from embedcore.providers.local import STATIC_BUILD_NAME

pytestmark = pytest.mark.slow

#: A fresh page open settles in a few seconds; building the static model takes ≥ 30 s even on an
#: idle machine (minutes on a busy one), so this bound cannot be met by a page that builds.
SETTLE_BOUND_S = 25


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("compare-cache")
    models_dir = tmp_path_factory.mktemp("compare-models") / "models"  # does not exist yet
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "EMBEDCORE_CACHE_DIR": str(cache_dir),
        "EMBEDCORE_MODELS_DIR": str(models_dir),
    }
    for name in ("IONOS_API_TOKEN", "EMBEDCORE_BASE_URL", "EMBEDCORE_LOCK_ENDPOINT"):
        env.pop(name, None)
    log_path = tmp_path_factory.mktemp("compare-logs") / "streamlit.log"
    with running_streamlit(env, log_path) as url:
        yield SimpleNamespace(url=url, cache_dir=cache_dir, models_dir=models_dir)


def built_models(fresh) -> list[Path]:
    """Everything a static-model build leaves: the model, half-written copies, in both places."""
    places = [fresh.models_dir, fresh.cache_dir / "models"]
    return [p for place in places if place.is_dir() for p in place.iterdir() if not p.name.endswith(".lock")]


def vectors_cached(fresh) -> int:
    path = fresh.cache_dir / "embeddings.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return sum(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in tables)


def prepare_processes(models_dir: Path) -> list[str]:
    """Command lines of running ``embedcore prepare`` children that build into ``models_dir``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "embedcore" in cmdline and "prepare" in cmdline and str(models_dir) in cmdline:
            found.append(cmdline)
    return found


def choose(page, key: str, option: str) -> None:
    """Pick ``option`` (its visible label) in the selectbox created with ``key=``."""
    element(page, key).get_by_role("combobox").click()
    with rerun(page):
        page.get_by_role("option", name=option, exact=True).click()


def test_opening_compare_computes_nothing_until_the_button(browser, fresh):
    context, page = new_session(browser, fresh.url)
    try:
        start = time.monotonic()
        page.goto(f"{fresh.url}/compare")
        wait_until_idle(page, settle=1500)
        settled = time.monotonic() - start
        print(f"\nCompare on a fresh server settled in {settled:.1f} s")
        assert title(page) == "Compare models"
        assert_healthy(page)
        assert page.locator('[data-testid="stSpinner"], [data-testid="stProgress"]').count() == 0
        assert page.get_by_role("heading", name="Agreement", exact=True).count() == 0
        wait_for_text(
            page.locator('[data-testid="stAlert"]').filter(has_text="Press"), "Press Compare", 5_000
        )
        time.sleep(2)  # nothing may start in the background after the run either
        assert built_models(fresh) == [] and prepare_processes(fresh.models_dir) == []
        assert vectors_cached(fresh) == 0
        assert settled < SETTLE_BOUND_S, f"opening Compare took {settled:.1f} s"
        screenshot(page, "compare-first-visit")

        # The same model twice needs no build: the button embeds, compares and draws.
        choose(page, "compare_model_b", catalog.MINILM_ID.rsplit("/", 1)[-1])  # short names in the box
        assert page.get_by_role("heading", name="Agreement", exact=True).count() == 0
        with rerun(page):
            element(page, "compare_run").get_by_role("button").click()
        page.get_by_role("heading", name="Agreement", exact=True).wait_for()
        shown = metrics(page, "Spearman (pair similarities)")
        assert shown["Spearman (pair similarities)"] == "1.000", shown
        scatter = plot_state(plot(page, "compare_scatter"))
        assert scatter["traces"][0]["type"] == "scattergl" and scatter["glCanvases"] >= 1
        assert built_models(fresh) == []  # the static model was never needed
        assert vectors_cached(fresh) >= 100
        assert_healthy(page)
    finally:
        context.close()


def test_a_build_in_the_page_shows_its_stages_and_stops_without_leftovers(browser, fresh):
    context, page = new_session(browser, fresh.url)
    try:
        page.goto(f"{fresh.url}/compare")
        wait_until_idle(page)
        assert (
            catalog.MINILM_STATIC_ID in element(page, "compare_model_b").get_by_role("combobox").input_value()
        )
        element(page, "compare_run").get_by_role("button").click()
        progress = page.locator('[data-testid="stProgress"]')
        # The stage with the most work, counted in tokens of the vocabulary.
        wait_for_text(progress, "Encoding the vocabulary", timeout=240_000)
        panel = page.locator('[data-testid="stAlert"]').filter(has_text="minutes")
        assert panel.count() >= 1  # an honest estimate, not "20-40 s"
        assert prepare_processes(fresh.models_dir), "the build runs in a child process"
        screenshot(page, "compare-building")

        with rerun(page):
            page.get_by_role("button", name="Stop building").click()
        wait_for_text(page.locator('[data-testid="stAlert"]').filter(has_text="stopped"), "stopped", 30_000)
        deadline = time.monotonic() + 30
        while prepare_processes(fresh.models_dir) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert prepare_processes(fresh.models_dir) == []
        assert not (fresh.models_dir / STATIC_BUILD_NAME).exists()
        assert built_models(fresh) == [], built_models(fresh)  # no half-written model either
        assert page.get_by_role("heading", name="Agreement", exact=True).count() == 0
        assert_healthy(page)
        screenshot(page, "compare-build-stopped")
    finally:
        context.close()
