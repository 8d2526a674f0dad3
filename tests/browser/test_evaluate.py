"""The Evaluate models page in headless chromium (issue 21): every built-in set on the bundled
models, a visitor's own file (and a bad one after it), and the failures opened on the explorer's map."""

from __future__ import annotations

import pytest
from streamlit_browser import (
    assert_healthy,
    open_page,
    plot,
    plot_state,
    rerun,
    save_doc_screenshot,
    screenshot,
    title,
    wait_for_text,
    wait_until_idle,
)
from test_demanding_user import alerts, main_text, said_about, upload

from embedcore import evaluation as ev
from ui.evaluate.data import TASK_LABELS

pytestmark = pytest.mark.slow

STS_CSV = (
    "text_a,text_b,score\n"
    "A man is playing a guitar.,A man plays the guitar.,5\n"
    "A woman is slicing an onion.,Someone is cutting an onion.,4.2\n"
    "The cat sleeps on the sofa.,A dog runs in the park.,0.4\n"
    "Kids are playing football.,Children play soccer outside.,4.5\n"
    "The stock market fell today.,A chef is cooking pasta.,0\n"
    "He is reading a book.,A man reads a novel.,4\n"
)


def evaluate(page) -> None:
    with rerun(page):
        page.get_by_role("button", name="Evaluate", exact=True).click()
    wait_for_text(page.locator('[data-testid="stMain"]'), "scores highest on")


def choose_task(page, kind: str) -> None:
    with rerun(page):
        page.locator('[data-testid="stMain"]').get_by_text(TASK_LABELS[kind], exact=True).first.click()


def test_every_builtin_set_shows_a_verdict_metrics_with_intervals_and_the_failures(page):
    open_page(page, "evaluate")
    assert title(page) == "Evaluate models"
    for kind in ev.TASK_KINDS:
        choose_task(page, kind)
        evaluate(page)
        text = main_text(page)
        assert "scores highest on" in text and ev.PRIMARY_METRIC[kind] in text
        chart = plot_state(plot(page, "evaluate_metrics_chart"))
        # one trace per model: the two bundled models
        assert len(chart["traces"]) == 2, chart
        assert "Where the models fail" in text and "Downloads" in text
        assert_healthy(page)
    page.mouse.move(0, 0)  # no button's tooltip in the screenshots
    for width, height in ((1280, 720), (1440, 900)):
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"evaluate-{width}x{height}", full=False)
    save_doc_screenshot(screenshot(page, "evaluate-full"), "evaluate")


def test_an_uploaded_set_is_evaluated_and_a_bad_file_after_it_keeps_it(page, tmp_path):
    good = tmp_path / "pairs.csv"
    good.write_text(STS_CSV)
    bad = tmp_path / "noscore.csv"
    bad.write_text("text_a,text_b\nOne,Two\n")
    open_page(page, "evaluate")
    with rerun(page):
        page.locator('[data-testid="stMain"]').get_by_text("Upload", exact=True).first.click()
    upload(page, good)
    evaluate(page)
    assert "On 6 items" in main_text(page)
    upload(page, bad)
    said = said_about(page, "noscore.csv")
    assert len(said) == 1 and "score" in said[0] and "pairs.csv" in said[0] and "kept" in said[0], alerts(
        page
    )
    assert page.locator('[data-testid="stFileChip"]').count() == 0  # the refused file left the uploader
    assert "On 6 items" in main_text(page)  # the results of the good file stay on screen
    evaluate(page)  # and the good set is still the one evaluated
    assert "On 6 items" in main_text(page)
    assert_healthy(page)


def test_the_failures_open_on_the_explorers_map(page):
    open_page(page, "evaluate")
    choose_task(page, "classification")
    evaluate(page)
    with rerun(page):
        page.get_by_role("button", name="Open these texts in the explorer").first.click()
    wait_until_idle(page)
    assert title(page) == "Similarity explorer"
    state = plot_state(plot(page, "explorer_map"))
    shown = sum(trace["n"] for trace in state["traces"])
    assert shown >= 2, state
    assert_healthy(page)
