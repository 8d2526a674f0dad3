"""The Saved views page in headless chromium (issue 22): views saved into the server's own store are
listed; one is renamed, one deleted after its confirmation; the other is downloaded as JSON and the
file imported back; **Open** takes the browser to ``/explorer?view=<id>``.

Its own server, so the views it saves (``views.sqlite3`` beside the server's cache, written here
through :class:`~embedcore.stores.views.ViewStore`, as a second process on the same file) are the
only ones the page lists.
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import numpy as np
import pytest
from streamlit_browser import (
    assert_healthy,
    element,
    grid_text,
    new_session,
    open_page,
    rerun,
    running_streamlit,
    screenshot,
    title,
    wait_for_text,
    wait_until_idle,
)

from embedcore.providers import catalog
from embedcore.stores.views import ViewStore
from ui.views.table import choice_labels

pytestmark = pytest.mark.slow

TEXTS = [
    "A cup of green tea",
    "Black coffee, no sugar",
    "Fresh orange juice",
    "Heavy rain tonight",
    "Snow in the mountains",
    "A sunny afternoon",
    "Strong winds from the west",
    "Hot chocolate with cream",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of its own on a fresh cache dir, and a ViewStore on that server's ``views.sqlite3``."""
    cache_dir = tmp_path_factory.mktemp("views-cache")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "EMBEDCORE_CACHE_DIR": str(cache_dir),
        "EMBEDCORE_WARM_UP": "0",
    }
    for name in (
        "IONOS_API_TOKEN",
        "EMBEDCORE_BASE_URL",
        "EMBEDCORE_LOCK_ENDPOINT",
        "EMBEDCORE_DATABASE_URL",
    ):
        env.pop(name, None)
    log_path = tmp_path_factory.mktemp("views-logs") / "streamlit.log"
    store = ViewStore(cache_dir / "views.sqlite3")
    with running_streamlit(env, log_path) as url:
        yield SimpleNamespace(url=url, store=store)
    store.close()


@pytest.fixture
def tab(browser, server):
    context, page = new_session(browser, server.url)
    yield page
    context.close()


def save(store, name: str, texts: list[str]) -> str:
    state = {"page": "explorer", "provider": "local", "model": catalog.MINILM_STATIC_ID}
    coords = np.random.default_rng(0).normal(size=(len(texts), 2))
    return store.save(state, texts, coordinates=coords, name=name)


def click(tab, key: str) -> None:
    """Click the button drawn with ``key=`` and wait for the rerun it starts."""
    with rerun(tab):
        element(tab, key).get_by_role("button").click()


def test_rename_delete_download_import_and_open(tab, server, tmp_path):
    store = server.store
    drinks = save(store, "Drinks", TEXTS[:3] + TEXTS[7:])
    weather = save(store, "Weather", TEXTS[3:7])
    open_page(tab, "views")
    assert title(tab) == "Saved views"
    main = tab.locator('[data-testid="stMain"]')
    table = main.locator('[data-testid="stDataFrame"]').first
    wait_for_text(table, "Weather", timeout=30_000)
    shown = grid_text(table)
    assert shown.index("Weather") < shown.index("Drinks")  # newest first

    # Rename the chosen view (the newest).
    box = element(tab, f"views_rename_{weather}").locator("input")
    box.fill("Weather this week")
    click(tab, "views_rename")
    wait_for_text(main, "Renamed")
    assert store.info(weather).name == "Weather this week"
    wait_for_text(table, "Weather this week")

    # Delete it: asked first.
    click(tab, "views_delete")
    wait_for_text(main, "This cannot be undone")
    screenshot(tab, "saved-views-delete")
    assert [v.id for v in store.list()] == [weather, drinks]
    click(tab, "views_delete_yes")
    wait_for_text(main, "Deleted the view")
    assert [v.id for v in store.list()] == [drinks]
    assert "Weather" not in grid_text(main.locator('[data-testid="stDataFrame"]').first)

    # Download the one left; import the file back.
    with tab.expect_download() as download:
        element(tab, "views_download").get_by_role("button").click()
    assert download.value.suggested_filename == "Drinks.json"
    exported = tmp_path / "Drinks.json"
    download.value.save_as(exported)
    data = json.loads(exported.read_text(encoding="utf-8"))
    assert data["name"] == "Drinks" and data["texts"] == TEXTS[:3] + TEXTS[7:]
    assert data["coordinates"] == np.asarray(store.open(drinks).coordinates).tolist()

    with rerun(tab):
        tab.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(exported))
    wait_for_text(main, "Imported")
    wait_until_idle(tab)
    copy = store.list()[0]
    assert copy.id != drinks and copy.name == "Drinks" and len(store.list()) == 2
    assert_healthy(tab)

    # Open the imported view (chosen after the import): the explorer on its link.
    screenshot(tab, "saved-views-imported")
    chosen = element(tab, "views_selected").locator("input").input_value()
    assert chosen == choice_labels(store.list())[copy.id]  # told apart from the original
    with rerun(tab):
        element(tab, "views_open").get_by_role("button").click()
    wait_until_idle(tab)
    # Streamlit changes the address with history.pushState (no load event to wait for). The
    # explorer is the default page, which Streamlit writes as "/" (``/explorer`` opens it too).
    tab.wait_for_function("() => location.search.startsWith('?view=')", timeout=60_000)
    assert tab.url in (f"{server.url}/?view={copy.id}", f"{server.url}/explorer?view={copy.id}")
    assert title(tab) == "Similarity explorer"
    assert_healthy(tab)


def test_a_broken_file_is_refused_and_the_list_stays(tab, server, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "embedcore.view", "version": 1, "state": {}, "texts": "tea"}')
    save(server.store, "Kept", TEXTS[:2])
    names = {v.name for v in server.store.list()}
    open_page(tab, "views")
    main = tab.locator('[data-testid="stMain"]')
    with rerun(tab):
        tab.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(broken))
    wait_for_text(main, "broken.json")
    wait_until_idle(tab)
    said = [" ".join(t.split()) for t in main.locator('[data-testid^="stAlertContent"]').all_text_contents()]
    refused = [s for s in said if "broken.json" in s]  # one message (after the alert's icon)
    assert len(refused) == 1, said
    assert refused[0].endswith(
        "broken.json: The view file's \"texts\": A view's texts must be a list of strings."
    )
    assert {v.name for v in server.store.list()} == names  # nothing imported
    wait_for_text(main.locator('[data-testid="stDataFrame"]').first, "Kept")  # the list is still there
    assert_healthy(tab)
