"""Every Streamlit cache of the dashboard, in one module.

- ``st.cache_resource`` — objects shared by every session (the team database, the stores of
  :func:`embedcore.stores.storage.open_stores`, providers, the static-model build, the warm-up
  thread) and large read-only arrays (a 10k × 10k cosine matrix is 381 MiB, which
  ``cache_data`` would pickle on every hit). Thread-safe, never mutated; arrays read-only.
- ``st.cache_data`` — results: projections, model listings, parsed uploads, sample sets, the explorer's
  clusters, pairs, heatmap rows, placements (named by :mod:`ui.explorer.computed` and ``projections``).

Keys: arrays, secrets and shared objects go in as ``_underscore`` arguments (not hashed) beside a
key naming them: an array's :func:`~ui.common.digests.digest_of` (hashing 10k × 1024 floats costs ~40 ms), a fingerprint, a storage key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from embedcore import io
from embedcore.providers.registry import LOCAL
from ui.common.digests import digest_of

if TYPE_CHECKING:
    import pandas as pd

    from embedcore.analysis.alignment import AlignmentReport
    from embedcore.analysis.explore import QueryPlacement
    from embedcore.analysis.groups import BlockMeans
    from embedcore.analysis.projection import ProjectionResult
    from embedcore.io.chunking import Chunk
    from embedcore.providers.prepare import BackgroundBuild
    from embedcore.stores.database import Database
    from embedcore.stores.protocols import Collections, VectorCache, Views
    from embedcore.types import ModelInfo, Provider
    from embedcore.warmup import SampleWarmUp
    from ui.common.storage import Storage

#: Seconds a model listing is reused before asking the endpoint again.
MODELS_TTL = 300


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@st.cache_resource(show_spinner=False)
def warm_up(_sample: Callable[[], SampleWarmUp | None] | None = None) -> bool:
    """Load the bundled model and UMAP's code in the background, once per process (``make run``
    starts it with the server; ``streamlit run app.py`` on the first visit; ``EMBEDCORE_WARM_UP=0``
    never). ``_sample`` makes the embedding of the default sample on an operator's token
    (:func:`ui.common.hosted.sample_warm_up`, passed in by the shell so this bottom module imports
    nothing above it), done first, so the first visitor's map is there at once."""
    from embedcore import warmup

    if warmup.started():
        return True
    return warmup.start(sample=_sample() if _sample is not None and warmup.enabled() else None)


@st.cache_resource(show_spinner=False)
def evaluation_set(kind: str):
    """A built-in labelled set of the Evaluate page (:func:`embedcore.evaluation.load_builtin`),
    read once per server: a few hundred lines that never change; shared, never mutated."""
    from embedcore.evaluation import load_builtin

    return load_builtin(kind)


@st.cache_resource(show_spinner=False)
def work_queue():
    """The server's :class:`embedcore.system.WorkQueue` for heavy work (cores, or ``EMBEDCORE_WORK_SLOTS``)."""
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
def embedding_cache(storage_key: str, max_mb: float | None, _storage: Storage) -> VectorCache:
    """The embedding cache every session shares (:meth:`ui.common.storage.Storage.stores`), keyed by
    the storage (cache dir, or database fingerprint and whether it is up) and the cap in MB."""
    return _storage.stores(max_mb).cache


@st.cache_resource(show_spinner="Loading the bundled model…", max_entries=8)
def local_provider(
    storage_key: str, cache_max_mb: float | None, _storage: Storage, kind: str = LOCAL
) -> Provider:
    """A provider that runs on this machine (by default the bundled models,
    :class:`embedcore.providers.local.LocalModel`) over the shared embedding cache."""
    from embedcore.providers.registry import make_provider

    return make_provider(kind, cache=embedding_cache(storage_key, cache_max_mb, _storage))


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
    """An :class:`embedcore.providers.client.EmbeddingClient` per endpoint, token (by fingerprint)
    and storage, shared by every session as the per-contract rate limit wants (with a team
    database its bucket is shared by every replica too). ``_api_key`` is explicit (``""``: none):
    the caller applied :func:`embedcore.providers.endpoints.token_for`."""
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

    # The listing runs on every page view: one retry, not the embedding calls' five.
    retries = {"max_retries": 1} if isinstance(_provider, EmbeddingClient) else {}
    return list(_provider.list_models(**retries))


