"""Streamlit glue shared by the dashboard's pages (the only package besides the pages that imports streamlit).

- :mod:`ui.common.navigation` — the page list, :func:`ensure_routed` (why pages/ needs it is written there).
- :mod:`ui.common.state` — session-state key names and :func:`ui.common.state.init_state`.
- :mod:`ui.common.connection` — the sidebar connection panel, :func:`get_provider`, :func:`current_model`.
- :mod:`ui.common.errors` — :func:`friendly_errors`, turning embedcore errors into messages with a next step.
- :mod:`ui.common.texts` — :func:`text_source_panel`: sample set / paste / upload.
- :mod:`ui.common.embedding` — :func:`embed_texts`, the one way a page embeds; :func:`embed_button`.
- :mod:`ui.common.cached` — every ``st.cache_*`` function (providers, stores, projections, similarities).
- :mod:`ui.common.tables` — :func:`text_table` / :func:`pairs_table`: grids whose texts wrap, with the
  selected row in full below.
- :mod:`ui.explorer` — the explorer's sections (texts, map, controls, selection, heatmap, query,
  pairs, isolation) and :mod:`ui.explorer.widgets`, its session state and cache keys.
- :mod:`ui.common.format` — :func:`plural`, :func:`duration`, :func:`cache_share` (no Streamlit).
"""
