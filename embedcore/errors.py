"""The exception tree of embedcore.

Everything embedcore raises on purpose derives from :class:`EmbedcoreError`, so
a caller (the dashboard, a notebook) can catch one type and show ``str(exc)``:
every message here is written for a person and never contains the API key.

Input problems are also ``ValueError`` and timeouts are also ``TimeoutError``
(the openai-python / requests habit), so callers can catch broadly.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ConfigurationError",
    "DatabaseError",
    "DatabaseUnavailableError",
    "EmbedcoreError",
    "EmptyInputError",
    "EvaluationCancelled",
    "EvaluationInputError",
    "InputError",
    "InvalidResponseError",
    "MemoryLimitError",
    "MissingExtraError",
    "ModelUnavailableError",
    "NoTextColumnError",
    "NotFoundError",
    "ParseError",
    "PermissionDeniedError",
    "ProjectionInputError",
    "RateLimitError",
    "ServerError",
    "SettingsError",
    "TooManyTextsError",
    "VectorColumnsError",
    "VectorDimensionsError",
    "VectorFileError",
    "VectorLengthError",
    "VectorValuesError",
    "ViewDataMissingError",
    "ViewError",
    "ViewImportError",
    "ViewNotFoundError",
    "status_error_class",
]


class EmbedcoreError(Exception):
    """Base class of every error embedcore raises on purpose."""


# --- configuration -----------------------------------------------------------


class ConfigurationError(EmbedcoreError, ValueError):
    """A setting is unusable: a base URL that is not http(s), a locked endpoint, no key."""


class SettingsError(ConfigurationError):
    """A section of the app's settings (Streamlit secrets) is wrong; ``key`` names the setting.

    ``key`` is the dotted TOML path (``auth.cookie_secret``, ``access.allowed_emails``). The
    message says what is wrong and never repeats a value (a cookie secret or client secret
    would otherwise reach the screen).
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class ModelUnavailableError(EmbedcoreError):
    """A local model cannot be loaded (package missing, files damaged)."""


class MissingExtraError(EmbedcoreError, ImportError):
    """A feature needs an optional part of embedcore that is not installed; ``extra`` names it.

    The engine's core install is light (the API client, the cache, cosine maths, figures,
    reading and writing texts); maps, PDF reading and the bundled models are extras
    (``pip install "embedcore[maps]"``), see :mod:`embedcore.extras`.
    """

    def __init__(self, extra: str, feature: str, missing: Sequence[str]) -> None:
        super().__init__(
            f"{feature} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            f'not installed: install embedcore\'s "{extra}" extra (`pip install "embedcore[{extra}]"`), '
            "or the app's requirements.txt."
        )
        self.extra = extra
        self.missing = tuple(missing)


# --- budgets on the operator's API key: refused before anything is sent ---


class BudgetExceededError(EmbedcoreError):
    """An action would spend more of the operator's token today than its budget has left.

    Raised before anything is sent (:mod:`embedcore.providers.budget`). A person's own token is never
    limited by it, which the message says.

    Attributes
    ----------
    scope : {"visitor", "endpoint"}
        Whose budget is short: this visitor's, or the one all visitors of the endpoint share.
    limit, used, left : int
        Tokens per UTC day, spent (reservations of actions in flight included), still free.
    needed : int
        The action's estimate (an upper bound, see :func:`embedcore.providers.budget.estimate_tokens`).
    resets_at : datetime.datetime
        The next UTC midnight, timezone-aware.
    """

    def __init__(
        self, message: str, *, scope: str, limit: int, used: int, left: int, needed: int, resets_at
    ) -> None:
        super().__init__(message)
        self.scope = scope
        self.limit = limit
        self.used = used
        self.left = left
        self.needed = needed
        self.resets_at = resets_at


# --- the shared database -----------------------------------------------------


class DatabaseError(EmbedcoreError):
    """The PostgreSQL store failed mid-operation (connection lost, server restarting, refused data).

    Work committed before the failure stays: every cache batch and collection write is its own
    transaction. Messages show the database as ``postgresql://user:***@host/db``, never the password.
    """


class DatabaseUnavailableError(DatabaseError, ConfigurationError):
    """The database named by ``EMBEDCORE_DATABASE_URL`` (or secrets' ``database_url``) cannot be used.

    Raised at start: unreachable, refused login, a malformed URL, or no pgvector. Never answered
    by falling back to the local SQLite files, which would split a team's data in two.
    """


# --- bad input ---------------------------------------------------------------


class InputError(EmbedcoreError, ValueError):
    """The caller's data cannot be used as it is; the message says why and what to do."""


class EmptyInputError(InputError):
    """There is nothing to embed: no texts, or only blank ones."""


class TooManyTextsError(InputError):
    """More texts than the configured limit."""


class ParseError(InputError):
    """A pasted text or an uploaded file could not be read (encoding, format, missing column)."""


