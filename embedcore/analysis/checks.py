"""Input checks shared by the analysis modules: vectors as float32 rows, whole-number arguments.

Examples
--------
>>> as_rows([1, 2, 3]).shape, as_rows([[1, 2], [3, 4]]).dtype
((1, 3), dtype('float32'))
>>> check_int(5, "k", 1)
5
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embedcore.errors import InputError

__all__ = ["as_rows", "check_int", "check_k", "check_length", "rows_index", "texts_array"]


def as_rows(X, name: str = "X") -> np.ndarray:
    """``X`` as a 2-D float32 array (1-D becomes one row); rejects NaN, inf and ndim > 2."""
    arr = np.asarray(X)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
        raise InputError(f"{name} must be numeric vectors; got an array of dtype {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise InputError(f"{name} must hold real numbers; got complex values.")
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    elif arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D array (texts x dimensions); got shape {arr.shape}.")
    arr = np.asarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise InputError(
            f"{name} contains NaN or infinite values (or values too large for float32); "
            "the embedding is unusable — re-embed the texts."
        )
    return arr


def check_int(value, name: str, minimum: int) -> int:
    """``value`` as an int when it is a whole number (not a bool) of at least ``minimum``.

    >>> check_int(True, "k", 1)
    Traceback (most recent call last):
    ...
    embedcore.errors.InputError: k must be an integer >= 1; got True.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def check_k(k, name: str = "k") -> int:
    """``k`` as an int when it is a positive whole number (not a bool)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"{name} must be a positive integer; got {k!r}.")
    return int(k)


def check_length(values: Sequence[str], n: int, what: str) -> None:
    """One value per vector, or an :class:`InputError` saying how many there are."""
    if len(values) != n:
        raise InputError(f"{len(values)} {what} for {n} vectors: one per vector is needed.")


def texts_array(texts: Sequence[str], n: int, what: str = "texts") -> np.ndarray:
    """``texts`` (one per vector) as an object array, so fancy indexing picks texts without a Python loop."""
    check_length(texts, n, what)
    out = np.empty(n, dtype=object)
    out[:] = list(texts)
    return out


def rows_index(rows, n: int) -> np.ndarray:
    """``rows`` as a 1-D int64 array of valid, unique row indices (input order kept).

    >>> rows_index([3, 1, 3], 5).tolist()
    [3, 1]
    """
    arr = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows)
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise InputError("rows must be a 1-D sequence of row indices.")
    arr = arr.astype(np.int64, copy=False)
    if arr.min() < 0 or arr.max() >= n:
        raise InputError(f"rows holds indices outside 0..{n - 1}.")
    _, first = np.unique(arr, return_index=True)
    return arr[np.sort(first)]
