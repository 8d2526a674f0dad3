"""The one chromium launcher for the browser tests and the benchmarks: Debian's headless chromium.

Playwright's own browser download cannot work here (no internet): Playwright drives
/usr/bin/chromium (``make browser`` installs it from Debian's packages; ``EMBEDCORE_CHROMIUM``
names another). tests/browser/conftest.py and bench/ (browser, first_visit, large_map, cloud,
visitors) all launch it through :func:`launch_chromium`, so the flags below are said once.
"""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("EMBEDCORE_CHROMIUM", "/usr/bin/chromium")
# Chromium's own background traffic is refused on a closed network; these keep it quiet,
# and SwiftShader gives WebGL (Plotly's scattergl) without a GPU.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    # Composite the page in software, as chromium does on a machine without a GPU. Compositing
    # through SwiftShader's GL made every CSS animation costly: a spinner kept chromium busy at
    # 0.49 cores and a progress bar at 0.63 (0.10 and 0.12 with this flag), CPU the app's own
    # work on the same two cores then lacked. WebGL (scattergl) still draws through SwiftShader.
    "--disable-gpu-compositing",
)


def launch_chromium(playwright, *, executable_path: str = CHROMIUM, **options):
    """``playwright.chromium.launch(...)`` of Debian's headless chromium with :data:`CHROMIUM_ARGS`.

    ``playwright`` is what ``sync_playwright()`` or ``async_playwright()`` yields (with the
    async API, await the result); ``executable_path`` another wrapper of it (``bench visitors``
    starts it without the right to raise its own priority); ``options`` go to ``launch`` as they are.
    """
    return playwright.chromium.launch(
        executable_path=executable_path, headless=True, args=list(CHROMIUM_ARGS), **options
    )
