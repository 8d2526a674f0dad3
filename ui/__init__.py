"""Streamlit glue shared by the dashboard's pages (the only package besides the pages that imports streamlit).

- :mod:`ui.state` — session-state key names and :func:`ui.state.init_state`.
- :mod:`ui.connection` — the sidebar connection panel, :func:`get_provider`, :func:`current_model`.
- :mod:`ui.errors` — :func:`friendly_errors`, turning embedcore errors into messages with a next step.
- :mod:`ui.texts` — :func:`text_source_panel`: sample set / paste / upload.
- :mod:`ui.embedding` — :func:`embed_texts`, the one way a page embeds; :func:`embed_button`.
- :mod:`ui.cached` — every ``st.cache_*`` function (providers, stores, projections, similarities).
- :mod:`ui.tables` — :func:`text_table` / :func:`pairs_table`: grids whose texts wrap, with the
  selected row in full below.
- :mod:`ui.format` — :func:`plural`, :func:`duration`, :func:`cache_share` (no Streamlit).
"""


def _leave_legacy_multipage_mode() -> None:
    """Make sure app.py (the st.navigation router) runs, even when a visitor deep-links to a page.

    Streamlit 1.67 decides once per process whether the app uses the legacy ``pages/``
    directory: true when the folder exists, until some run reaches ``st.navigation``. If the
    first visitor after a (re)start opens ``/embed`` instead of ``/``, Streamlit runs
    ``pages/embed.py`` alone — no sidebar, no shared state — and keeps doing so for every
    session until someone opens ``/``. Every page imports ``ui``, so this turns the flag off
    and restarts the run, which then goes through app.py. Internal API, hence the guards.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
    except ImportError:  # a future Streamlit without the legacy mode
        return
    if getattr(PagesManager, "uses_pages_directory", None):
        PagesManager.uses_pages_directory = False
        if get_script_run_ctx() is not None:
            import streamlit as st

            st.rerun()


_leave_legacy_multipage_mode()
