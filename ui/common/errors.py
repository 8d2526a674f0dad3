"""Turn embedcore's exceptions into messages a person can act on.

Pages wrap every call that can fail::

    with friendly_errors() as outcome:
        result = embed_texts(table.texts)
    if outcome.failed:
        ...  # keep showing what was there before

The user sees one ``st.error`` (or ``st.warning`` for input problems): what happened, in
embedcore's own words (shown literally: no markdown of a server's text is rendered), then the
next step in this app — never a traceback. The log gets the exception type and status, never a key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

from embedcore.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ConfigurationError,
    DatabaseError,
    DatabaseUnavailableError,
    EmbedcoreError,
    InputError,
    InvalidResponseError,
    ModelUnavailableError,
    NotFoundError,
    PermissionDeniedError,
)
from ui.common.format import md_escape

logger = logging.getLogger("ui")


@dataclass
class Outcome:
    """What happened inside a :func:`friendly_errors` block."""

    error: BaseException | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


def _sentence(text: object) -> str:
    """``text`` ending in exactly one full stop: engine and server messages may or may not bring one."""
    stripped = str(text).strip()
    return stripped if stripped.endswith((".", "?", "!", "…")) else stripped + "."


def next_step(exc: EmbedcoreError) -> str | None:
    """What to do about ``exc`` in this app (markdown), or None when the engine's sentence says it.

    Only the step that belongs to the dashboard — which field of the sidebar, which button;
    what happened is the engine's sentence (``str(exc)``), never written again here.
    """
    if isinstance(exc, BudgetExceededError):
        return (
            "Paste your own token in the sidebar under **API token** to embed without this limit, "
            "pick the bundled offline model, or come back after midnight UTC."
        )
    if isinstance(exc, AuthenticationError):
        return (
            "Check the token in the sidebar (**API token**) — or `IONOS_API_TOKEN` in the app's secrets "
            "or environment: a token that is missing, mistyped or expired gets this answer."
        )
    if isinstance(exc, PermissionDeniedError):
        return "Check the token's permissions or contract, or pick another model in the sidebar."
    if isinstance(exc, NotFoundError):
        if getattr(exc, "available", None):
            return "Pick one of the served models in the sidebar."
        if getattr(exc, "model", None):
            return (
                "Check the model id, and that the base URL in the sidebar ends where `/embeddings` and "
                "`/models` live (usually `…/v1`)."
            )
        return "Check the base URL in the sidebar (it usually ends in `/v1`)."
    if isinstance(exc, BadRequestError):
        return (
            "Texts may be longer than the model accepts, or too many for one request: try fewer or "
            "shorter texts."
        )
    if isinstance(exc, APITimeoutError):
        return "The endpoint may be busy: try again, or embed fewer texts at once."
    if isinstance(exc, APIConnectionError):
        return "Check the base URL in the sidebar and the network; **Test connection** tells you quickly."
    if isinstance(exc, InvalidResponseError):
        return "Is the base URL an OpenAI-compatible API (`…/v1`) and the model an embedding model?"
    if isinstance(exc, DatabaseUnavailableError):
        return (
            "Vectors and collections cannot be stored until it can be used; pages that store nothing "
            "(such as Models) still work."
        )
    if isinstance(exc, DatabaseError):
        return "Try again: what was finished before the failure is kept."
    if isinstance(exc, ConfigurationError):
        return "Fix it in the sidebar's connection panel."
    if isinstance(exc, ModelUnavailableError):
        return "Choose *IONOS AI Model Hub* or an *OpenAI-compatible URL* in the sidebar."
    return None


def message_for(exc: EmbedcoreError) -> str:
    """The message shown for ``exc``: the engine's sentence, shown literally, then :func:`next_step`.

    Parameters
    ----------
    exc : EmbedcoreError

    Returns
    -------
    str
        Markdown. Never contains a key: embedcore's messages never do (a key a server echoes is
        scrubbed), and the next steps are fixed texts.
    """
    parts = [md_escape(_sentence(exc)), next_step(exc)]
    if getattr(exc, "request_id", None):
        parts.append("Quote the request id if you contact the provider.")
    return "\n\n".join(part for part in parts if part)


def _log(exc: BaseException) -> None:
    # Type, status and request id only: messages of foreign exceptions may quote URLs or
    # payloads, and nothing here may end up holding a key.
    logger.warning(
        "%s shown to the user (status=%s, request_id=%s, attempts=%s)",
        type(exc).__name__,
        getattr(exc, "status_code", None),
        getattr(exc, "request_id", None),
        getattr(exc, "attempts", None),
    )


@contextmanager
def friendly_errors() -> Iterator[Outcome]:
    """Show any error raised in the block as a message with a next step; never a traceback.

    - :class:`~embedcore.errors.InputError` (empty input, unreadable upload, too few points
      to project, ...) → ``st.warning`` with its own message, shown literally.
    - any other :class:`~embedcore.errors.EmbedcoreError` → ``st.error`` from :func:`message_for`.
    - anything else → a short ``st.error`` naming the type; the traceback goes to the log only.

    Yields
    ------
    Outcome
        ``outcome.failed`` / ``outcome.error`` tell the caller what happened.
        Streamlit's own control flow (``st.rerun``, ``st.stop``) passes through untouched
        (those are ``BaseException``\\s).
    """
    outcome = Outcome()
    try:
        yield outcome
    except InputError as exc:
        outcome.error = exc
        _log(exc)
        st.warning(md_escape(_sentence(exc)), icon=":material/info:")
    except EmbedcoreError as exc:
        outcome.error = exc
        _log(exc)
        st.error(message_for(exc), icon=":material/error:")
    except Exception as exc:
        # Deliberately broad: the dashboard must not show a stack trace to a visitor.
        # The log keeps the traceback (code lines, not variable values) for us.
        outcome.error = exc
        logger.error("unexpected %s", type(exc).__name__, exc_info=True)
        st.error(
            f"**Something unexpected went wrong** ({type(exc).__name__}). It was logged; "
            "try again, and report it if it keeps happening.",
            icon=":material/bug_report:",
        )
