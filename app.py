"""Embedding Explorer — the Streamlit entrypoint (``streamlit run app.py``, or ``make run``).

The shell (page config, sign-in gate, shared state, sidebar, the router over ``pages/``) is
:func:`ui.common.navigation.run_app`, which a page calls too when Streamlit runs it on its own.
"""

from __future__ import annotations

from ui.common.navigation import run_app

run_app()
