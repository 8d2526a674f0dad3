"""What a demanding user tripped over on December 7 (issue 19), in headless chromium.

One server for the file (``app_server``); each test is a new Streamlit session. The checks are
the ones the walkthrough made by eye: a message said once and in one place, a bad file after a
good one named as clearly as a first one, nothing on a page that another page produced, no button
asked for while it is disabled, nothing cut off.
"""

from __future__ import annotations

import time

import pytest
from streamlit_browser import (
    assert_healthy,
    element,
    go_to,
    open_page,
    plot,
    rerun,
    screenshot,
    wait_until_idle,
)
from streamlit_browser import choose as choose_option

from tests.fake_openai import closed_port

pytestmark = pytest.mark.slow

GOOD_CSV = (
    "text,label\n"
    "the band played jazz all night,music\n"
    "a new album of quiet songs,music\n"
    "she ran a marathon in the rain,sports\n"
    "football fans cheered the late goal,sports\n"
    "bake bread with fresh yeast,food\n"
    "a spicy curry recipe for four,food\n"
)


def bad_files(tmp_path) -> dict[str, tuple[object, str]]:
    """``{file name: (path, words of the reason)}``: the files the walkthrough tried after a good one."""
    made = {
        "binary.csv": (bytes(range(256)) * 8, "not a text file"),
        "empty.csv": (b"", "empty"),
        "numbers.csv": (b"a,b\n1,2\n3,4\n5,6\n", "no column of text"),
    }
    out = {}
    for name, (content, reason) in made.items():
        path = tmp_path / name
        path.write_bytes(content)
        out[name] = (path, reason)
    return out


def alerts(page) -> list[str]:
    """The text of every alert (info, warning, error, success) on the page, sidebar included."""
    # textContent: innerText reads "" for an alert that is still fading in after a rerun.
    return [" ".join(t.split()) for t in page.locator('[data-testid^="stAlertContent"]').all_text_contents()]


