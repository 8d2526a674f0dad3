"""The embedding cache in the team's PostgreSQL database (pgvector), shared by every replica.

The same calls and behaviour as :class:`embedcore.stores.cache.EmbeddingCache`; what the two
share (keys, checks, claims, the cap's bookkeeping) is :mod:`embedcore.stores.cache_rules`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from embedcore.stores.cache_rules import (
    CLAIM_TTL,
    ROW_OVERHEAD,
    CappedCache,
    ClaimResult,
    distinct_keys,
    filter_clause,
    rows_to_store,
    stats_of,
)
from embedcore.stores.database import Database, DatabaseBacked

__all__ = ["PostgresEmbeddingCache"]

#: Keys per ``= ANY(%s)`` lookup: one round trip each, small enough for the planner to use the key.
_PG_CHUNK = 5000


#: Server time in seconds, for claims and ``last_used``: replicas' clocks may disagree, the server's is one.
_PG_NOW = "EXTRACT(EPOCH FROM clock_timestamp())"
#: Each key's state (stored / busy / claimed / free), claiming the first ``limit`` free ones in
#: the order given. One statement, one snapshot: a text stored and released is seen as stored.
_PG_CLAIM = f"""
WITH k AS (
    SELECT u.sha, u.ord FROM unnest(%(keys)s::bytea[]) WITH ORDINALITY AS u(sha, ord)
), s AS (
    SELECT k.sha, k.ord,
           CASE WHEN e.text_sha IS NOT NULL THEN 'stored'
                WHEN c.owner IS NOT NULL AND c.owner <> %(owner)s THEN 'busy'
                ELSE 'free' END AS state
    FROM k
    LEFT JOIN embedcore_embeddings e
           ON e.endpoint = %(endpoint)s AND e.model = %(model)s AND e.text_sha = k.sha
    LEFT JOIN embedcore_claims c
           ON c.endpoint = %(endpoint)s AND c.model = %(model)s AND c.text_sha = k.sha
          AND c.expires > {_PG_NOW}
), r AS (
    SELECT sha, CASE WHEN state = 'free' AND row_number() OVER (PARTITION BY state ORDER BY ord) <= %(limit)s
                     THEN 'claimed' ELSE state END AS state
    FROM s
), taken AS (
    INSERT INTO embedcore_claims (endpoint, model, text_sha, owner, expires)
    SELECT %(endpoint)s, %(model)s, sha, %(owner)s, {_PG_NOW} + %(ttl)s FROM r WHERE state = 'claimed' ORDER BY sha
    ON CONFLICT (endpoint, model, text_sha) DO UPDATE SET owner = EXCLUDED.owner, expires = EXCLUDED.expires
)
SELECT sha, state FROM r
"""
#: Advisory lock keys (63-bit, arbitrary) serialising claims per (endpoint, model), and eviction.
_PG_CLAIM_LOCK = "hashtextextended(%s, 6582856396733)"
_PG_EVICT_LOCK = 0x656D6264657669  # "embdevi"


class PostgresEmbeddingCache(CappedCache, DatabaseBacked):
    """Vectors by endpoint, model and text, in a PostgreSQL table shared by every process using it.

    Same calls and behaviour as :class:`EmbeddingCache`. Each ``put_many`` is one transaction, so
    a connection lost mid-run loses no batch that was already stored. Rows are written in key
    order, and marking hits as used or evicting skips rows another transaction holds
    (``SKIP LOCKED``), so processes writing overlapping batches at once cannot deadlock.

    Parameters
    ----------
    database : Database or str
        A :class:`embedcore.stores.database.Database`, or its URL (then this cache opens and owns one).
    max_mb, claim_ttl
        As for :class:`EmbeddingCache`. Every process sharing the database should be given the
        same cap: each evicts down to its own.
    """

    def __init__(
        self, database: Database | str, *, max_mb: float | None = None, claim_ttl: float = CLAIM_TTL
    ) -> None:
        self._init_cap(max_mb, claim_ttl)
        super().__init__(database)

    def get_many(self, endpoint_id: str, model: str, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """Cached vectors for those ``texts`` that have one (see :meth:`EmbeddingCache.get_many`)."""
        by_key = distinct_keys(texts)
        if not by_key:
            return {}
        keys = list(by_key)
        found: dict[str, np.ndarray] = {}
        stale: list[bytes] = []
        with self.database.connection() as conn, conn.cursor(binary=True) as cur:
            for start in range(0, len(keys), _PG_CHUNK):
                cur.execute(
                    f"SELECT text_sha, vector, last_used < {_PG_NOW} - %s FROM embedcore_embeddings "
                    "WHERE endpoint = %s AND model = %s AND text_sha = ANY(%s)",
                    (self.touch_every, endpoint_id, model, keys[start : start + _PG_CHUNK]),
                )
                for sha, vector, is_stale in cur:
                    found[by_key[bytes(sha)]] = vector.to_numpy()
                    if is_stale:
                        stale.append(bytes(sha))
            if stale:
                # Rows another transaction holds (written, touched or evicted right now) are
                # skipped rather than waited for: a lookup never blocks on, or deadlocks with, them.
                cur.execute(
                    f"UPDATE embedcore_embeddings e SET last_used = {_PG_NOW} FROM ("
                    "SELECT endpoint, model, text_sha FROM embedcore_embeddings "
                    "WHERE endpoint = %s AND model = %s AND text_sha = ANY(%s) "
                    "ORDER BY text_sha FOR UPDATE SKIP LOCKED) s "
                    "WHERE e.endpoint = s.endpoint AND e.model = s.model AND e.text_sha = s.text_sha",
                    (endpoint_id, model, sorted(stale)),
                )
        return found

    def put_many(
        self,
        endpoint_id: str,
        model: str,
        texts: Sequence[str],
        vectors: np.ndarray | Sequence[np.ndarray],
        *,
        release: str | None = None,
    ) -> None:
        """Store (or replace) one vector per text, in one transaction (see :meth:`EmbeddingCache.put_many`)."""
        checked = sorted(rows_to_store(texts, vectors), key=lambda row: row[0])
        if not checked:
            return
        now = time.time()
        with self.database.connection() as conn, conn.pipeline(), conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO embedcore_embeddings (endpoint, model, text_sha, dims, vector, created, last_used) "
                f"VALUES (%s, %s, %s, %s, %s, %s, {_PG_NOW}) ON CONFLICT (endpoint, model, text_sha) DO UPDATE "
                "SET dims = EXCLUDED.dims, vector = EXCLUDED.vector, created = EXCLUDED.created, "
                "last_used = EXCLUDED.last_used",
                [(endpoint_id, model, key, int(vec.shape[0]), vec, now) for key, vec in checked],
            )
            if release is not None:
                cur.execute(
                    "DELETE FROM embedcore_claims WHERE owner = %s AND endpoint = %s AND model = %s "
                    "AND text_sha = ANY(%s)",
                    (release, endpoint_id, model, [key for key, _ in checked]),
                )
        self._after_write(sum(4 * int(vec.shape[0]) + ROW_OVERHEAD for _, vec in checked))

    # --- claims (see the module's docstring and EmbeddingCache.claim) ---------

    def claim(
        self, endpoint_id: str, model: str, texts: Iterable[str], *, owner: str, limit: int
    ) -> ClaimResult:
        """Claim for ``owner`` up to ``limit`` of ``texts`` neither cached nor claimed (see
        :meth:`EmbeddingCache.claim`).

        One transaction under an advisory lock per endpoint and model, so callers take turns and
        each gets whole batches rather than the scraps of a race; the cache and the claims are
        read in one statement (one snapshot). Times are the server's.
        """
        by_key = distinct_keys(texts)
        params = {
            "keys": list(by_key),
            "endpoint": endpoint_id,
            "model": model,
            "owner": owner,
            "limit": int(limit),
            "ttl": self.claim_ttl,
        }
        # Lock, look, decide and claim in one round trip (pipeline mode), the decision made in
        # SQL: a claim sits between every batch of every replica, and round trips add up.
        with self.database.connection() as conn:
            with conn.pipeline(), conn.transaction():
                conn.execute(f"SELECT pg_advisory_xact_lock({_PG_CLAIM_LOCK})", (f"{endpoint_id}\n{model}",))
                cur = conn.execute(_PG_CLAIM, params)
            states = {bytes(sha): state for sha, state in cur.fetchall()}
        result = ClaimResult()
        for key, text in by_key.items():
            getattr(result, states[key]).append(text)
        return result

    def renew(self, owner: str) -> int:
        """Push the expiry of every claim of ``owner`` ``claim_ttl`` seconds ahead; returns how many."""
        with self.database.connection() as conn:
            return int(
                conn.execute(
                    f"UPDATE embedcore_claims SET expires = {_PG_NOW} + %s WHERE owner = %s",
                    (self.claim_ttl, owner),
                ).rowcount
            )

    def release(self, endpoint_id: str, model: str, owner: str, texts: Iterable[str] | None = None) -> int:
        """Drop ``owner``'s claims on ``texts`` (all of its claims when None); returns how many."""
        with self.database.connection() as conn:
            if texts is None:
                return int(conn.execute("DELETE FROM embedcore_claims WHERE owner = %s", (owner,)).rowcount)
            return int(
                conn.execute(
                    "DELETE FROM embedcore_claims WHERE owner = %s AND endpoint = %s AND model = %s "
                    "AND text_sha = ANY(%s)",
                    (owner, endpoint_id, model, list(distinct_keys(texts))),
                ).rowcount
            )

    # --- the cap --------------------------------------------------------------

    def used_bytes(self) -> int:
        """The vectors' stored size as the cap counts it (see :meth:`EmbeddingCache.used_bytes`)."""
        with self.database.connection() as conn:
            (size,) = conn.execute(
                f"SELECT COALESCE(SUM(4 * dims::bigint + {ROW_OVERHEAD}), 0) FROM embedcore_embeddings"
            ).fetchone()
        return int(size)

    def evict(self) -> int:
        """Delete the least recently used vectors until the cache fits its cap; returns how many.

        Under an advisory lock, so replicas evicting at once take turns (the second finds the work
        done); rows other transactions hold are skipped, not waited for. Deleted rows' space is
        reused by later writes once autovacuum has been by.
        """
        if not self.max_bytes:
            return 0
        removed = 0
        with self.database.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_EVICT_LOCK,))
            (size,) = conn.execute(
                f"SELECT COALESCE(SUM(4 * dims::bigint + {ROW_OVERHEAD}), 0) FROM embedcore_embeddings"
            ).fetchone()
            excess = int(size) - self.max_bytes
            while excess > 0:
                rows = conn.execute(
                    f"SELECT endpoint, model, text_sha, 4 * dims + {ROW_OVERHEAD} FROM embedcore_embeddings "
                    "ORDER BY last_used, text_sha LIMIT 1000 FOR UPDATE SKIP LOCKED"
                ).fetchall()
                doomed = []
                for endpoint, model, sha, nbytes in rows:
                    if excess <= 0:
                        break
                    doomed.append((endpoint, model, sha))
                    excess -= nbytes
                if not doomed:
                    break
                with conn.cursor() as cur:
                    cur.executemany(
                        "DELETE FROM embedcore_embeddings WHERE endpoint = %s AND model = %s AND text_sha = %s",
                        doomed,
                    )
                removed += len(doomed)
        return removed

    def clear(self, endpoint_id: str | None = None, model: str | None = None) -> int:
        """Delete cached vectors: all, or those of one endpoint and/or model; returns how many."""
        where, params = filter_clause(endpoint_id, model, "%s")
        sql = "DELETE FROM embedcore_embeddings" + where
        with self.database.transaction() as conn:
            return int(conn.execute(sql, params).rowcount)

    def count(self, endpoint_id: str, model: str) -> int:
        """Number of vectors cached for one endpoint and model."""
        with self.database.connection() as conn:
            (n,) = conn.execute(
                "SELECT COUNT(*) FROM embedcore_embeddings WHERE endpoint = %s AND model = %s",
                (endpoint_id, model),
            ).fetchone()
        return int(n)

    def stats(self) -> dict[str, Any]:
        """What the cache holds, as :meth:`EmbeddingCache.stats`; ``path`` is the redacted URL and
        ``bytes`` the table's size with its indexes."""
        with self.database.connection() as conn:
            rows = conn.execute(
                "SELECT endpoint, model, COUNT(*), MAX(dims) FROM embedcore_embeddings "
                'GROUP BY endpoint, model ORDER BY endpoint COLLATE "C", model COLLATE "C"'
            ).fetchall()
            (size,) = conn.execute("SELECT pg_total_relation_size('embedcore_embeddings')").fetchone()
        return stats_of(rows, size=size, max_bytes=self.max_bytes, path=self.path)
