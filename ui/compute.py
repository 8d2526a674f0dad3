"""Embedding and the expensive maths, with Streamlit's progress bar and caches around them.

Results are kept per session under ``(endpoint_id, model, texts digest)``: switching
pages shows the same vectors again without a new call, and a failed call never
removes what was already on screen.

Arrays go into the cached functions as ``_vectors`` (left out of Streamlit's hash)
beside a ``digest`` of their bytes: Streamlit would otherwise hash the whole array
on every rerun.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

import numpy as np
import streamlit as st

from embedcore.types import EmbeddingResult
from ui import state
from ui.connection import current_connection, current_model, get_provider
from ui.format import plural
from ui.static_build import prepare

#: Results kept per session (each holds an (n, d) float32 array).
MAX_RESULTS = 6


#: Lists at least this long have their digest remembered (100,000 texts: ~0.15 s a digest).
DIGEST_MEMO_FROM = 20_000
#: ``{id(list): (the list, digest)}`` of recent long lists (a rerun asks again for the same ones).
_digests: dict[int, tuple[Sequence[str], str]] = {}


def texts_digest(texts: Sequence[str]) -> str:
    """A digest of a list of texts (order matters); cheap enough to compute on every rerun.

    A long *list* is digested once and remembered by identity: the tables the app keeps in
    session state or caches are never changed in place, so the same list has the same texts.
    """
    memo = isinstance(texts, list) and len(texts) >= DIGEST_MEMO_FROM
    if memo:
        hit = _digests.get(id(texts))
        if hit is not None and hit[0] is texts:
            return hit[1]
    h = hashlib.blake2b(digest_size=16)
    for text in texts:
        encoded = text.encode("utf-8")
        # The length prefix keeps ["ab", "c"] and ["a", "bc"] apart.
        h.update(len(encoded).to_bytes(8, "little"))
        h.update(encoded)
    digest = h.hexdigest()
    if memo:
        _digests[id(texts)] = (texts, digest)  # holding the list keeps its id from being reused
        while len(_digests) > 8:
            _digests.pop(next(iter(_digests)))
    return digest


def vectors_digest(vectors: np.ndarray) -> str:
    """A digest of an array's shape, dtype and bytes (≈ 40 ms for 10k × 1024 float32)."""
    array = np.ascontiguousarray(vectors)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{array.shape}{array.dtype.str}".encode())
    h.update(memoryview(array).cast("B"))
    return h.hexdigest()


def result_key(texts: Sequence[str], *, model: str | None = None) -> tuple[str, str, str]:
    """``(endpoint_id, model, texts digest)`` — what identifies a result in this session.

    The endpoint id comes from the provider (a normalised URL or ``local:``), never a key.
    """
    provider = get_provider()
    return (provider.endpoint_id, model or current_model(), texts_digest(texts))


def stored_result(texts: Sequence[str], *, model: str | None = None) -> EmbeddingResult | None:
    """The result already computed in this session for these texts and model, or None.

    Raises what :func:`ui.connection.get_provider` raises (wrap in ``friendly_errors``).
    """
    return st.session_state.get(state.RESULTS, {}).get(result_key(texts, model=model))


def last_result() -> tuple[tuple[str, str, str], EmbeddingResult] | None:
    """The most recent successful ``(key, result)`` of this session, whatever the texts."""
    key = st.session_state.get(state.LAST_RESULT_KEY)
    result = st.session_state.get(state.RESULTS, {}).get(key)
    return (key, result) if result is not None else None


def embed_texts(
    texts: Sequence[str],
    *,
    model: str | None = None,
    progress_label: str = "Embedding",
    reuse: bool = True,
) -> EmbeddingResult:
    """Embed ``texts`` with the current provider, showing a progress bar for multi-batch runs.

    Parameters
    ----------
    texts : sequence of str
    model : str, optional
        Defaults to the model chosen in the sidebar.
    progress_label : str
        Text beside the progress bar.
    reuse : bool
        Return this session's stored result for the same endpoint, model and texts
        without calling the provider (the persistent cache would answer anyway; this
        also skips the progress bar and keeps the original timings).

    Returns
    -------
    EmbeddingResult
        ``vectors`` of shape (len(texts), d), float32. Also stored in session state.

    Raises
    ------
    embedcore.errors.EmbedcoreError
        Anything the provider raises; stored results are left as they were.
    """
    model = model or current_model()
    key = result_key(texts, model=model)
    results: dict = st.session_state.setdefault(state.RESULTS, {})
    if reuse and key in results:
        st.session_state[state.LAST_RESULT_KEY] = key
        return results[key]

    provider = get_provider()
    # The sidebar may name the static model before it is built: build it with stages and a
    # Stop button rather than inside embed(), where it could not be watched or stopped.
    prepare(provider, model)
    bar = st.empty()
    # The first report comes right after the cache lookup: what it counts as done was found there.
    started: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        if not started:
            started.update(cached=done, at=time.perf_counter())
        # Only worth drawing when there is more than one step to show.
        if total and done < total:
            cached = int(started["cached"])
            found = f" ({cached:,} found in the cache)" if cached else ""
            if done == cached:
                # "0 / n" alone looks stuck while a local model loads (seconds after a server start).
                text = (
                    f"{progress_label} {plural(total, 'text')}{found} — waiting for the first batch "
                    "(a local model loads first)"
                )
            else:
                rate = (done - cached) / max(time.perf_counter() - started["at"], 1e-3)
                text = (
                    f"{progress_label}: {done:,} / {plural(total, 'text')}{found} — "
                    f"about {(total - done) / rate:,.0f} s left"
                )
            bar.progress(done / total, text=text)

    try:
        result = provider.embed(list(texts), model, progress=progress)
    finally:
        bar.empty()
    results.pop(key, None)
    results[key] = result
    while len(results) > MAX_RESULTS:
        results.pop(next(iter(results)))
    st.session_state[state.LAST_RESULT_KEY] = key
    return result


