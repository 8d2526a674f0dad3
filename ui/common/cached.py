"""Every Streamlit cache of the dashboard, in one module.

Two kinds, as Streamlit's guidance has them:

- ``st.cache_resource`` — objects shared by every session: the team database, the embedding
  cache, providers, the collection store, the static-model build, the warm-up thread; and large
  read-only arrays (a 10k × 10k cosine matrix is 381 MiB, which ``cache_data`` would pickle on
  every hit). Shared objects are thread-safe and never mutated; arrays are made read-only.
- ``st.cache_data`` — results: projections, model listings, parsed uploads, sample sets.

Keys: arrays, secrets and shared objects go in as ``_underscore`` arguments, which Streamlit
leaves out of its hash, beside a short key that names them — a :func:`digest_of` of an array (hashing
a 10k × 1024 array on every rerun would cost ~40 ms), a fingerprint of a token or database URL, a
storage key. Nothing here reads a widget.

The explorer's caches (clusters, pairs, heatmap rows, query placement, hover texts, figures) are
here too; :mod:`ui.explorer.widgets` gives them the page's arguments and names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from embedcore import io

if TYPE_CHECKING:
    import pandas as pd

    from embedcore.analysis.alignment import AlignmentReport
    from embedcore.analysis.explore import BlockMeans, QueryPlacement
    from embedcore.analysis.projection import ProjectionResult
    from embedcore.io.chunking import Chunk
    from embedcore.providers.prepare import BackgroundBuild
    from embedcore.stores.collections import CollectionStore, PostgresCollectionStore
    from embedcore.stores.database import Database
    from embedcore.types import ModelInfo, Provider
    from ui.common.storage import Storage

#: Seconds a model listing is reused before asking the endpoint again.
MODELS_TTL = 300


#: Lists of texts at least this long have their digest remembered (100,000 texts: ~0.15 s a digest).
DIGEST_MEMO_FROM = 20_000
#: ``{id(list): (the list, digest)}`` of recent long lists (a rerun asks again for the same ones).
_long_list_digests: dict[int, tuple[list, str]] = {}


def digest_of(value: bytes | np.ndarray | Sequence[str]) -> str:
    """A 128-bit BLAKE2b digest that names a value in cache and session keys.

    Parameters
    ----------
    value : bytes, ndarray or sequence of str
        File bytes as they are; an array by its shape, dtype and bytes (≈ 40 ms for
        10k × 1024 float32); texts in order (``["ab", "c"]`` and ``["a", "bc"]`` differ).

    Returns
    -------
    str
        32 hex characters; values of different kinds never share a digest.
    """
    # A long *list* of texts is digested once and remembered by identity: the tables the app keeps
    # in session state or caches are never changed in place, so the same list holds the same texts.
    memo = isinstance(value, list) and len(value) >= DIGEST_MEMO_FROM
    if memo:
        hit = _long_list_digests.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
    h = hashlib.blake2b(digest_size=16)
    if isinstance(value, (bytes, bytearray, memoryview)):
        h.update(b"bytes:")
        h.update(value)
    elif isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        h.update(f"array:{array.shape}{array.dtype.str}".encode())
        h.update(memoryview(array).cast("B"))
    else:
        h.update(b"texts:")
        for text in value:
            encoded = str(text).encode("utf-8")
            h.update(len(encoded).to_bytes(8, "little"))  # the length keeps ["ab", "c"] from ["a", "bc"]
            h.update(encoded)
        if memo:
            _long_list_digests[id(value)] = (value, h.hexdigest())  # holding the list keeps its id unique
            while len(_long_list_digests) > 8:
                _long_list_digests.pop(next(iter(_long_list_digests)))
    return h.hexdigest()


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


# --- shared objects -------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def warm_up() -> bool:
    """Load the bundled model and UMAP's compiled code in the background, once per process.

    ``make run`` has already started this when the server process started
    (``scripts/serve.py``); a plain ``streamlit run app.py`` (Community Cloud) starts it here,
    on the first visit. ``EMBEDCORE_WARM_UP=0`` turns it off (tests, tiny hosts).

    On an API-only install with an operator's token, the default sample is embedded first
    (:func:`ui.common.hosted.sample_warm_up`), so the first visitor's page has its map at once.
    """
    from embedcore import warmup

    if warmup.started():
        return True
    from ui.common.hosted import sample_warm_up

    return warmup.start(sample=sample_warm_up() if warmup.enabled() else None)


@st.cache_resource(show_spinner=False)
def work_queue():
    """The server's one :class:`embedcore.system.WorkQueue` for heavy work (ui.common.queueing says which).

    As many jobs at once as the server has usable cores, or ``EMBEDCORE_WORK_SLOTS``.
    """
    from embedcore.system import WorkQueue, work_slots

    return WorkQueue(work_slots())


@st.cache_resource(show_spinner="Connecting to the team database…", max_entries=4)
def database(fingerprint: str, setting: str, _url: str) -> Database:
    """The team database (one per URL and process); failures raise and are not cached."""
    from embedcore.stores.database import Database

    return Database(_url, setting=setting)


@st.cache_resource(show_spinner=False)
def database_failures() -> tuple[Any, dict]:
    """``(lock, {fingerprint: (when, error)})``: recent connection failures, shared by every session."""
    import threading

    return threading.Lock(), {}


@st.cache_resource(show_spinner=False, max_entries=8)
def embedding_cache(storage_key: str, max_mb: float | None, _storage: Storage):
    """The embedding cache every session shares: SQLite, the team's PostgreSQL, or a stand-in that
    raises the database's error on first use (so models can still be listed while it is down).

    ``storage_key`` names the store (cache dir, database fingerprint and whether it is up), so a
    changed ``EMBEDCORE_CACHE_DIR`` or a database back online gets a fresh object; ``max_mb`` is
    its size cap (None: none), so a changed cap does too.
    """
    if _storage.error is not None:
        from embedcore.stores.storage import UnavailableCache

        return UnavailableCache(_storage.error)
    if _storage.database is not None:
        from embedcore.stores.cache import PostgresEmbeddingCache

        return PostgresEmbeddingCache(_storage.database, max_mb=max_mb or 0)
    from embedcore.stores.cache import EmbeddingCache

    return EmbeddingCache(max_mb=max_mb or 0)


@st.cache_resource(show_spinner="Loading the bundled model…", max_entries=8)
def local_provider(storage_key: str, cache_max_mb: float | None, _storage: Storage) -> Provider:
    """The bundled models (:class:`embedcore.providers.local.LocalModel`) over the shared embedding cache."""
    from embedcore.providers.registry import make_provider

    return make_provider("local", cache=embedding_cache(storage_key, cache_max_mb, _storage))


@st.cache_resource(show_spinner=False, max_entries=32)
def api_provider(
    kind: str,
    base_url: str,
    key_fingerprint: str,
    storage_key: str,
    cache_max_mb: float | None,
    _api_key: str | None,
    _storage: Storage,
) -> Provider:
    """An :class:`embedcore.providers.client.EmbeddingClient`, one per endpoint, token and storage.

    Keyed on the token's fingerprint, never on the token. The client is shared by every session
    using the same endpoint and token, which is what the provider's per-contract rate limit
    wants; with a team database, its token bucket lives there and is shared by every replica as
    well. The token is given explicitly (``""`` for none): the caller has already applied
    embedcore's rule of where a token may go (:func:`embedcore.providers.endpoints.token_for`).
    """
    from embedcore.providers.registry import make_provider

    return make_provider(
        kind,
        base_url=base_url,
        api_key=_api_key or "",
        cache=embedding_cache(storage_key, cache_max_mb, _storage),
        rate_limit_database=_storage.database,
    )


@st.cache_data(ttl=MODELS_TTL, show_spinner=False, max_entries=64)
def served_models(endpoint_id: str, key_fingerprint: str, _provider: Provider) -> list[ModelInfo]:
    """What ``_provider`` serves (failures raise and are therefore not cached)."""
    from embedcore.providers.client import EmbeddingClient

    if isinstance(_provider, EmbeddingClient):
        # The listing runs on every page view: one retry, not the embedding calls' five.
        return list(_provider.list_models(max_retries=1))
    return list(_provider.list_models())


@st.cache_resource(show_spinner=False, max_entries=8)
def collection_store(storage_key: str, _storage: Storage) -> CollectionStore | PostgresCollectionStore:
    """The document collections of the search page (SQLite beside the cache, or the team database)."""
    from embedcore.stores.collections import CollectionStore, PostgresCollectionStore

    if _storage.database is not None:
        return PostgresCollectionStore(_storage.database)
    return CollectionStore()


@st.cache_resource(show_spinner="Loading the collection…", max_entries=4, ttl=1800)
def loaded_collection(
    where: str, name: str, stamp: tuple, _store: CollectionStore | PostgresCollectionStore
) -> tuple[list[Chunk], np.ndarray]:
    """A collection's chunks and read-only vectors; ``stamp`` changes whenever the collection does."""
    chunks, vectors = _store.load(name)
    return chunks, _readonly(vectors)