class NoTextColumnError(ParseError):
    """A table has no column that holds text: only numbers, ids, flags or empty cells.

    Attributes
    ----------
    columns : list of str
        The table's columns, in order (each is described in the message).
    """

    def __init__(self, message: str, *, columns: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.columns = [str(c) for c in columns]


class VectorFileError(ParseError):
    """A file of texts and their vectors (Parquet, NPZ) cannot be opened as it is."""


class VectorColumnsError(VectorFileError):
    """The file lacks the texts or the vectors (wrong or missing columns / arrays).

    Attributes
    ----------
    columns : list of str
        The columns (Parquet) or array names (NPZ) the file has.
    """

    def __init__(self, message: str, *, columns: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.columns = [str(c) for c in columns]


class VectorLengthError(VectorFileError):
    """Texts, labels and vectors do not have the same number of rows."""


class VectorDimensionsError(VectorFileError):
    """The vectors are not one row of equal length per text (ragged, not 2-D, or no dimensions)."""


class VectorValuesError(VectorFileError):
    """Vectors hold NaN, infinite or missing values, or are not numbers."""


class EvaluationInputError(ParseError):
    """A labelled evaluation file cannot be used as it is (:mod:`embedcore.evaluation`).

    Attributes
    ----------
    file : str
        The file's name (``sts.csv``, ``qrels.tsv``).
    line : int or None
        1-based line in that file (the header is line 1 of a CSV); None when the problem is the
        file as a whole (too few labels, every score equal).
    column : str or None
        The column (CSV header, JSON key) at fault, when one is.
    """

    def __init__(
        self, message: str, *, file: str, line: int | None = None, column: str | None = None
    ) -> None:
        where = (
            file
            + (f", line {line}" if line is not None else "")
            + (f", column {column!r}" if column is not None else "")
        )
        super().__init__(f"{where}: {message}")
        self.file = file
        self.line = line
        self.column = column


class EvaluationCancelled(EmbedcoreError):
    """An evaluation was stopped by its caller (the page's Stop button, Ctrl-C on the command line).

    Every batch embedded before the stop is already in the cache: running the same evaluation
    again sends only what is still missing.
    """


class MemoryLimitError(InputError):
    """The work asked for would not fit in the memory this server has left (checked before it starts)."""


class ProjectionInputError(InputError):
    """A projection cannot be computed for these points (too few, all identical, ...)."""


# --- shared views (issue 22) -------------------------------------------------


class ViewError(EmbedcoreError):
    """A saved or shared view cannot be opened as it was saved (:mod:`embedcore.stores.views`)."""


class ViewNotFoundError(ViewError, LookupError):
    """No saved view has this id: it was deleted, or made on another deployment.

    Attributes
    ----------
    view_id : str
        The id asked for (shortened in the message when it is long).
    """

    def __init__(self, message: str, *, view_id: str) -> None:
        super().__init__(message)
        self.view_id = view_id


class ViewDataMissingError(ViewError):
    """The view exists (or a link names it) but data it needs is no longer stored.

    The message says what is gone (the texts or a stored selection, by digest); the settings
    without the data are in :attr:`state`, so a caller can offer what it still can.

    Attributes
    ----------
    what : {"texts", "selection"}
    digest : str
        The content digest of what is gone.
    view_id : str or None
        The view that needed it, when one did.
    state : dict or None
        The view's settings, when a view needed it.
    """

    def __init__(
        self, message: str, *, what: str, digest: str, view_id: str | None = None, state: dict | None = None
    ) -> None:
        super().__init__(message)
        self.what = what
        self.digest = digest
        self.view_id = view_id
        self.state = state


class ViewImportError(ParseError):
    """An exported view file cannot be imported; the message names the field at fault."""


# --- the API -----------------------------------------------------------------


class APIError(EmbedcoreError):
    """Something went wrong talking to an embeddings endpoint.

    Attributes
    ----------
    status_code : int or None
        HTTP status, where the server answered.
    request_id : str or None
        The server's ``x-request-id`` (or similar), to quote to the provider's support.
    attempts : int
        How many requests were made before giving up (1 = no retry).
    body : object or None
        What the server answered, where it did: its JSON (a dict or list), else its text; the
        token is scrubbed out of it (:func:`embedcore.providers.api_errors.response_body`).
        Not part of the message.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        attempts: int = 1,
        body: object = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.attempts = attempts
        self.body = body

    def __str__(self) -> str:
        parts = [self.message]
        if self.status_code is not None:
            parts.append(f"(HTTP {self.status_code}")
            parts[-1] += f", request id {self.request_id})" if self.request_id else ")"
        elif self.request_id:
            parts.append(f"(request id {self.request_id})")
        return " ".join(parts)


class APIStatusError(APIError):
    """The server answered with an error status."""


class BadRequestError(APIStatusError):
    """400 / 413 / 422: the request itself was refused (too long, too many, empty input)."""


class AuthenticationError(APIStatusError):
    """401: the token is missing, wrong or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the token is valid but may not use this model or endpoint."""


class NotFoundError(APIStatusError):
    """404: the model (or the endpoint path) does not exist.

    ``model`` names what was asked for and ``available`` lists the served models when known.
    """

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        available: Sequence[str] = (),
        **kwargs,
    ) -> None:
        super().__init__(message, **kwargs)
        self.model = model
        self.available = list(available)


class RateLimitError(APIStatusError):
    """429 after all retries; ``retry_after`` is the server's last hint in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx after all retries."""


class APIConnectionError(APIError):
    """The server could not be reached (refused, DNS, TLS, connection dropped)."""


class APITimeoutError(APIConnectionError, TimeoutError):
    """The server did not answer within the timeout."""


class InvalidResponseError(APIError):
    """The server answered 2xx but the body is unusable.

    Not JSON, cut off, the wrong number of vectors, a missing or duplicate ``index``,
    NaN or infinite values, vectors of different lengths.
    """


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status."""
    if status_code in (400, 413, 422):
        return BadRequestError
    if status_code == 401:
        return AuthenticationError
    if status_code == 403:
        return PermissionDeniedError
    if status_code == 404:
        return NotFoundError
    if status_code == 429:
        return RateLimitError
    if status_code >= 500:
        return ServerError
    return APIStatusError
