"""Streamlit glue shared by the dashboard's pages (the only package besides the pages that imports streamlit).

- :mod:`ui.navigation` — the page list, :func:`ensure_routed` (why pages/ needs it is written there).
- :mod:`ui.state` — session-state key names and :func:`ui.state.init_state`.
- :mod:`ui.connection` — the sidebar connection panel, :func:`get_provider`, :func:`current_model`.
- :mod:`ui.errors` — :func:`friendly_errors`, turning embedcore errors into messages with a next step.
- :mod:`ui.texts` — :func:`text_source_panel`: sample set / paste / upload.
- :mod:`ui.embedding` — :func:`embed_texts`, the one way a page embeds; :func:`embed_button`.
- :mod:`ui.cached` — every ``st.cache_*`` function (providers, stores, projections, similarities).
- :mod:`ui.tables` — :func:`text_table` / :func:`pairs_table`: grids whose texts wrap, with the
  selected row in full below.
- :mod:`ui.explorer_*` — the explorer's sections (texts, map, controls, selection, heatmap, query,
  pairs, isolation) and :mod:`ui.explorer_widgets`, its session state and cache keys.
- :mod:`ui.format` — :func:`plural`, :func:`duration`, :func:`cache_share` (no Streamlit).
"""