@st.cache_resource(show_spinner=False)
def static_build(directory: str) -> BackgroundBuild:
    """The build of the static model into ``directory``: one per server, joined by every session."""
    from embedcore.providers.prepare import BackgroundBuild

    return BackgroundBuild(Path(directory))


# --- texts ------------------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=8)
def sample_table(name: str) -> io.TextTable:
    """:func:`embedcore.io.load_sample`, read once per process (a copy per call)."""
    return io.load_sample(name)


@st.cache_data(show_spinner="Reading the file…", max_entries=8)
def _upload_frame(file_digest: str, filename: str, _data: bytes) -> pd.DataFrame:
    return io.read_upload(_data, filename)


def read_upload(data: bytes, filename: str) -> pd.DataFrame:
    """:func:`embedcore.io.read_upload`, cached by a digest of the bytes (hashing a 50 MB argument
    on every rerun would cost more than the digest)."""
    return _upload_frame(digest_of(data), filename, data)


# cache_resource: a 100k-row table is ~150 MB; cache_data would pickle a copy on every rerun. The
# table is shared read-only (nobody mutates it; its vectors are made read-only).
@st.cache_resource(show_spinner=False, max_entries=2, ttl=3600)
def vector_file(path: str, mtime_ns: int, size: int) -> io.TextTable:
    """:func:`embedcore.io.read_vectors` of a server-side file, read again when it changes."""
    table = io.read_vectors(path)
    table.vectors.setflags(write=False)
    return table


