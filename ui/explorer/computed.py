"""The explorer's cached maths for one data set: its digest, pairs, heatmap order and blocks,
the neighbours table of the selection, and the typed query's vector.

The caches are in :mod:`ui.common.cached`, keyed by a *digest* of the vectors, with the arrays
passed as ``_underscore`` arguments so Streamlit never hashes them (a 10k x 1024 array would cost
~40 ms per call). What is remembered per session (digests, the last neighbours table, query
vectors) is in session state under :mod:`ui.explorer.keys`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import streamlit as st

from ui.common import cached
from ui.common.cached import digest_of
from ui.common.embedding import embed_texts
from ui.explorer.keys import DIGESTS, NEIGHBOURS_TABLE, QUERY_VECTORS

_MAX_MEMO = 8


def _remember(store_key: str, key: Any, value: Any) -> Any:
    memo: dict = st.session_state.setdefault(store_key, {})
    memo.pop(key, None)
    memo[key] = value
    while len(memo) > _MAX_MEMO:
        memo.pop(next(iter(memo)))
    return value


def digest_for(dataset: str, vectors: np.ndarray) -> str:
    """:func:`ui.common.cached.digest_of` ``vectors``, computed once per dataset and session."""
    memo: dict = st.session_state.get(DIGESTS, {})
    if dataset in memo:
        return memo[dataset]
    return _remember(DIGESTS, dataset, digest_of(vectors))


def block_means(vectors: np.ndarray, digest: str, groups: Sequence, groups_key: tuple, *, clustered: bool):
    """:func:`embedcore.analysis.groups.block_means`, cached per vectors, grouping and order."""
    return cached.block_means((digest, groups_key), bool(clustered), vectors, list(groups))


def heatmap_order(
    vectors: np.ndarray, digest: str, rows: Sequence[int] | None = None, *, clustered: bool = True
) -> np.ndarray:
    """:func:`embedcore.analysis.explore.heatmap_rows`, cached: row indices in display order."""
    return cached.heatmap_rows(
        digest, None if rows is None else tuple(int(r) for r in rows), clustered, vectors
    )


def pairs(
    vectors: np.ndarray,
    digest: str,
    dataset: str,
    texts: Sequence[str],
    labels: Sequence[str] | None,
    *,
    n: int,
    largest: bool,
):
    """:func:`embedcore.analysis.explore.pairs_frame`, cached per dataset (texts), labels and vectors."""
    # A list as the tables hold it (digested once, by identity, when long); anything else as a list.
    labels_digest = (
        "none" if labels is None else digest_of(labels if isinstance(labels, list) else list(labels))
    )
    return cached.pairs(dataset, digest, labels_digest, int(n), bool(largest), vectors, texts, labels)


def neighbours_table(vectors: np.ndarray, rows: Sequence[int], texts, labels, *, k: int, digest: str):
    """:func:`embedcore.analysis.explore.neighbours_frame`, remembered for the selection on screen.

    Every rerun lists the selected texts with their neighbours again (a search typed, a colour
    changed); at 100,000 texts that is ~0.5-1 s of CPU for 200 selected rows. The last table is
    kept for the same vectors and texts (the same objects: results are never changed in place),
    rows and ``k``.
    """
    from embedcore.analysis.explore import neighbours_frame

    key = (tuple(int(r) for r in rows), int(k))
    last = st.session_state.get(NEIGHBOURS_TABLE)
    if last is not None and last[0] is vectors and last[1] is texts and last[2] is labels and last[3] == key:
        return last[4]
    unit = cached.unit_vectors(vectors, digest=digest)
    frame = neighbours_frame(unit, rows, texts, labels, k=int(k), normalized=True)
    st.session_state[NEIGHBOURS_TABLE] = (vectors, texts, labels, key, frame)
    return frame


def query_vector(model: str, text: str) -> np.ndarray:
    """The embedding of one query with the sidebar's provider, shape (d,), float32; remembered per
    endpoint, model and text (in a store of its own: a few queries must not push out the corpus
    results the pages keep).

    Raises
    ------
    embedcore.errors.EmbedcoreError
        Whatever the provider raises (wrap in ``friendly_errors``).
    """
    return embed_texts([text], model=model, store=QUERY_VECTORS).vectors[0]
