"""Usage (admins only): what visitors spent on the operator's token, per visitor, model and UTC day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from ui.common.budget import budget_settings, usage_table
from ui.common.errors import friendly_errors
from ui.common.navigation import ensure_routed
from ui.common.visitor import is_admin

ensure_routed()  # first: Streamlit may have run this file without app.py (ui.common.navigation)

#: The periods offered, in days back from today (UTC).
PERIODS = {"Today": 0, "Last 7 days": 6, "Last 30 days": 29, "Everything": None}

st.title("Usage", anchor=False)
if not is_admin():  # the navigation leaves the page out for everyone else; this is the second lock
    st.error("This page is for the app's admins.", icon=":material/lock:")
    st.stop()

settings = None
with friendly_errors():
    settings = budget_settings()
st.caption(
    "What visitors embedded with the app's API token, per visitor, model and day (UTC): texts asked "
    "for, tokens the API reported, requests sent, and texts answered from the cache (which cost "
    "nothing). A visitor's own token and the bundled models are not recorded."
    + (
        f" Budget: {settings.tokens_per_visitor_per_day:,} tokens per visitor and "
        f"{settings.tokens_per_day:,} for everyone per day; at most {settings.max_texts_per_request:,} "
        "texts per action."
        if settings
        else " No `[budget]` is configured, so nothing is limited or recorded."
    )
)

period = st.segmented_control("Period", list(PERIODS), default="Last 7 days", key="usage_period")
back = PERIODS.get(period or "Last 7 days")
since = None if back is None else (datetime.now(UTC).date() - timedelta(days=back)).isoformat()

with friendly_errors():
    table = usage_table(since)
    left, middle, right = st.columns(3)
    left.metric("Tokens", f"{int(table['tokens'].sum()):,}")
    middle.metric("Visitors", f"{table['visitor'].nunique():,}")
    right.metric("Requests", f"{int(table['requests'].sum()):,}")
    if table.empty:
        st.info("Nothing was embedded with the app's token in this period.", icon=":material/info:")
    else:
        st.dataframe(table, hide_index=True, key="usage_table")
        st.download_button(
            "Download CSV",
            table.to_csv(index=False).encode("utf-8"),
            file_name=f"usage-{since or 'all'}.csv",
            mime="text/csv",
            icon=":material/download:",
            key="usage_csv",
        )
