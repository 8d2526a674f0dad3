"""Streamlit glue shared by the dashboard's pages (the only package besides the pages that imports streamlit).

- :mod:`ui.state` — session-state key names and :func:`ui.state.init_state`.
- :mod:`ui.connection` — the sidebar connection panel, :func:`get_provider`, :func:`current_model`.
- :mod:`ui.errors` — :func:`friendly_errors`, turning embedcore errors into messages with a next step.
- :mod:`ui.texts` — :func:`text_source_panel`: sample set / paste / upload.
- :mod:`ui.compute` — :func:`embed_texts` and cached projections / similarities.
"""
