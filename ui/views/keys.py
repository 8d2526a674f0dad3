"""The saved views page's session-state keys: every one is ``views_<name>``.

Those read in more than one place, or holding state that is no widget's, are named here; a
widget's own key is written where the widget is drawn.
"""

from __future__ import annotations

#: The selectbox of the chosen view (its value is the view's id).
SELECT = "views_selected"
#: The view to choose at the start of the next run (set by an import, then a rerun).
PENDING = "views_pending_select"
#: A success message (markdown) to show once at the start of the next run.
NOTICE = "views_notice"
#: ``{"id", "message"}`` of the view the last import saved: said, with "Open", while it is chosen.
IMPORTED = "views_imported"
#: The id of the view whose deletion waits for a confirmation.
CONFIRM = "views_confirm_delete"
#: The "Only mine" toggle (drawn only with sign-in).
ONLY_MINE = "views_only_mine"
#: The import uploader (a resettable widget, see ui.common.state.widget_key).
IMPORT = "views_import"