def file_result(table) -> tuple[EmbeddingResult, str]:
    """``(result, dataset key)`` for a table that came with its vectors (:func:`embedcore.io.read_vectors`).

    Nothing is embedded. Remembered for the table on screen, so a rerun does not digest
    100,000 texts again (~150 ms).
    """
    memo = st.session_state.get(_FILE_RESULT)
    if memo is not None and memo[0] is table:
        return memo[1], memo[2]
    model = table.model or f"vectors from {table.source or 'a file'}"
    result = EmbeddingResult(vectors=table.vectors, model=model)  # nothing embedded, nothing cached
    dataset = "|".join(("file:" + (table.source or ""), model, texts_digest(table.texts)))
    st.session_state[_FILE_RESULT] = (table, result, dataset)
    return result, dataset


#: Session key: ``(table, result, dataset)`` of the file of vectors on screen.
_FILE_RESULT = "file_result"


def current_endpoint_label() -> str:
    """A short, key-free description of where embeddings come from (for captions and exports)."""
    conn = current_connection()
    return "bundled offline model" if conn.kind == "local" else (conn.base_url or "")


# --- cached maths ------------------------------------------------------------------------


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@st.cache_data(show_spinner="Projecting…", max_entries=16)
def _projection(digest: str, method: str, n_components: int, random_state: int, params: tuple, _vectors):
    from embedcore.projection import project

    return project(_vectors, method, n_components, random_state=random_state, **dict(params))


def cached_projection(
    vectors: np.ndarray,
    method: str = "umap",
    n_components: int = 2,
    *,
    random_state: int = 42,
    digest: str | None = None,
    **params,
) -> np.ndarray:
    """:func:`embedcore.projection.project`, cached across reruns and sessions.

    Parameters
    ----------
    vectors : ndarray of shape (n, d)
    method : {"umap", "pca", "tsne"}
    n_components : int
    random_state : int
    digest : str, optional
        :func:`vectors_digest` of ``vectors`` if the caller already has it.
    **params
        Passed to ``project`` (``n_neighbors``, ``min_dist``, ``perplexity``, ...); must be hashable.

    Returns
    -------
    ndarray of shape (n, n_components), float32
    """
    digest = digest or vectors_digest(vectors)
    return _projection(digest, method, n_components, random_state, tuple(sorted(params.items())), vectors)


# cache_resource, not cache_data: cache_data pickles the value on every hit, and a 10k × 10k
# float32 matrix is 381 MiB. The arrays are made read-only, so sharing them is safe.
@st.cache_resource(show_spinner="Computing similarities…", max_entries=2, ttl=1800)
def _cosine(digest: str, _vectors):
    from embedcore.similarity import cosine_matrix

    return _readonly(cosine_matrix(_vectors))


def cached_cosine(vectors: np.ndarray, *, digest: str | None = None) -> np.ndarray:
    """:func:`embedcore.similarity.cosine_matrix` of ``vectors`` with itself, cached (read-only).

    Returns
    -------
    ndarray of shape (n, n), float32, not writeable (copy it before changing it).
    """
    return _cosine(digest or vectors_digest(vectors), vectors)


@st.cache_data(show_spinner=False, max_entries=16)
def _neighbors(digest: str, k: int, _vectors):
    from embedcore.similarity import top_k

    return top_k(_vectors, _vectors, k, exclude_self=True)


def cached_neighbors(
    vectors: np.ndarray, k: int, *, digest: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest other rows by cosine: ``(indices int64 (n, k), scores float32 (n, k))``."""
    return _neighbors(digest or vectors_digest(vectors), int(k), vectors)
