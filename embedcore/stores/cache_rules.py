"""What both embedding caches share: the key of a text, the checks on stored vectors, claims, the size cap.

:class:`~embedcore.stores.cache.EmbeddingCache` (SQLite) and
:class:`~embedcore.stores.pg_cache.PostgresEmbeddingCache` keep vectors by
``(endpoint_id, model, sha256(text))`` and differ only in their SQL; everything here is
the same for both, so a third store (see ARCHITECTURE.md, "How to add a store") takes it too.

Examples
--------
>>> len(text_key("hello")), text_key("hello") == text_key("hello")
(32, True)
>>> parse_max_mb("500"), parse_max_mb(""), parse_max_mb(0)
(500.0, None, None)
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embedcore.errors import ConfigurationError, InputError

__all__ = [
    "CACHE_FILENAME",
    "CACHE_MAX_MB_ENV",
    "CLAIM_TTL",
    "ROW_OVERHEAD",
    "TOUCH_EVERY",
    "CappedCache",
    "ClaimResult",
    "classify_claims",
    "default_cache_path",
    "distinct_keys",
    "filter_clause",
    "max_bytes",
    "parse_max_mb",
    "rows_to_store",
    "stats_of",
    "text_key",
]

CACHE_FILENAME = "embeddings.sqlite3"
CACHE_MAX_MB_ENV = "EMBEDCORE_CACHE_MAX_MB"

#: Seconds a claim lasts without being renewed: how long a killed process can hold up others.
CLAIM_TTL = 30.0
#: Bytes a cached row costs beyond its vector (key, names, times, index entries), for the cap.
ROW_OVERHEAD = 100
#: A hit refreshes its row's ``last_used`` only when it is older than this many seconds.
TOUCH_EVERY = 60.0


def parse_max_mb(value: Any, setting: str = CACHE_MAX_MB_ENV) -> float | None:
    """The cache cap in megabytes from a setting's value; None for no cap (unset, blank or 0).

    Raises
    ------
    ConfigurationError
        Not a number, negative, or not finite; the message names ``setting``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ConfigurationError(f"{setting} must be a number of megabytes (e.g. 500), not {value}.")
    try:
        mb = float(value)
    except (TypeError, ValueError):
        shown = str(value)[:40]
        raise ConfigurationError(
            f"{setting} must be a number of megabytes (e.g. 500), got {shown!r}."
        ) from None
    if not math.isfinite(mb) or mb < 0:
        raise ConfigurationError(
            f"{setting} must be 0 (no cap) or a positive number of megabytes, got {value}."
        )
    return mb or None


def max_bytes(max_mb: float | None) -> int | None:
    """``max_mb`` given, else ``$EMBEDCORE_CACHE_MAX_MB``; 0 or unset means no cap."""
    mb = parse_max_mb(os.environ.get(CACHE_MAX_MB_ENV)) if max_mb is None else parse_max_mb(max_mb, "max_mb")
    return None if mb is None else int(mb * 1_000_000)


@dataclass
class ClaimResult:
    """What :meth:`EmbeddingCache.claim` found for each text asked about, in the order asked.

    Attributes
    ----------
    claimed : list of str
        Now claimed by the caller: it sends them, stores their vectors, then releases them.
    stored : list of str
        Already in the cache.
    busy : list of str
        Claimed by another caller whose claim has not expired: wait for their vectors.
    free : list of str
        None of those, and not claimed because ``limit`` was reached.
    """

    claimed: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)
    free: list[str] = field(default_factory=list)


def classify_claims(
    by_key: dict[bytes, str], stored: set[bytes], held: dict[bytes, str], owner: str, limit: int
) -> tuple[ClaimResult, list[bytes]]:
    """Sort texts into stored / busy / claimed (up to ``limit``) / free; also the keys to claim."""
    result, keys = ClaimResult(), []
    for key, text in by_key.items():
        if key in stored:
            result.stored.append(text)
        elif held.get(key, owner) != owner:
            result.busy.append(text)
        elif len(keys) < limit:
            keys.append(key)
            result.claimed.append(text)
        else:
            result.free.append(text)
    return result, keys


def distinct_keys(texts: Iterable[str]) -> dict[bytes, str]:
    by_key: dict[bytes, str] = {}
    for text in texts:
        by_key.setdefault(text_key(text), text)
    return by_key


