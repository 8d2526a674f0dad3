"""Turn embedcore's exceptions into messages a person can act on.

Pages wrap every call that can fail::

    with friendly_errors() as outcome:
        result = embed_texts(table.texts)
    if outcome.failed:
        ...  # keep showing what was there before

The user sees one ``st.error`` (or ``st.warning`` for input problems) that says
what happened and what to do next, never a traceback. The log gets the
exception type and status, never a key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

from embedcore.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DatabaseError,
    DatabaseUnavailableError,
    EmbedcoreError,
    InputError,
    InvalidResponseError,
    ModelUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

logger = logging.getLogger("ui")

#: How many served model ids a 404 message lists before "and N more".
_MAX_LISTED = 12


@dataclass
class Outcome:
    """What happened inside a :func:`friendly_errors` block."""

    error: BaseException | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


def _attempts(exc: APIError) -> str:
    n = getattr(exc, "attempts", 1) or 1
    return "1 attempt" if n == 1 else f"{n} attempts"


def _sentence(text: object) -> str:
    """``text`` ending in exactly one full stop: server and engine messages may or may not bring one."""
    stripped = str(text).strip()
    return stripped if stripped.endswith((".", "?", "!", "…")) else stripped + "."


def _request_id(exc: BaseException) -> str:
    rid = getattr(exc, "request_id", None)
    return f" Request id `{rid}` — quote it if you contact the provider." if rid else ""


def message_for(exc: EmbedcoreError) -> str:
    """The message shown for ``exc``: what happened, then the next step (markdown).

    Parameters
    ----------
    exc : EmbedcoreError

    Returns
    -------
    str
        Never contains a key: embedcore's own messages never do, and this adds only
        status codes, counts, model ids and request ids.
    """
    if isinstance(exc, AuthenticationError):
        return (
            "**The endpoint refused the API token (HTTP 401).** Check the token in the sidebar — "
            "or `IONOS_API_TOKEN` in the app's secrets / environment. A token that is missing, "
            "mistyped or expired gives this answer." + _request_id(exc)
        )
    if isinstance(exc, PermissionDeniedError):
        return (
            "**The token is valid but may not use this model or endpoint (HTTP 403).** Check the "
            "token's permissions or contract, or pick another model in the sidebar." + _request_id(exc)
        )
    if isinstance(exc, NotFoundError):
        if not getattr(exc, "model", None):
            return f"**Not found (HTTP 404):** {_sentence(exc.message)}" + _request_id(exc)
        model = f"`{exc.model}`"
        available = list(getattr(exc, "available", []) or [])
        if available:
            listed = ", ".join(f"`{m}`" for m in available[:_MAX_LISTED])
            if len(available) > _MAX_LISTED:
                listed += f" and {len(available) - _MAX_LISTED} more"
            return (
                f"**{model} is not served by this endpoint (HTTP 404).** Served models: {listed}. "
                "Pick one in the sidebar." + _request_id(exc)
            )
        return (
            f"**{model} (or the `/embeddings` path) was not found (HTTP 404).** Check the model id and that "
            "the base URL ends where `/embeddings` and `/models` live (usually `…/v1`)." + _request_id(exc)
        )
    if isinstance(exc, RateLimitError):
        wait = getattr(exc, "retry_after", None)
        hint = f" The server asked to wait {wait:.0f} s." if wait else ""
        return (
            f"**Rate limited by the provider after {_attempts(exc)}.**{hint} Wait a moment and try "
            "again: texts already embedded are cached and will not be sent again." + _request_id(exc)
        )
    if isinstance(exc, ServerError):
        code = f"HTTP {exc.status_code}" if exc.status_code else "a server error"
        return (
            f"**The provider is having trouble ({code}); tried {_attempts(exc)}.** Try again in a "
            "minute. Finished batches are cached, so a retry only sends what is missing." + _request_id(exc)
        )
    if isinstance(exc, BadRequestError):
        return (
            f"**The endpoint refused the request:** {_sentence(exc.message)} Texts may be longer than the "
            "model accepts, or too many for one request; try fewer or shorter texts." + _request_id(exc)
        )
    if isinstance(exc, APITimeoutError):
        return (
            f"**The endpoint did not answer in time ({_attempts(exc)}).** It may be busy: try again, "
            "or embed fewer texts at once."
        )
    if isinstance(exc, APIConnectionError):
        return (
            f"**Could not reach the endpoint ({_attempts(exc)}):** {_sentence(exc.message)} Check the base URL "
            "in the sidebar and the network; **Test connection** tells you quickly."
        )
    if isinstance(exc, InvalidResponseError):
        return (
            f"**The endpoint answered, but not with usable embeddings:** {_sentence(exc.message)} Is the base "
            "URL an OpenAI-compatible API (`…/v1`) and the model an embedding model?" + _request_id(exc)
        )
    if isinstance(exc, APIError):
        return f"**The API call failed:** {_sentence(exc)}" + _request_id(exc)
    if isinstance(exc, DatabaseUnavailableError):
        return (
            f"**The team database cannot be used, so vectors and collections cannot be stored.** {_sentence(exc)} "
            "Pages that store nothing (such as Models) still work."
        )
    if isinstance(exc, DatabaseError):
        return f"**The team database failed.** {_sentence(exc)}"
    if isinstance(exc, ConfigurationError):
        return f"**Setting problem:** {_sentence(exc)} Fix it in the sidebar's connection panel."
    if isinstance(exc, ModelUnavailableError):
        return (
            f"**The bundled model cannot run here:** {_sentence(exc)} Choose *IONOS AI Model Hub* or an "
            "*OpenAI-compatible URL* in the sidebar."
        )
    return str(exc)


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
      to project, ...) → ``st.warning`` with its own message.
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
        st.warning(str(exc), icon=":material/info:")
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