def said_about(page, *words: str, timeout: float = 30) -> list[str]:
    """The alerts containing every one of ``words``, once at least one is there (or ``[]`` after ``timeout`` s).

    A file replacing another reaches the app as two runs (the old one removed, the new one
    added); on a busy machine the second may start after the first has looked settled.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = [text for text in alerts(page) if all(word in text for word in words)]
        if found or time.monotonic() > deadline:
            wait_until_idle(page)
            return [text for text in alerts(page) if all(word in text for word in words)]
        time.sleep(0.3)


def assert_each_once(page) -> None:
    """No message is on the page twice (the walkthrough met the same error three times)."""
    shown = alerts(page)
    twice = {text for text in shown if shown.count(text) > 1}
    assert not twice, shown


def upload(page, path, nth: int = 0) -> None:
    with rerun(page):
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(nth).set_input_files(str(path))
    wait_until_idle(page)


def choose(page, label: str, where: str = "main") -> None:
    scope = (
        page.locator('[data-testid="stSidebar"]')
        if where == "sidebar"
        else page.locator('[data-testid="stMain"]')
    )
    with rerun(page):
        scope.get_by_text(label, exact=True).first.click()


def build_collection(page, paths, name: str) -> None:
    """Build a search collection from ``paths`` with the "Your documents" form (opened if closed)."""
    main = page.locator('[data-testid="stMain"]')
    form = main.locator('[data-testid="stForm"]').filter(has_text="Your documents").first
    if not form.is_visible():
        with rerun(page):
            main.get_by_text("New collection", exact=True).first.click()
    with rerun(page):
        form.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(p) for p in paths])
    form.get_by_role("textbox", name="Collection name").fill(name)
    with rerun(page):
        form.get_by_role("button", name="Build with").click()


def main_text(page) -> str:
    return " ".join(page.locator('[data-testid="stMain"]').inner_text().split())


# --- 1. a bad file after a good one ----------------------------------------------------------------


@pytest.mark.parametrize("where", ["", "embed"])
def test_a_bad_file_after_a_good_one_is_named_and_the_good_texts_kept(page, tmp_path, where):
    good = tmp_path / "good.csv"
    good.write_text(GOOD_CSV)
    open_page(page, where)
    choose(page, "Upload")
    upload(page, good)
    page.get_by_text("6 texts · 3 labels").first.wait_for()
    for name, (path, reason) in bad_files(tmp_path).items():
        upload(page, path)
        said = said_about(page, name, reason)
        assert len(said) == 1, (name, alerts(page))
        assert "good.csv" in said[0] and "kept" in said[0], said  # the texts in use are named
        page.get_by_text("6 texts · 3 labels").first.wait_for(timeout=5_000)
        assert page.locator('[data-testid="stFileChip"]').count() == 0, f"{name} still in the uploader"
        assert_each_once(page)
    assert_healthy(page)
    screenshot(page, f"bad-after-good-{where or 'explorer'}", full=False)


# --- 3. an unreachable or unconfigured API ---------------------------------------------------------


def test_an_unreachable_api_is_said_once_fails_fast_and_disables_embed(page):
    open_page(page, "embed")
    choose(page, "OpenAI-compatible URL", "sidebar")
    # Nothing typed yet: no guess at a URL, no error about an endpoint the user never chose.
    sidebar = page.locator('[data-testid="stSidebar"]')
    url_box = sidebar.get_by_role("textbox", name="Base URL")
    assert url_box.input_value() == ""
    assert not [t for t in alerts(page) if "IONOS" in t or "Could not reach" in t], alerts(page)
    assert page.get_by_role("button", name="Embed", exact=True).is_disabled()

    url_box.fill(f"http://127.0.0.1:{closed_port()}/v1")
    started = time.monotonic()
    with rerun(page):
        url_box.press("Enter")
    assert time.monotonic() - started < 8  # a refused connection is not retried (it was ~15 s)
    refused = [t for t in alerts(page) if "Connection refused" in t]
    assert len(refused) == 1, alerts(page)
    assert "after" not in refused[0], refused  # one attempt
    assert_each_once(page)
    # The model box says it could not list models, and Embed says why it is disabled.
    model_box = sidebar.locator('[data-testid="stSelectbox"] input').first
    assert "could not list" in model_box.input_value().lower()
    button = page.get_by_role("button", name="Embed", exact=True)
    assert button.is_disabled()
    assert "Could not reach" in main_text(page) or "cannot be reached" in main_text(page)
    assert "Press Embed" not in main_text(page)

    # Test connection answers at once, and still one message.
    with rerun(page):
        sidebar.get_by_role("button", name="Test connection").click()
    assert len([t for t in alerts(page) if "Connection refused" in t]) == 1, alerts(page)
    assert_healthy(page)
    screenshot(page, "unreachable-api", full=False)


# --- 7. results belong to the page that made them --------------------------------------------------


def test_embed_texts_shows_only_what_it_embedded(page):
    open_page(page, "")  # the explorer embeds the default sample with the bundled model
    plot(page, "explorer_map")
    go_to(page, "Embed texts")
    assert page.locator('[data-testid="stMetric"]').count() == 0, "a result appeared without Embed"
    assert "Press Embed" in main_text(page)
    with rerun(page):
        page.get_by_role("button", name="Embed", exact=True).click()
    page.get_by_role("button", name="CSV", exact=True).wait_for()
    assert_healthy(page)


# --- 8. never "press Embed" while Embed is disabled --------------------------------------------------


def test_explorer_without_a_token_never_asks_for_a_disabled_button(page):
    open_page(page, "")
    plot(page, "explorer_map")
    choose(page, "IONOS AI Model Hub", "sidebar")
    button = element(page, "explorer_embed").get_by_role("button")
    assert button.is_disabled()
    text = main_text(page)
    assert "press Embed" not in text and "Press Embed" not in text, text[:600]
    assert "needs an API token" in text
    assert_each_once(page)
    assert_healthy(page)


# --- 10. one "Clear selection", and a table toolbar that covers nothing ------------------------------


def _overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_one_clear_selection_button_and_the_table_toolbar_covers_no_control(page):
    from streamlit_browser import scatter_points

    open_page(page, "")
    graph = plot(page, "explorer_map")
    first = scatter_points(graph)[0]
    with rerun(page):
        page.mouse.click(first["px"], first["py"])
    element(page, "explorer_neighbours_k").wait_for()
    names = [
        " ".join((b.get_attribute("aria-label") or b.inner_text()).split()[-2:])
        for b in page.get_by_role("button").all()
    ]
    assert names.count("Clear selection") <= 1, names  # ours and the table toolbar's had one name
    table = page.locator('[class*="st-key-explorer_selection_table"] [data-testid="stDataFrame"]').first
    table.scroll_into_view_if_needed()
    table.hover()
    toolbar = page.locator('[data-testid="stElementToolbar"]').filter(has=page.locator("button")).last
    toolbar.wait_for(state="visible")
    bar = toolbar.bounding_box()
    for key in ("explorer_neighbours_k", "explorer_clear_selection", "explorer_isolate"):
        if element(page, key).count():
            box = element(page, key).bounding_box()
            assert not _overlap(bar, box), (key, bar, box)
    assert_healthy(page)


# --- 9. semantic search: deleting in sight, a small collection's map small -------------------------


def _in_window(page, locator) -> bool:
    box, size = locator.bounding_box(), page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"]


def test_a_small_collection_has_a_small_map_and_deleting_it_is_in_sight(page, tmp_path):
    notes = {
        "bread.txt": "Knead the dough for ten minutes, let it rise, and bake the bread until golden.",
        "rocket.txt": "The rocket left the launch pad at dawn and reached orbit nine minutes later.",
        "guitar.txt": "She tuned the guitar, played three chords and sang the old song again.",
    }
    paths = []
    for name, text in notes.items():
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    open_page(page, "search")
    build_collection(page, paths, "Three notes")
    graph = plot(page, "search_map")
    assert graph.bounding_box()["height"] <= 420, graph.bounding_box()  # was 700 px for three dots

    delete = page.get_by_role("button", name="Delete this collection…")
    assert delete.is_visible(), "the delete button hides in the Documents section"
    delete.scroll_into_view_if_needed()
    with rerun(page):
        delete.click()
    yes = page.get_by_role("button", name="Yes, delete it")
    yes.wait_for()
    assert _in_window(page, yes), "the confirmation opened below the window"
    with rerun(page):
        yes.click()
    page.get_by_text("Deleted").first.wait_for()
    assert_each_once(page)
    assert_healthy(page)


# --- 11 (and the suite's check from now on): nothing cut, at 1280x720 and 1440x900 ------------------

#: Every select value, dataframe and metric whose content is wider than its box: ``[kind, text]``.
#: A grid wider than its box hides columns behind a horizontal scroll (the languages table's
#: "pt"); a select or metric cuts its text ("HDBSCAN clusters (automa", "…L6-v2 · bun").
CLIPPED = """() => {
  const out = [];
  const cut = (e) => e.scrollWidth > e.clientWidth + 1;
  for (const e of document.querySelectorAll('[data-testid="stSelectbox"] input')) {
    if (e.offsetParent && cut(e)) out.push(['select', e.value]);
  }
  for (const d of document.querySelectorAll('[data-testid="stDataFrame"]')) {
    const s = d.querySelector('.dvn-scroller');
    if (d.offsetParent && s && cut(s)) {
      const heads = Array.from(d.querySelectorAll('table th')).map((h) => h.textContent);
      out.push(['table', heads.join(' | ')]);
    }
  }
  for (const e of document.querySelectorAll('[data-testid="stMetricValue"] *')) {
    if (e.offsetParent && cut(e)) out.push(['metric', e.textContent]);
  }
  return out;
}"""


def clipped(page) -> list:
    page.mouse.move(2, 2)
    return page.evaluate(CLIPPED)


@pytest.mark.parametrize("size", [(1280, 720), (1440, 900)], ids=["1280x720", "1440x900"])
def test_no_text_is_cut_on_any_page(browser, app_server, size):
    from streamlit_browser import new_session

    context, page = new_session(browser, app_server, width=size[0], height=size[1])
    found: dict[str, list] = {}
    try:
        open_page(page, "")
        plot(page, "explorer_map")
        found["explorer"] = clipped(page)
        if element(page, "explorer_colour").count():
            # choose() scrolls before it clicks: beside the map the select sits below the fold at
            # 1280x720, and a click that scrolls the page closes the list it opened.
            choose_option(page, "explorer_colour", "HDBSCAN clusters")
            found["explorer, HDBSCAN"] = clipped(page)
        screenshot(page, f"uncut-explorer-{size[0]}", full=False)

        go_to(page, "Models")
        found["models"] = clipped(page)
        screenshot(page, f"uncut-models-{size[0]}", full=False)

        go_to(page, "Compare models")
        found["compare"] = clipped(page)
        with rerun(page):
            element(page, "compare_run").get_by_role("button").click()
        page.get_by_role("heading", name="Agreement", exact=True).wait_for(timeout=900_000)
        wait_until_idle(page)
        found["compare, run"] = clipped(page)
        screenshot(page, f"uncut-compare-{size[0]}", full=True)

        go_to(page, "Across languages")
        page.get_by_role("heading", name="Alignment", exact=True).wait_for(timeout=900_000)
        wait_until_idle(page)
        found["languages"] = clipped(page)
        screenshot(page, f"uncut-languages-{size[0]}", full=True)

        go_to(page, "Embed texts")
        found["embed"] = clipped(page)
        go_to(page, "Semantic search")
        found["search"] = clipped(page)
        assert_each_once(page)
        assert_healthy(page)
    finally:
        context.close()
    cut = {where: items for where, items in found.items() if items}
    assert not cut, repr(cut)  # repr: pytest would shorten a dict to its first entries


# --- 13. the smaller things --------------------------------------------------------------------------


def test_the_smaller_things_of_the_walkthrough(page, tmp_path):
    open_page(page, "")
    plot(page, "explorer_map")
    main = page.locator('[data-testid="stMain"]')

    # 3-D: the caption says what to do, and "Pick a text" finds the texts with the typed word.
    with rerun(page):
        element(page, "explorer_dims").get_by_text("3-D", exact=True).click()
    plot(page, "explorer_map_3d")
    text = main_text(page)
    assert "Plotly" not in text and "Streamlit" not in text, text  # what to do, not whose limits
    picker = page.get_by_role("combobox", name="Pick a text")
    picker.click()
    picker.fill("guitar")
    page.wait_for_timeout(500)
    offered = [o.strip() for o in page.get_by_role("option").all_inner_texts()]
    assert offered and all("guitar" in o.lower() for o in offered), offered
    page.keyboard.press("Escape")

    with rerun(page):
        element(page, "explorer_dims").get_by_text("2-D", exact=True).click()

    # The paste box's placeholder is a hint, not texts that look pasted already.
    choose(page, "Paste")
    placeholder = main.locator("textarea").first.get_attribute("placeholder")
    assert "one per line" in placeholder and "Michael Jackson" not in placeholder, placeholder

    # A file without labels, then a semicolon CSV with a label column: its labels are used, and
    # the map is coloured by them (not by the k-means the unlabelled file had).
    choose(page, "Upload")
    plain = tmp_path / "plain.csv"
    plain.write_text("text,source\n" + "".join(f"note number {i} about bread,web\n" for i in range(12)))
    upload(page, plain)
    plot(page, "explorer_map")
    semi = tmp_path / "semi.csv"
    semi.write_text(GOOD_CSV.replace(",", ";"))
    upload(page, semi)
    page.get_by_text("6 texts · 3 labels").first.wait_for(timeout=30_000)
    plot(page, "explorer_map")
    colour = element(page, "explorer_colour").locator("input").input_value()
    assert colour == "Label", colour

    # Embed texts: a text over the model's limit is counted in words a person writes, and the
    # tokens tile says it counts what was sent.
    go_to(page, "Embed texts")
    choose(page, "Paste")
    box = main.locator("textarea").first
    box.fill("a short one\n" + " ".join(["word"] * 400))
    with rerun(page):
        box.press("Control+Enter")
    with rerun(page):
        page.get_by_role("button", name="Embed", exact=True).click()
    page.get_by_role("button", name="CSV", exact=True).wait_for()
    text = main_text(page)
    assert "(s)" not in text, text
    assert "1 text is longer" in text and "(text 2)" in text, text
    assert page.get_by_test_id("stMetricLabel").filter(has_text="Tokens sent").count() == 1
    assert_each_once(page)
    assert_healthy(page)


# --- the suite's check from now on: bad input after good input, on every uploader -----------------


def test_every_other_uploader_names_a_bad_file_after_a_good_one(page, tmp_path):
    bad = bad_files(tmp_path)
    binary, why = bad["binary.csv"]

    # Across languages: a table of translations, then a file that is no table at all.
    translations = tmp_path / "translations.csv"
    translations.write_text(
        "text,sentence_id,language\nThe cat sleeps.,1,en\nDie Katze schläft.,1,de\n"
        "It rains today.,2,en\nEs regnet heute.,2,de\n"
    )
    open_page(page, "languages")
    choose(page, "Upload a table")
    upload(page, translations)
    page.get_by_text("4 texts · 2 sentences · 2 languages").first.wait_for()
    upload(page, binary)
    said = said_about(page, why)
    assert len(said) == 1 and "binary.csv" in said[0] and "translations.csv" in said[0], alerts(page)
    page.get_by_text("4 texts · 2 sentences · 2 languages").first.wait_for(timeout=5_000)
    assert_each_once(page)

    # Semantic search: a collection from a good file, then a build from a bad one, then adding one.
    note = tmp_path / "note.txt"
    note.write_text("Knead the dough, let it rise overnight, and bake the bread until golden.")
    go_to(page, "Semantic search")
    main = page.locator('[data-testid="stMain"]')
    build_collection(page, [note], "One note")
    plot(page, "search_map")
    build_collection(page, [binary], "Broken")
    said = said_about(page, "binary.csv")
    assert len(said) == 1, alerts(page)
    assert_each_once(page)
    plot(page, "search_map")  # the collection built before is still there

    with rerun(page):
        main.get_by_text("Documents (1)").first.click()
    adder = main.locator('[data-testid="stForm"]').filter(has_text="Add documents").first
    with rerun(page):
        adder.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(binary))
    with rerun(page):
        adder.get_by_role("button", name="Add with").click()
    said = said_about(page, "binary.csv")
    assert len(said) == 1, alerts(page)
    assert_each_once(page)

    with rerun(page):
        page.get_by_role("button", name="Delete this collection…").click()
    with rerun(page):
        page.get_by_role("button", name="Yes, delete it").click()
    assert_healthy(page)
