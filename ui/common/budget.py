"""The budget on the operator's token in the dashboard: its settings, the guard, the sidebar line.

``[budget]`` in the app's secrets (or ``EMBEDCORE_BUDGET_*`` in the environment) puts a daily
limit on the tokens visitors spend with the operator's token (:mod:`embedcore.providers.budget`). Without
it nothing changes. The rules kept here:

- Only the operator's token is budgeted (``Connection.key_source`` ``"secrets"`` or ``"env"``):
  a token the visitor typed is theirs and never counted; the bundled models are never counted.
- Every path that embeds gets its provider from :func:`ui.common.models_picker.provider_for`, which
  wraps it with :func:`budgeted`: the pages' own calls and the engine's (search collections).
- A visitor is :func:`ui.common.visitor.current_visitor` (signed-in email, else address, else session).
- Counts live where the app's other data does (:func:`ui.common.storage.current_storage`): the team's
  PostgreSQL database when ``database_url`` is set, else a SQLite file beside the cache.
- Broken settings stop the app with one message naming the key (:func:`ui.common.settings.check_operator_settings`),
  never a silently unlimited token.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import streamlit as st

from embedcore.errors import ConfigurationError
from embedcore.providers.budget import (
    BudgetedProvider,
    BudgetGuard,
    BudgetSettings,
    PostgresLedger,
    SQLiteLedger,
    settings_from_env,
    usage_frame,
)
from embedcore.providers.endpoints import normalize_base_url
from ui.common.errors import friendly_errors
from ui.common.storage import current_storage
from ui.common.visitor import current_visitor

if TYPE_CHECKING:
    import pandas as pd

    from embedcore.types import Provider
    from ui.common.connection import Connection

#: The secrets section.
SECTION = "budget"
#: Key sources that mean "the operator's token" (ui.common.connection.Connection.key_source).
OPERATOR_SOURCES = ("secrets", "env")

#: The sidebar slot of this script run's status line, redrawn after the page has embedded.
_status = threading.local()


def budget_settings() -> BudgetSettings | None:
    """``[budget]`` from the secrets, else ``EMBEDCORE_BUDGET_*``; None when neither is set.

    Raises
    ------
    ConfigurationError
        A setting is unknown, negative or not a whole number (the message names it).
    """
    try:
        section = st.secrets.get(SECTION)
    except Exception:  # no secrets file, or a broken one: ui.common.connection reports those
        section = None
    if section is not None:
        values = section.to_dict() if hasattr(section, "to_dict") else section
        return BudgetSettings.from_mapping(values, where="[budget] in the app's secrets:")
    return settings_from_env()


def offers_operator_token() -> bool:
    """False when a budget says visitors may not use the operator's token (a 0, or broken settings)."""
    try:
        settings = budget_settings()
    except ConfigurationError:
        return False
    return settings is None or settings.offered


def current_ledger() -> SQLiteLedger | PostgresLedger:
    """Where the counts live: the team database when configured, else the file beside the cache.

    Raises
    ------
    DatabaseError
        The configured database cannot be used (never a fallback to the file: each replica
        would get a budget of its own).
    """
    storage = current_storage()
    if storage.error is not None:
        raise storage.error
    if storage.database is not None:
        return PostgresLedger(storage.database)
    return SQLiteLedger()


def guard_for(conn: Connection) -> BudgetGuard | None:
    """This visitor's guard when ``conn`` spends the operator's token under a budget, else None."""
    if conn.kind == "local" or conn.key_source not in OPERATOR_SOURCES:
        return None
    settings = budget_settings()
    if settings is None:
        return None
    return BudgetGuard(current_ledger(), settings, current_visitor().id)


def budgeted(provider: Provider, conn: Connection) -> Provider:
    """``provider`` with every ``embed()`` counted against this visitor's budget, when one applies."""
    guard = guard_for(conn)
    return provider if guard is None else BudgetedProvider(provider, guard)


# --- the sidebar --------------------------------------------------------------------------------


def draw_status(conn: Connection) -> None:
    """Under the token field: the visitor's tokens used today and left, when a budget applies.

    Drawn in a slot that :func:`redraw_status` fills again after the page has run, so the line
    counts what the page just embedded.
    """
    _status.slot = None
    if conn.kind == "local" or conn.key_source not in OPERATOR_SOURCES or not conn.base_url:
        return
    _status.slot, _status.conn = st.empty(), conn
    _fill(_status.slot, conn)


def redraw_status() -> None:
    """Draw this run's status line again (called once the page has run)."""
    slot = getattr(_status, "slot", None)
    if slot is not None:
        _status.slot = None
        _fill(slot, _status.conn)


def _fill(slot, conn: Connection) -> None:
    with slot.container(), friendly_errors():
        guard = guard_for(conn)
        if guard is None:
            return
        status = guard.status(normalize_base_url(conn.base_url or ""))
        limit = guard.settings.tokens_per_visitor_per_day
        st.progress(
            min(1.0, status.used / limit) if limit else 1.0,
            text=f"Today: **{status.used:,}** tokens used · **{status.left:,}** left",
        )
        st.caption(
            f"The app's token allows {limit:,} tokens per visitor per day (resets at midnight UTC). "
            "Your own token has no limit."
        )


# --- the Usage page ---------------------------------------------------------------------------------


def usage_table(since: str | None = None) -> pd.DataFrame:
    """Usage records from UTC day ``since`` (``YYYY-MM-DD``), newest first, visitors as people read them.

    Raises
    ------
    DatabaseError
        The store cannot be read.
    """
    frame = usage_frame(current_ledger().usage(since))
    frame["visitor"] = frame["visitor"].map(_visitor_label)
    return frame


def _visitor_label(visitor_id: str) -> str:
    kind, _, value = visitor_id.partition(":")
    return {"email": value, "ip": value, "session": f"browser session {value[:8]}"}.get(kind, visitor_id)
