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
#: ``(collection name, created, SearchResult)`` of the last search.
LAST = "search_last"
#: Resettable widgets (see ui.common.state.widget_key): the two forms' files and name, the result grid.
FILES, NAME, MORE = "search_files", "search_new_name", "search_add_files"
RESULTS = "search_results"