@st.cache_resource(show_spinner=False, max_entries=8)
def collection_store(storage_key: str, _storage: Storage) -> Collections:
    """The document collections of the search page (SQLite beside the cache, or the team database)."""
    return _storage.stores().collections


@st.cache_resource(show_spinner=False, max_entries=8)
def view_store(storage_key: str, _storage: Storage) -> Views:
    """The saved views and the texts links name (beside the cache, or the team database); pruned once."""
    views = _storage.stores().views
    views.prune()  # texts and selections no saved view uses, unused for 30 days
    return views


@st.cache_resource(show_spinner="Loading the collection…", max_entries=4, ttl=1800)
def loaded_collection(
    where: str, name: str, stamp: tuple, _store: Collections
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
    """:func:`embedcore.analysis.projection.project` (coordinates (n, n_components), float32),
    cached across reruns and sessions; ``digest``: :func:`digest_of` ``vectors`` if known;
    ``params`` (``n_neighbors``, ``perplexity``, ...) must be hashable."""
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
    """:func:`embedcore.analysis.similarity.cosine_matrix` of ``vectors`` with itself, cached:
    (n, n) float32, read-only (copy it before changing it)."""
    return _cosine(digest or digest_of(vectors), vectors)


def cached_neighbours(
    vectors: np.ndarray, k: int, *, digest: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest other rows by cosine: ``(indices int64 (n, k), scores float32 (n, k))``."""
    return _neighbours(digest or digest_of(vectors), int(k), vectors)


def unit_vectors(vectors: np.ndarray, *, digest: str | None = None) -> np.ndarray:
    """:func:`embedcore.analysis.similarity.normalize_rows`, read-only, kept per data set (every click
    lists neighbours by cosine; normalising 100k rows each time was ~0.3 s). Pass ``normalized=True``."""
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
    from embedcore.analysis.clustering import cluster_order

    return cluster_order(_vectors)


def cached_cluster_order(vectors: np.ndarray, *, digest: str | None = None) -> np.ndarray:
    """:func:`embedcore.analysis.clustering.cluster_order` of ``vectors``, cached: row indices, similar rows together."""
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
# go in as ``_underscore`` arguments. ui.explorer.computed and ui.explorer.projections build the keys.


@st.cache_data(show_spinner="Clustering…", max_entries=16)
def kmeans_labels(digest: str, k: int, _vectors) -> np.ndarray:
    """:func:`embedcore.analysis.clustering.kmeans_labels`: ndarray of shape (n,), int64."""
    from embedcore.analysis.clustering import kmeans_labels as labels_of

    return labels_of(_vectors, k)


@st.cache_data(show_spinner="Finding clusters (HDBSCAN)…", max_entries=16)
def hdbscan_labels(digest: str, min_cluster_size: int, _vectors) -> np.ndarray:
    """:func:`embedcore.analysis.clustering.hdbscan_labels`: ndarray of shape (n,), int64, -1 for noise."""
    from embedcore.analysis.clustering import hdbscan_labels as labels_of

    return labels_of(_vectors, int(min_cluster_size))


@st.cache_data(show_spinner=False, max_entries=16)
def cluster_names(key: tuple, _texts, _clusters) -> list[str]:
    """:func:`embedcore.analysis.groups.cluster_names`; ``key`` names the clustering."""
    from embedcore.analysis.groups import cluster_names as names_of

    return names_of(_texts, _clusters)


@st.cache_data(show_spinner="Averaging similarities…", max_entries=16)
def block_means(key: tuple, clustered: bool, _vectors, _groups) -> BlockMeans:
    """:func:`embedcore.analysis.groups.block_means`; ``key`` names the vectors and the grouping."""
    from embedcore.analysis.groups import block_means as means_of

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
    """:func:`embedcore.figures.labels.hover_texts` of a data set (``digest`` of its vectors)."""
    from embedcore.figures.labels import hover_texts as hover_of

    return hover_of(_texts)


# cache_resource: the same Figure object is handed to every rerun (no pickling of 10k hover
# strings); nobody mutates it after it is built, st.plotly_chart only serialises it. Building
# a 10k-point map costs ~130 ms (mostly hover text), so reruns that change nothing on the map
# (a selection, the neighbour count, another tab and back) skip it.
@st.cache_resource(show_spinner=False, max_entries=8, ttl=3600)
def figure(key: tuple, _build):
    """``_build()`` once per ``key`` (hashable, describing everything the figure shows)."""
    return _build()