# --- maths ------------------------------------------------------------------------------------------


# cache_data (a copy per hit): the explorer shows the result's notes ("n_neighbors lowered to 4")
# and timing, the other pages only its coordinates.
@st.cache_data(show_spinner=False, max_entries=24)
def projection_result(
    vectors_digest: str, method: str, n_components: int, random_state: int, params: tuple, _vectors
) -> ProjectionResult:
    """:func:`embedcore.analysis.projection.project_with_info` of ``_vectors`` (named by ``vectors_digest``)."""
    from embedcore.analysis.projection import project_with_info

    # use_cache=False: this cache already holds the result; projection's own LRU would hash
    # the whole array again and keep a second copy.
    return project_with_info(
        _vectors, method, n_components, random_state=random_state, use_cache=False, **dict(params)
    )


def cached_projection(
    vectors: np.ndarray,
    method: str = "umap",
    n_components: int = 2,
    *,
    random_state: int = 42,
    digest: str | None = None,
    **params,
) -> np.ndarray:
    """:func:`embedcore.analysis.projection.project`, cached across reruns and sessions.

    Parameters
    ----------
    vectors : ndarray of shape (n, d)
    method : {"umap", "pca", "tsne"}
    n_components : int
    random_state : int
    digest : str, optional
        :func:`digest_of` ``vectors``, if the caller already has it.
    **params
        Passed to ``project`` (``n_neighbors``, ``min_dist``, ``perplexity``, ...); must be hashable.

    Returns
    -------
    ndarray of shape (n, n_components), float32
    """
    key = digest or digest_of(vectors)
    with st.spinner("Projecting…"):  # shown only when it takes over half a second: a miss
        result = projection_result(
            key, method, n_components, random_state, tuple(sorted(params.items())), vectors
        )
    return result.coords


