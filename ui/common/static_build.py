"""Building the static model inside a page: named stages, an honest estimate, a Stop button.

``make run`` prepares the model at install time (``python -m embedcore prepare``), so a
visitor normally never sees this. After an install without ``make`` the first page that needs
the model builds it here, in a child process (:class:`embedcore.providers.prepare.BackgroundBuild`):
one build per server, watched by every session that needs it, stoppable by any of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from embedcore.errors import ModelUnavailableError
from embedcore.providers import catalog
from embedcore.providers.prepare import BackgroundBuild
from embedcore.types import Provider
from ui.common import cached

#: Session key: set when this session stopped a build, so the next run can say so.
STOPPED = "static_build_stopped"
BUILD_MESSAGE = (
    f"**{catalog.MINILM_STATIC_ID}** is not built on this machine yet, so it is being built now, once. "
    "This takes about half a minute on two idle cores and **several minutes (up to ten) on a busy "
    "machine**. It is then kept on disk and loads in under a second. "
    "(`make run`, or `python -m embedcore prepare`, builds it ahead of time.)"
)
STOPPED_MESSAGE = (
    "Building the static model was stopped; nothing was saved. Press the button again to start over, "
    "or run `python -m embedcore prepare` in a terminal."
)


def static_model_pending(provider: Provider, model: str) -> bool:
    """True when ``model`` is the static model and it still has to be built on this machine."""
    if model != catalog.MINILM_STATIC_ID or not hasattr(provider, "static_model_ready"):
        return False
    return not provider.static_model_ready()


def _stop(build: BackgroundBuild, on_stop: Callable[[], None] | None) -> None:
    build.cancel()
    st.session_state[STOPPED] = True
    if on_stop is not None:
        on_stop()


def show_build_stopped() -> None:
    """Say, once, that this session stopped a build (call it near the top of a page)."""
    if st.session_state.pop(STOPPED, False):
        st.info(STOPPED_MESSAGE, icon=":material/stop_circle:")


def prepare(
    provider: Provider,
    model: str,
    *,
    on_stop: Callable[[], None] | None = None,
    key: str = "static_build_stop",
) -> None:
    """Make sure ``model`` can be used without a build; if it cannot, build it here with progress.

    Returns at once for every model but an unbuilt static one. Otherwise starts (or joins) the
    background build and blocks this script run while showing its stage, progress and a
    **Stop building** button. A click on it stops the build, calls ``on_stop`` (a page clears
    its pending request there) and reruns the page.

    Raises
    ------
    ModelUnavailableError
        When the build failed (its own message), for ``friendly_errors`` to show.
    """
    if not static_model_pending(provider, model):
        return
    build = cached.static_build(str(provider.static_model_path()))
    build.start()
    slot = st.empty()
    with slot.container(border=True):
        st.info(BUILD_MESSAGE, icon=":material/hourglass_top:")
        bar = st.progress(0.0, text="Starting the build…")
        st.button(
            "Stop building",
            key=key,
            icon=":material/stop_circle:",
            on_click=_stop,
            args=(build, on_stop),
        )
    status = build.status()
    # Polling keeps the script in Streamlit calls: a click anywhere (Stop included) interrupts
    # the run at the next bar update, while the build goes on in its own process.
    while status.state == "running":
        bar.progress(status.fraction, text=status.text)
        time.sleep(0.5)
        status = build.status()
    slot.empty()
    if status.state == "done":
        return
    if status.state == "cancelled":  # stopped from another session
        st.info(STOPPED_MESSAGE, icon=":material/stop_circle:")
        st.stop()
    raise ModelUnavailableError(
        f"Building the static model failed: {status.error}. Run `python -m embedcore prepare` "
        "in a terminal to see the whole message."
    )
