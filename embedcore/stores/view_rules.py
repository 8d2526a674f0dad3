"""What both view stores share: a view's description, every check on what goes in, and the export format.

:class:`~embedcore.stores.views.ViewStore` (SQLite) and
:class:`~embedcore.stores.pg_views.PostgresViewStore` refuse the same states, texts and
coordinates, and read the same export files, with the same messages, because both call these.

A view is a *state* (the JSON-able settings a page shows: page, data set, provider and model,
method and its parameters, 2-D/3-D, colour, Find text, isolated subset, selection), the texts
it was made from (stored once per content digest, so a link never carries them) and the map's
coordinates (so a colleague sees the same picture, not a recomputation).

Examples
--------
>>> digest = texts_digest(["tea", "rain"], None)
>>> len(digest), digest == texts_digest(["tea", "rain"], None), digest == texts_digest(["rain", "tea"], None)
(64, True, False)
>>> check_state({"page": "explorer", "api_token": "sk-1"})
Traceback (most recent call last):
embedcore.errors.InputError: A view's state cannot hold 'api_token': tokens and passwords are never stored with a view.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from embedcore.errors import InputError, ViewImportError, ViewNotFoundError
from embedcore.stores.cache_rules import default_cache_path

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "MAX_NAME_LENGTH",
    "MAX_STATE_BYTES",
    "ROW_KEYS",
    "VIEWS_FILENAME",
    "SavedView",
    "ViewInfo",
    "check_author",
    "check_coordinates",
    "check_id",
    "check_name",
    "check_rows",
    "check_state",
    "check_texts",
    "default_views_path",
    "export_view",
    "info_from_row",
    "new_view_id",
    "not_found",
    "read_export",
    "rows_digest",
    "stored_reference",
    "texts_digest",
    "utc",
]

VIEWS_FILENAME = "views.sqlite3"
MAX_NAME_LENGTH = 100
#: Settings bigger than this (as JSON, the row lists aside) hold data rather than settings.
MAX_STATE_BYTES = 64_000
#: State keys that may hold a list of rows, or ``{"stored": digest}`` of a stored one.
ROW_KEYS = ("selection", "isolated")
EXPORT_FORMAT = "embedcore.view"
EXPORT_VERSION = 1
#: Key names a state may not use: a view is shared and exported, a token must never go with it.
#: Matched against a key's words (``api_token`` -> ``api``, ``token``), so ``max_tokens`` is a setting.
_SECRET_WORDS = frozenset(
    {"token", "password", "passwd", "secret", "apikey", "authorization", "cookie", "credentials"}
)
#: ``secrets.token_urlsafe(24)``: 32 characters of the URL-safe alphabet, 192 random bits.
_ID = re.compile(r"[A-Za-z0-9_-]{32}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


def default_views_path() -> Path:
    """``views.sqlite3`` in the embedding cache's directory.

    Examples
    --------
    >>> default_views_path().name
    'views.sqlite3'
    """
    return default_cache_path().parent / VIEWS_FILENAME


@dataclass(frozen=True)
class ViewInfo:
    """What the list of saved views shows.

    Examples
    --------
    >>> info = info_from_row(("x" * 32, "Tea", None, 0.0, "notes", "toy", 2))
    >>> info.name, info.created.year, info.n_texts
    ('Tea', 1970, 2)

    Attributes
    ----------
    id, name : str
    author : str or None
        Who saved it (the signed-in email), None when nobody was signed in.
    created : datetime
        UTC.
    dataset, model : str
        From the state (``""`` when it has none).
    n_texts : int
    """

    id: str
    name: str
    author: str | None
    created: datetime
    dataset: str
    model: str
    n_texts: int


@dataclass(frozen=True)
class SavedView:
    """A view as it was saved: what a colleague needs to see the same picture.

    Built by a store's ``open``.

    Examples
    --------
    >>> view = SavedView("x" * 32, "Tea", None, utc(0), {"page": "explorer"}, ["tea"], None, None,
    ...                  texts_digest(["tea"], None))
    >>> view.texts, view.coordinates is None
    (['tea'], True)

    Attributes
    ----------
    id, name : str
    author : str or None
    created : datetime
    state : dict
        The settings, with stored row lists (``{"stored": digest}``) read back into lists.
    texts : list of str
    labels : list or None
        One per text.
    coordinates : ndarray of shape (n_texts, 2 or 3), float32, or None
    data_digest : str
        The sha256 of the texts and labels they are stored under.
    """

    id: str
    name: str
    author: str | None
    created: datetime
    state: dict
    texts: list[str]
    labels: list | None
    coordinates: np.ndarray | None
    data_digest: str


def new_view_id() -> str:
    """An unguessable id: ``secrets.token_urlsafe(24)``, 192 random bits in 32 URL-safe characters.

    Examples
    --------
    >>> a, b = new_view_id(), new_view_id()
    >>> len(a), a != b, check_id(a) == a
    (32, True, True)
    """
    import secrets

    return secrets.token_urlsafe(24)


def check_id(view_id: object) -> str:
    """The id, when it has the shape :func:`new_view_id` gives; else :class:`ViewNotFoundError`.

    Examples
    --------
    >>> check_id("../etc/passwd")
    Traceback (most recent call last):
    embedcore.errors.ViewNotFoundError: There is no saved view with the id '../etc/passwd': ...
    """
    if isinstance(view_id, str) and _ID.fullmatch(view_id):
        return view_id
    raise not_found(str(view_id))


def not_found(view_id: str) -> ViewNotFoundError:
    """The error for a view that is not stored (a long id is shortened in the message).

    Examples
    --------
    >>> not_found("abc").view_id
    'abc'
    """
    shown = view_id if len(view_id) <= 40 else view_id[:37] + "..."
    return ViewNotFoundError(
        f"There is no saved view with the id {shown!r}: it was deleted, or made on another "
        "deployment (export it there and import the file here).",
        view_id=view_id,
    )


def _clean_text(value: object, what: str, most: int) -> str:
    if not isinstance(value, str):
        raise InputError(f"A view's {what} must be text, not {type(value).__name__}.")
    cleaned = unicodedata.normalize("NFC", value).strip()
    if len(cleaned) > most:
        raise InputError(f"A view's {what} can have at most {most} characters, not {len(cleaned)}.")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in cleaned):
        raise InputError(f"A view's {what} cannot contain control characters (tabs, line breaks).")
    return cleaned


def check_name(name: object) -> str:
    """The name as stored: NFC, stripped; an empty name becomes ``"Untitled view"``.

    Examples
    --------
    >>> check_name("  Three clusters "), check_name("")
    ('Three clusters', 'Untitled view')
    """
    return _clean_text(name, "name", MAX_NAME_LENGTH) or "Untitled view"


def check_author(author: object) -> str | None:
    """The author as stored (None: nobody signed in).

    Examples
    --------
    >>> check_author(" ana@example.com "), check_author(None)
    ('ana@example.com', None)
    """
    return None if author is None else (_clean_text(author, "author", 320) or None)


def _json_scalar(value: object) -> bool:
    return (
        value is None
        or isinstance(value, (str, bool, int))
        or (isinstance(value, float) and math.isfinite(value))
    )


def check_texts(texts: object, labels: object = None) -> tuple[list[str], list | None]:
    """The texts (and labels, one per text: text, numbers, booleans or None) as lists.

    Examples
    --------
    >>> check_texts(("tea", "rain"), ["drink", None])
    (['tea', 'rain'], ['drink', None])
    >>> check_texts(["tea"], ["a", "b"])
    Traceback (most recent call last):
    embedcore.errors.InputError: 1 texts but 2 labels: a view needs one label per text.
    """
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise InputError("A view's texts must be a list of strings.")
    texts = list(texts)
    if not texts:
        raise InputError("A view needs at least one text.")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"Text {i} of the view is {type(text).__name__}, not a string.")
        if "\x00" in text:
            # PostgreSQL text cannot hold NUL; refused by both stores so they behave alike.
            raise InputError(f"Text {i} of the view contains a NUL character; remove it.")
    if labels is None:
        return texts, None
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
        raise InputError("A view's labels must be a list, one per text.")
    labels = [v.item() if isinstance(v, np.generic) else v for v in labels]
    if len(labels) != len(texts):
        raise InputError(f"{len(texts)} texts but {len(labels)} labels: a view needs one label per text.")
    for i, label in enumerate(labels):
        if not _json_scalar(label) or (isinstance(label, str) and "\x00" in label):
            raise InputError(
                f"Label {i} of the view ({type(label).__name__}) is not text, a number or empty."
            )
    return texts, labels


def _canonical(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def texts_digest(texts: Sequence[str], labels: Sequence | None) -> str:
    """The sha256 (hex) the texts and their labels are stored under: same data, same digest."""
    return hashlib.sha256(_canonical({"labels": labels, "texts": list(texts)})).hexdigest()


def check_rows(rows: object, n_texts: int | None = None, *, what: str = "selection") -> list[int]:
    """Row numbers as a sorted list without repeats; each below ``n_texts`` when given.

    Examples
    --------
    >>> check_rows([4, 1, 4], 5)
    [1, 4]
    >>> check_rows([7], 5)
    Traceback (most recent call last):
    embedcore.errors.InputError: The view's selection names row 7, but it has 5 texts.
    """
    if isinstance(rows, (str, bytes)) or not isinstance(rows, (Sequence, np.ndarray)):
        raise InputError(f"The view's {what} must be a list of row numbers.")
    found = sorted({int(r) for r in rows if _is_row(r, what)})
    if n_texts is not None and found and found[-1] >= n_texts:
        raise InputError(f"The view's {what} names row {found[-1]}, but it has {n_texts} texts.")
    return found


def _is_row(value: object, what: str) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InputError(f"The view's {what} holds {value!r}, not a row number.")
    return True


def rows_digest(rows: Sequence[int]) -> str:
    """The sha256 (hex) a stored row list goes by (of the sorted rows without repeats).

    Examples
    --------
    >>> rows_digest([3, 1]) == rows_digest([1, 3, 3])
    True
    """
    return hashlib.sha256(_canonical(check_rows(rows))).hexdigest()


def stored_reference(value: object) -> str | None:
    """The digest in ``{"stored": digest}``, None for anything else.

    Examples
    --------
    >>> stored_reference({"stored": "0" * 64}) == "0" * 64, stored_reference([1, 2])
    (True, None)
    """
    if isinstance(value, dict) and set(value) == {"stored"}:
        digest = value["stored"]
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise InputError(f"A stored selection is named by a 64-digit sha256, not {digest!r}.")
        return digest
    return None


def _check_keys(value: object, path: str) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str):
                raise InputError(
                    f"A view's state has a key {key!r} at {path or 'the top'}; keys must be text."
                )
            lowered = key.lower().replace("-", "_")
            if _SECRET_WORDS & set(re.split(r"[_\s.]+", lowered)) or "api_key" in lowered:
                raise InputError(
                    f"A view's state cannot hold {key!r}: tokens and passwords are never stored with a view."
                )
            _check_keys(inner, f"{path}.{key}" if path else key)
    elif isinstance(value, (list, tuple)):
        for inner in value:
            _check_keys(inner, path)
    elif isinstance(value, str) and re.search(r"://[^/\s@]*:[^/\s@]*@", value):
        raise InputError(
            f"A view's state holds a URL with a password (at {path or 'the top'}); leave it out."
        )


def check_state(state: object) -> dict:
    """A copy of the state after checking it is JSON, holds no secret, and is settings, not data.

    Row lists (:data:`ROW_KEYS`) may be long; the rest must stay under :data:`MAX_STATE_BYTES`.

    Examples
    --------
    >>> check_state({"page": "explorer", "dims": 2, "selection": [3, 1]})
    {'page': 'explorer', 'dims': 2, 'selection': [3, 1]}
    """
    if not isinstance(state, dict):
        raise InputError(f"A view's state must be a dict, not {type(state).__name__}.")
    _check_keys(state, "")
    try:
        encoded = _canonical(state)
    except (TypeError, ValueError) as exc:
        raise InputError(f"A view's state must be plain JSON (text, numbers, lists, dicts): {exc}.") from None
    settings = len(_canonical({k: v for k, v in state.items() if k not in ROW_KEYS}))
    if settings > MAX_STATE_BYTES:
        raise InputError(
            f"A view's settings are {settings:,} bytes as JSON (at most {MAX_STATE_BYTES:,}, row lists "
            "aside): a view stores its texts apart, pass them as texts."
        )
    for key in ROW_KEYS:
        if key in state and state[key] is not None:
            stored_reference(state[key]) or check_rows(state[key], what=key)
    return json.loads(encoded)


def check_coordinates(coordinates: object, n_texts: int) -> np.ndarray | None:
    """The map's coordinates as float32 (n_texts, 2 or 3), finite; None stays None.

    Examples
    --------
    >>> check_coordinates([[0, 1], [2, 3]], 2).dtype
    dtype('float32')
    >>> check_coordinates([[0, 1]], 2)
    Traceback (most recent call last):
    embedcore.errors.InputError: The view has 2 texts but 1 map coordinates; save the map the texts made.
    """
    if coordinates is None:
        return None
    try:
        matrix = np.asarray(coordinates, dtype=np.float32)
    except (TypeError, ValueError):
        raise InputError("A view's coordinates must be numbers, one row per text.") from None
    if matrix.ndim != 2 or matrix.shape[1] not in (2, 3):
        raise InputError(f"A view's coordinates must have shape (n_texts, 2 or 3), not {matrix.shape}.")
    if matrix.shape[0] != n_texts:
        raise InputError(
            f"The view has {n_texts} texts but {matrix.shape[0]} map coordinates; save the map the texts made."
        )
    if not np.isfinite(matrix).all():
        raise InputError("A view's coordinates contain NaN or infinite values.")
    return np.ascontiguousarray(matrix)


def utc(timestamp: float) -> datetime:
    """A stored time (seconds since the epoch) as an aware UTC datetime.

    Examples
    --------
    >>> utc(0).isoformat()
    '1970-01-01T00:00:00+00:00'
    """
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def info_from_row(row: Sequence) -> ViewInfo:
    """A :class:`ViewInfo` from ``(id, name, author, created, dataset, model, n_texts)``.

    Examples
    --------
    >>> info_from_row(("x" * 32, "Tea", "ana@example.com", 0.0, "notes", "toy", 2)).author
    'ana@example.com'
    """
    return ViewInfo(
        id=row[0],
        name=row[1],
        author=row[2],
        created=utc(row[3]),
        dataset=row[4],
        model=row[5],
        n_texts=int(row[6]),
    )


# --- the export file -------------------------------------------------------------------------


def export_view(view: SavedView) -> dict:
    """The view as a JSON-able dict: state, texts, labels and coordinates, nothing stored elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> view = SavedView("x" * 32, "Tea", None, datetime(2026, 12, 7, tzinfo=timezone.utc),
    ...                  {"page": "explorer"}, ["tea", "rain"], None,
    ...                  np.array([[0, 1], [2, 3]], dtype=np.float32), texts_digest(["tea", "rain"], None))
    >>> exported = export_view(view)
    >>> exported["format"], exported["coordinates"], read_export(exported)["texts"]
    ('embedcore.view', [[0.0, 1.0], [2.0, 3.0]], ['tea', 'rain'])
    """
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "name": view.name,
        "author": view.author,
        "created": view.created.isoformat(),
        "state": view.state,
        "texts": view.texts,
        "labels": view.labels,
        "coordinates": None if view.coordinates is None else view.coordinates.tolist(),
        "data_digest": view.data_digest,
    }


def read_export(payload: object) -> dict:
    """An export file (its JSON text, bytes, or the parsed dict), checked field by field.

    Returns a dict with ``name``, ``author``, ``state``, ``texts``, ``labels`` and
    ``coordinates`` (float32 or None), ready for a store's ``save``.

    Raises
    ------
    ViewImportError
        Not JSON, not an embedcore view, another version, or a field that is wrong; the message
        names the field.

    Examples
    --------
    >>> read_export('{"format": "embedcore.view", "version": 1, "state": {}, "texts": "tea"}')
    Traceback (most recent call last):
    embedcore.errors.ViewImportError: The view file's "texts": A view's texts must be a list of strings.
    """
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise ViewImportError("The view file is not UTF-8 text; export it again.") from None
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise ViewImportError(f"The view file is not JSON ({exc}); export it again.") from None
    if not isinstance(payload, dict) or payload.get("format") != EXPORT_FORMAT:
        raise ViewImportError(f'The file is not an exported view (no "format": "{EXPORT_FORMAT}").')
    if payload.get("version") != EXPORT_VERSION:
        raise ViewImportError(
            f'The view file has "version": {payload.get("version")!r}; this app reads version {EXPORT_VERSION}.'
        )
    for field in ("state", "texts"):
        if field not in payload:
            raise ViewImportError(f'The view file has no "{field}".')
    out: dict[str, Any] = {}
    for field, check in (
        ("name", lambda: check_name(payload.get("name") or "")),
        ("author", lambda: check_author(payload.get("author"))),
        ("texts", lambda: check_texts(payload["texts"], payload.get("labels"))),
        ("state", lambda: check_state(payload["state"])),
        ("coordinates", lambda: check_coordinates(payload.get("coordinates"), len(out["texts"][0]))),
    ):
        try:
            out[field] = check()
        except InputError as exc:
            raise ViewImportError(f'The view file\'s "{field}": {exc}') from None
    (texts, labels) = out.pop("texts")
    if payload.get("data_digest") not in (None, texts_digest(texts, labels)):
        raise ViewImportError(
            'The view file\'s "texts" or "labels" do not match its "data_digest": the file was '
            "edited or damaged after export."
        )
    for key in ROW_KEYS:
        value = out["state"].get(key)
        if value is not None:
            if stored_reference(value) is not None:
                raise ViewImportError(f'The view file\'s "state" names a stored {key}; export it again.')
            try:
                check_rows(value, len(texts), what=key)
            except InputError as exc:
                raise ViewImportError(f'The view file\'s "state": {exc}') from None
    return {**out, "texts": texts, "labels": labels}
