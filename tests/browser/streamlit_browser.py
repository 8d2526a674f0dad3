"""Helpers the browser tests share: wait for Streamlit to settle, open a page, keep a screenshot."""

from __future__ import annotations

import contextlib
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def wait_until_idle(page, timeout: float = 120_000) -> None:
    """Wait for Streamlit to finish the current run: its status widget (\"Running...\") detaches."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    # The status widget may not have appeared yet when we look; give it a moment to show up.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="attached", timeout=1500)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout)


def open_page(page, path: str = "") -> None:
    page.goto(f"{page.app_url}/{path}")
    wait_until_idle(page)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target
