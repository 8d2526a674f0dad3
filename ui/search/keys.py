"""The search page's session-state keys: every one is ``search_<name>``.

Those read in more than one place, or holding state that is no widget's, are named here; a
widget's own key is written where the widget is drawn.
"""

from __future__ import annotations

#: The selected collection, and the model of the sidebar's choice for it.
SELECT = "search_collection"
MODEL = "search_model"
#: The collection to select at the start of the next run (set by an action, then a rerun).
PENDING = "search_pending_select"
#: ``(success markdown, [warnings])`` to show once at the start of the next run.
NOTICE = "search_notice"
#: The collection whose deletion waits for a confirmation.
CONFIRM = "search_confirm_delete"
#: ``(collection name, created, SearchResult, k asked for)`` of the last search.
LAST = "search_last"
#: The search form's query and number of results, and the map's projection radio (a link seeds them).
QUERY, K, PROJECTION = "search_query", "search_k", "search_projection"
#: Results the form asks for until the visitor (or a link) says otherwise.
DEFAULT_K = 5
#: The collection whose linked query is searched once, on the run that reaches the form.
LINK_SEARCH = "search_link_search"
#: ``{"row": int or None}``: the result a link reads in full, for the grid its search draws.
LINK_HIT = "search_link_hit"
#: ``{"collection", "method", "coordinates"}``: a saved view's map, drawn while both stay the same.
LINK_MAP = "search_link_map"
#: ``{query: digest}``: a long query stored for the URL (ui.search.links).
LINK_QUERIES = "search_link_queries"
#: Resettable widgets (see ui.common.state.widget_key): the two forms' files and name, the result grid.
FILES, NAME, MORE = "search_files", "search_new_name", "search_add_files"
RESULTS = "search_results"