class CappedCache:
    """Bookkeeping both stores share for the size cap: when to look at the size again."""

    max_bytes: int | None
    #: A hit refreshes ``last_used`` only when it is older than this (seconds); 0: every hit.
    touch_every: float = TOUCH_EVERY

    def _init_cap(self, max_mb: float | None, claim_ttl: float) -> None:
        self.max_bytes = max_bytes(max_mb)
        if not claim_ttl > 0:
            raise ConfigurationError(f"claim_ttl must be positive, got {claim_ttl}")
        self.claim_ttl = float(claim_ttl)
        self._cap_lock = threading.Lock()
        # Summing the sizes reads an index of every row: done after 1 % of the cap was written
        # here, so several processes together overshoot by about 1 % each. The first write checks.
        self._written = self.max_bytes or 0

    def _after_write(self, nbytes: int) -> None:
        if not self.max_bytes:
            return
        with self._cap_lock:
            self._written += nbytes
            due = self._written >= max(1, self.max_bytes // 100)
            if due:
                self._written = 0
        if due:
            self.evict()

    @property
    def max_mb(self) -> float | None:
        """The cap in megabytes, None for none."""
        return None if self.max_bytes is None else self.max_bytes / 1_000_000

    def evict(self) -> int:  # pragma: no cover - both stores define it
        raise NotImplementedError

    def usage(self) -> dict[str, int | None]:
        """``{"bytes": stored size of the vectors (what the cap counts), "max_bytes": cap or None}``."""
        return {"bytes": self.used_bytes(), "max_bytes": self.max_bytes}

    def used_bytes(self) -> int:  # pragma: no cover - both stores define it
        raise NotImplementedError


def default_cache_path() -> Path:
    """Where the cache lives: ``$EMBEDCORE_CACHE_DIR`` or the user cache dir, plus ``embeddings.sqlite3``."""
    directory = os.environ.get("EMBEDCORE_CACHE_DIR")
    if not directory:
        import platformdirs  # only needed for the default location

        directory = platformdirs.user_cache_dir("embedcore", appauthor=False)
    return Path(directory).expanduser() / CACHE_FILENAME


def text_key(text: str) -> bytes:
    """SHA-256 digest (32 bytes) of a text, the cache key; lone surrogates are kept, not refused."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def rows_to_store(
    texts: Sequence[str], vectors: np.ndarray | Sequence[np.ndarray]
) -> list[tuple[bytes, np.ndarray]]:
    """``(text_key, float32 vector)`` per text, checked; the last vector wins for a repeated text."""
    if len(texts) != len(vectors):
        raise InputError(f"put_many got {len(texts)} texts but {len(vectors)} vectors.")
    by_key: dict[bytes, np.ndarray] = {}
    for text, vector in zip(texts, vectors, strict=True):
        vec = np.ascontiguousarray(vector, dtype="<f4").reshape(-1)
        if not vec.shape[0]:
            raise InputError("put_many got a vector with no dimensions.")
        if not np.isfinite(vec).all():
            # A NaN vector would answer every later lookup of this text with garbage.
            raise InputError("put_many got a vector with NaN or infinite values; it was not stored.")
        by_key[text_key(text)] = vec
    return list(by_key.items())


def filter_clause(endpoint_id: str | None, model: str | None, mark: str) -> tuple[str, list[str]]:
    """``(" WHERE endpoint = ? AND model = ?", params)`` for the filters given (``mark``: the
    driver's placeholder); ``("", [])`` for none.

    Examples
    --------
    >>> filter_clause("local:", None, "%s")
    (' WHERE endpoint = %s', ['local:'])
    >>> filter_clause(None, None, "?")
    ('', [])
    """
    where, params = [], []
    if endpoint_id is not None:
        where.append(f"endpoint = {mark}")
        params.append(endpoint_id)
    if model is not None:
        where.append(f"model = {mark}")
        params.append(model)
    return (" WHERE " + " AND ".join(where) if where else ""), params


def stats_of(rows: Iterable[Sequence[Any]], *, size: int, max_bytes: int | None, path: str) -> dict[str, Any]:
    """What a cache holds, from its ``(endpoint, model, entries, dimensions)`` rows: ``entries``,
    ``bytes`` (``size``), ``max_bytes``, ``path`` and ``models`` (one dict per row).

    Examples
    --------
    >>> stats_of([("local:", "m", 2, 384)], size=10, max_bytes=None, path="x")["entries"]
    2
    """
    rows = list(rows)
    return {
        "entries": sum(int(r[2]) for r in rows),
        "bytes": int(size),
        "max_bytes": max_bytes,
        "path": path,
        "models": [
            {"endpoint_id": e, "model": m, "entries": int(n), "dimensions": int(d)} for e, m, n, d in rows
        ],
    }
