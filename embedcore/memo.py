"""Remembering a result inside one process: bounded, locked, and keyed from every input.

Every module-level memo of the engine (and the few in ``ui`` that are not ``st.cache_*``) goes
through :class:`Memo`, so each has the same three rules: it holds at most ``maxsize`` entries
(least recently used out first), it is safe to use from Streamlit's script threads, and its key is
:func:`digest` of *every* input that changes the result. A key that leaves one input out returns a
wrong answer that no test notices until a user does (the ``pairs`` table without its labels was
one).

Written here rather than taken from a library: ``functools.lru_cache`` cannot key on NumPy arrays
and offers no ``get or compute`` for a key built by hand, and ``cachetools`` is not among our
dependencies (Streamlit stopped requiring it) for thirty lines.

Examples
--------
>>> import numpy as np
>>> memo = Memo(maxsize=2)
>>> calls = []
>>> def norm(x):
...     calls.append(1)
...     return float(np.linalg.norm(x))
>>> x = np.array([3.0, 4.0])
>>> memo.get_or_compute(digest("norm", x), lambda: norm(x))
5.0
>>> memo.get_or_compute(digest("norm", x), lambda: norm(x)), len(calls)
(5.0, 1)
>>> digest("norm", x) == digest("norm", x * 2)
False
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import numpy as np

__all__ = ["Memo", "digest"]

T = TypeVar("T")


def digest(*parts: Any) -> str:
    """A short hex key from every part: strings, numbers, ``None``, bytes, arrays, and lists,
    tuples or dicts of those. Any other type raises :class:`TypeError` rather than being keyed by
    its ``repr`` (which for most objects is their address, a key that silently never hits).

    Examples
    --------
    >>> digest("pairs", ("a", "b"), None) == digest("pairs", ("a", "b"), None)
    True
    >>> digest("pairs", ("a", "b"), None) == digest("pairs", ("a", "b"), ("x", "y"))
    False
    """
    hasher = hashlib.blake2b(digest_size=16)
    for part in parts:
        _feed(hasher, part)
    return hasher.hexdigest()


def _feed(hasher: Any, part: Any) -> None:
    # Each value is tagged with its type and length so that ("ab", "c") and ("a", "bc") differ.
    if isinstance(part, np.ndarray):
        array = np.ascontiguousarray(part)
        hasher.update(f"A{array.dtype.str}{array.shape}".encode())
        hasher.update(array.tobytes())
    elif isinstance(part, bytes | bytearray | memoryview):
        data = bytes(part)
        hasher.update(b"B%d:" % len(data) + data)
    elif isinstance(part, str):
        data = part.encode("utf-8", "surrogatepass")
        hasher.update(b"S%d:" % len(data) + data)
    elif part is None or isinstance(part, bool | int | float | np.generic):
        hasher.update(f"N{type(part).__name__}:{part!r};".encode())
    elif isinstance(part, list | tuple):
        hasher.update(b"L%d:" % len(part))
        for item in part:
            _feed(hasher, item)
    elif isinstance(part, dict):
        hasher.update(b"D%d:" % len(part))
        for key in sorted(part, key=repr):
            _feed(hasher, key)
            _feed(hasher, part[key])
    else:
        raise TypeError(f"digest() cannot key on a {type(part).__name__}; pass the values it depends on")


class Memo(Generic[T]):
    """At most ``maxsize`` results, least recently used out first, safe across threads.

    Two threads asking for the same missing key may both compute it (the second result wins);
    a memo is for work that is pure and repeatable, never for work that must run once.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> T | None:
        """The remembered value for ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: T) -> T:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The remembered value for ``key``, else ``compute()`` remembered (computed unlocked)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return self.put(key, compute())

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