@st.cache_resource(show_spinner="Computing similarities…", max_entries=2, ttl=1800)
def _cosine(vectors_digest: str, _vectors) -> np.ndarray:
    from embedcore.analysis.similarity import cosine_matrix

    return _readonly(cosine_matrix(_vectors))


def cached_cosine(vectors: np.ndarray, *, digest: str | None = None) -> np.ndarray:
    """:func:`embedcore.analysis.similarity.cosine_matrix` of ``vectors`` with itself, cached (read-only).

    Returns
    -------
    ndarray of shape (n, n), float32, not writeable (copy it before changing it).
    """
    return _cosine(digest or digest_of(vectors), vectors)


def cached_neighbours(
    vectors: np.ndarray, k: int, *, digest: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest other rows by cosine: ``(indices int64 (n, k), scores float32 (n, k))``."""
    return _neighbours(digest or digest_of(vectors), int(k), vectors)


def unit_vectors(vectors: np.ndarray, *, digest: str | None = None) -> np.ndarray:
    """:func:`embedcore.analysis.similarity.normalize_rows` of ``vectors``, read-only, kept per data set.

    Every click and selection lists neighbours by cosine; normalising 100,000 rows for each
    was most of such a rerun (~0.3 s). Pass the result with ``normalized=True``.
    """
    return _unit_vectors(digest or digest_of(vectors), vectors)


@st.cache_resource(show_spinner=False, max_entries=2, ttl=3600)
def _unit_vectors(vectors_digest: str, _vectors) -> np.ndarray:
    from embedcore.analysis.similarity import normalize_rows

    unit = normalize_rows(_vectors)
    unit.setflags(write=False)  # shared by every session: nobody may change it in place
    return unit


@st.cache_data(show_spinner=False, max_entries=16)
def _neighbours(vectors_digest: str, k: int, _vectors):
    from embedcore.analysis.similarity import top_k

    return top_k(_vectors, _vectors, k, exclude_self=True)


@st.cache_data(show_spinner=False, max_entries=8)
def _cluster_order(vectors_digest: str, _vectors) -> np.ndarray:
    from embedcore.analysis.similarity import cluster_order

    return cluster_order(_vectors)


def cached_cluster_order(vectors: np.ndarray, *, digest: str | None = None) -> np.ndarray:
    """:func:`embedcore.analysis.similarity.cluster_order` of ``vectors``, cached: row indices, similar rows together."""
    return _cluster_order(digest or digest_of(vectors), vectors)


@st.cache_resource(show_spinner="Measuring alignment…", max_entries=4, ttl=1800)
def _alignment(key: str, ids_langs: tuple, _vectors, _texts: list) -> AlignmentReport:
    from embedcore.analysis.alignment import alignment_report

    ids, langs = ids_langs
    return alignment_report(_vectors, list(ids), list(langs), texts=_texts, worst=10)


def cached_alignment(
    vectors: np.ndarray, sentence_ids: Sequence, languages: Sequence, texts: Sequence[str]
) -> AlignmentReport:
    """:func:`embedcore.analysis.alignment.alignment_report` (the 10 worst sentences), cached per vectors and texts."""
    key = digest_of(vectors) + digest_of(texts)
    return _alignment(key, (tuple(sentence_ids), tuple(languages)), vectors, list(texts))


# --- the explorer -----------------------------------------------------------------------------------
# Keyed by a digest of the vectors (or a tuple naming what was computed); the arrays themselves
# go in as ``_underscore`` arguments. ui.explorer.widgets builds the keys.


@st.cache_data(show_spinner="Clustering…", max_entries=16)
def kmeans_labels(digest: str, k: int, _vectors) -> np.ndarray:
    """:func:`embedcore.analysis.similarity.kmeans_labels`: ndarray of shape (n,), int64."""
    from embedcore.analysis.similarity import kmeans_labels as labels_of

    return labels_of(_vectors, k)


@st.cache_data(show_spinner="Finding clusters (HDBSCAN)…", max_entries=16)
def hdbscan_labels(digest: str, min_cluster_size: int, _vectors) -> np.ndarray:
    """:func:`embedcore.analysis.similarity.hdbscan_labels`: ndarray of shape (n,), int64, -1 for noise."""
    from embedcore.analysis.similarity import hdbscan_labels as labels_of

    return labels_of(_vectors, int(min_cluster_size))


@st.cache_data(show_spinner=False, max_entries=16)
def cluster_names(key: tuple, _texts, _clusters) -> list[str]:
    """:func:`embedcore.analysis.explore.cluster_names`; ``key`` names the clustering."""
    from embedcore.analysis.explore import cluster_names as names_of

    return names_of(_texts, _clusters)


@st.cache_data(show_spinner="Averaging similarities…", max_entries=16)
def block_means(key: tuple, clustered: bool, _vectors, _groups) -> BlockMeans:
    """:func:`embedcore.analysis.explore.block_means`; ``key`` names the vectors and the grouping."""
    from embedcore.analysis.explore import block_means as means_of

    return means_of(_vectors, _groups, clustered=clustered)


@st.cache_data(show_spinner="Ordering rows…", max_entries=16)
def heatmap_rows(digest: str, rows: tuple | None, clustered: bool, _vectors) -> np.ndarray:
    """:func:`embedcore.analysis.explore.heatmap_rows`: row indices in display order."""
    from embedcore.analysis.explore import heatmap_rows as rows_of

    return rows_of(_vectors, None if rows is None else list(rows), clustered=clustered)


@st.cache_data(show_spinner="Finding pairs…", max_entries=16)
def pairs(
    dataset: str, digest: str, labels_digest: str, n: int, largest: bool, _vectors, _texts, _labels
) -> pd.DataFrame:
    """:func:`embedcore.analysis.explore.pairs_frame` of a dataset (its texts), its labels and vectors."""
    from embedcore.analysis.explore import pairs_frame

    return pairs_frame(_vectors, _texts, _labels, n=n, largest=largest)


@st.cache_data(show_spinner=False, max_entries=32)
def placement(projection_key: tuple, query_key: tuple, _query, _vectors, _coords) -> QueryPlacement:
    """:func:`embedcore.analysis.explore.place_query` on the map ``projection_key`` (its method second)."""
    from embedcore.analysis.explore import place_query

    return place_query(_query, _vectors, _coords, projection_key[1])


# cache_resource: one array per data set, shared read-only by every session showing it.
@st.cache_resource(show_spinner=False, max_entries=4, ttl=3600)
def hover_texts(digest: str, n: int, _texts) -> np.ndarray:
    """:func:`embedcore.figures.charts.hover_texts` of a data set (``digest`` of its vectors)."""
    from embedcore.figures.charts import hover_texts as hover_of

    return hover_of(_texts)


# cache_resource: the same Figure object is handed to every rerun (no pickling of 10k hover
# strings); nobody mutates it after it is built, st.plotly_chart only serialises it. Building
# a 10k-point map costs ~130 ms (mostly hover text), so reruns that change nothing on the map
# (a selection, the neighbour count, another tab and back) skip it.
@st.cache_resource(show_spinner=False, max_entries=8, ttl=3600)
def figure(key: tuple, _build):
    """``_build()`` once per ``key`` (hashable, describing everything the figure shows)."""
    return _build()
