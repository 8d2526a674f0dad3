"""What both collection stores share: a collection's description and every check on what goes in.

:class:`~embedcore.stores.collections.CollectionStore` (SQLite) and
:class:`~embedcore.stores.pg_collections.PostgresCollectionStore` refuse the same names,
settings, vectors and queries with the same messages, because both call these.

Examples
--------
>>> check_name("  Reports ")
'Reports'
>>> check_name("")
Traceback (most recent call last):
embedcore.errors.InputError: A collection name cannot be empty.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from embedcore.errors import InputError
from embedcore.io.chunking import Chunk
from embedcore.stores.cache_rules import default_cache_path

__all__ = [
    "COLLECTIONS_FILENAME",
    "MAX_NAME_LENGTH",
    "CollectionInfo",
    "by_name",
    "check_chunks",
    "check_endpoint",
    "check_name",
    "check_origin",
    "check_query",
    "check_settings",
    "check_width",
    "default_collections_path",
    "exists_already",
    "info_from_row",
    "no_collection",
    "query_width_error",
]

COLLECTIONS_FILENAME = "collections.sqlite3"
MAX_NAME_LENGTH = 100


def default_collections_path() -> Path:
    """``collections.sqlite3`` in the embedding cache's directory."""
    return default_cache_path().parent / COLLECTIONS_FILENAME


@dataclass(frozen=True)
class CollectionInfo:
    """What the collection list shows.

    Attributes
    ----------
    name, endpoint_id, model : str
        ``endpoint_id`` and ``model`` made the vectors; embed queries with the same.
    chunk_size, overlap : int
        The chunking settings the collection was created with (in words).
    n_documents : int
        Distinct chunk sources (file names).
    n_chunks : int
    dims : int or None
        Vector width; None until the first chunks are added.
    created : datetime
        When the collection was created, UTC.
    version : int
        Grows with every change to the chunks, so a copy loaded earlier (by this process or
        another replica's write) can tell that it is stale.
    """

    name: str
    endpoint_id: str
    model: str
    chunk_size: int
    overlap: int
    n_documents: int
    n_chunks: int
    dims: int | None
    created: datetime
    version: int = 0


def check_name(name: object) -> str:
    """The collection name as stored: NFC-normalised, surrounding spaces removed."""
    if not isinstance(name, str):
        raise InputError(f"A collection name must be text, not {type(name).__name__}.")
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise InputError("A collection name cannot be empty.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InputError(
            f"A collection name can have at most {MAX_NAME_LENGTH} characters, not {len(cleaned)}."
        )
    if any(unicodedata.category(c) == "Cc" for c in cleaned):
        raise InputError("A collection name cannot contain control characters (tabs, line breaks).")
    if any(unicodedata.category(c) == "Cs" for c in cleaned):
        raise InputError("A collection name cannot contain unpaired surrogate characters; retype it.")
    return cleaned


def check_endpoint(endpoint_id: object) -> str:
    if not isinstance(endpoint_id, str) or not endpoint_id.strip():
        raise InputError("A collection needs the endpoint id that made its vectors.")
    try:
        parts = urlsplit(endpoint_id)
        has_credentials = bool(parts.username or parts.password)
    except ValueError:
        has_credentials = False
    if has_credentials:
        # Collections are files people copy around; a key must never end up in one.
        raise InputError(
            "The endpoint id contains credentials; pass the provider's endpoint_id, not a URL with a key."
        )
    return endpoint_id


def check_settings(model: object, chunk_size: object, overlap: object) -> None:
    if not isinstance(model, str) or not model.strip():
        raise InputError("A collection needs the model that makes its vectors.")
    for label, value, least in (("chunk size", chunk_size, 1), ("overlap", overlap, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InputError(f"The {label} must be a whole number of at least {least}, not {value!r}.")
    if overlap >= chunk_size:  # type: ignore[operator]
        raise InputError(f"Overlap ({overlap}) must be smaller than the chunk size ({chunk_size}).")


def exists_already(name: str) -> InputError:
    return InputError(f"A collection called {name!r} exists already; pick another name or delete it.")


def no_collection(name: str) -> InputError:
    return InputError(f"There is no collection called {name!r}.")


def check_chunks(chunks: Sequence[Chunk], vectors: np.ndarray) -> np.ndarray:
    """The vectors as a float32 (n, dims) matrix, after checking them against the chunks."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise InputError(f"Vectors must be a 2-D array (n_chunks, dims); got shape {matrix.shape}.")
    if matrix.shape[0] != len(chunks):
        raise InputError(f"{len(chunks)} chunks but {matrix.shape[0]} vectors.")
    if matrix.shape[0] and matrix.shape[1] == 0:
        raise InputError("Vectors have no dimensions.")
    if not np.isfinite(matrix).all():
        raise InputError("Vectors contain NaN or infinite values; they cannot be searched.")
    for chunk in chunks:
        if not isinstance(chunk, Chunk):
            raise InputError(f"Expected Chunk objects, got {type(chunk).__name__}.")
        if "\x00" in chunk.text or "\x00" in chunk.source:
            # PostgreSQL text cannot hold NUL; refused by both stores so they behave alike.
            raise InputError(
                f"A chunk of {chunk.source!r} contains a NUL character; remove it from the document."
            )
    return matrix


def check_origin(
    name: str,
    stored_endpoint: str,
    stored_model: str,
    endpoint_id: str | None,
    model: str | None,
) -> None:
    if endpoint_id is not None and endpoint_id != stored_endpoint:
        raise InputError(
            f"Collection {name!r} was made at {stored_endpoint!r}, not {endpoint_id!r}; "
            "its vectors cannot be mixed with another endpoint's."
        )
    if model is not None and model != stored_model:
        raise InputError(
            f"Collection {name!r} was made with {stored_model!r}, not {model!r}; "
            "create a new collection for another model."
        )


def check_width(name: str, dims: int | None, width: int) -> None:
    if dims is not None and dims != width:
        raise InputError(f"Collection {name!r} holds {dims}-dimensional vectors; these have {width}.")


def check_query(query_vector: object, k: object) -> np.ndarray:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be at least 1, not {k!r}.")
    query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    if not query.size or not np.isfinite(query).all():
        raise InputError("The query vector is empty or contains NaN or infinite values.")
    return query


def query_width_error(query: np.ndarray, dims: int) -> InputError:
    return InputError(
        f"The query vector has {query.shape[0]} dimensions and the collection's vectors {dims}: "
        "they were not made by the same model."
    )


def info_from_row(r: Sequence) -> CollectionInfo:
    """(name, endpoint_id, model, chunk_size, overlap, n_documents, n_chunks, dims, created, version)."""
    return CollectionInfo(
        name=r[0],
        endpoint_id=r[1],
        model=r[2],
        chunk_size=int(r[3]),
        overlap=int(r[4]),
        n_documents=int(r[5]),
        n_chunks=int(r[6]),
        dims=None if r[7] is None else int(r[7]),
        created=datetime.fromtimestamp(r[8], tz=timezone.utc),
        version=int(r[9]),
    )


def by_name(infos: list[CollectionInfo]) -> list[CollectionInfo]:
    return sorted(infos, key=lambda info: (info.name.casefold(), info.name))
