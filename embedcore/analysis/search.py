"""Semantic search over a document collection: read → chunk → embed → store, and query → top-k → records.

The dashboard's search page calls these; nothing here imports Streamlit.

* Documents and chunking (:func:`read_documents`, :func:`token_limit`, :func:`chunk_documents`) are
  :mod:`embedcore.analysis.documents`; their names are re-exported here.
* :func:`build_collection`, :func:`add_documents`, :func:`reembed_collection` — embed chunks and
  keep them in a :class:`embedcore.stores.collections.CollectionStore` (nothing is stored when the
  embedding call fails, so a failure never leaves a half-built collection behind).
* :func:`search` — embed a query with the collection's own model, return ranked
  :class:`SearchHit` records (like sentence-transformers' ``semantic_search``).
* :func:`query_position` — where a query sits on an existing map of the collection.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from embedcore.analysis.documents import (
    DOCUMENT_TYPES,
    ESTIMATE_MARGIN,
    SAMPLE_CHUNK_SIZE,
    SAMPLE_COLLECTION,
    SAMPLE_OVERLAP,
    Document,
    TokenLimit,
    chunk_documents,
    read_documents,
    sample_documents,
    token_limit,
)
from embedcore.analysis.similarity import top_k
from embedcore.errors import EmptyInputError, InputError
from embedcore.io import MAX_TEXTS, check_limit
from embedcore.io.chunking import Chunk
from embedcore.stores.collections import (
    MAX_NAME_LENGTH,
    CollectionInfo,
    CollectionStore,
    PostgresCollectionStore,
)
from embedcore.types import EmbeddingResult, ProgressCallback, Provider

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DOCUMENT_TYPES",
    "ESTIMATE_MARGIN",
    "MIN_SCORE",
    "SAMPLE_CHUNK_SIZE",
    "SAMPLE_COLLECTION",
    "SAMPLE_OVERLAP",
    "BuildReport",
    "CollectionMismatchError",
    "Document",
    "SearchHit",
    "SearchResult",
    "TokenLimit",
    "add_documents",
    "build_collection",
    "chunk_documents",
    "collection_mismatch",
    "query_position",
    "read_documents",
    "reembed_collection",
    "reembed_name",
    "sample_documents",
    "search",
    "token_limit",
]


class CollectionMismatchError(InputError):
    """A collection's vectors were made by another model or endpoint than the one asked to search it."""


@dataclass
class BuildReport:
    """What building (or extending) a collection did.

    Attributes
    ----------
    info : CollectionInfo
        The collection afterwards.
    documents : int
        Documents embedded in this call.
    chunks : int
        Chunks embedded in this call.
    embedding : EmbeddingResult
        The embedding call (tokens, cache hits, time, warnings); ``vectors`` of shape (chunks, d).
    seconds : float
        Wall-clock time of the whole call (chunking, embedding, storing).
    """

    info: CollectionInfo
    documents: int
    chunks: int
    embedding: EmbeddingResult
    seconds: float


def _embed_chunks(
    provider: Provider,
    model: str,
    chunks: Sequence[Chunk],
    progress: ProgressCallback | None,
    max_chunks: int | None,
) -> EmbeddingResult:
    if not chunks:
        raise EmptyInputError("The documents hold no text to embed.")
    check_limit(len(chunks), max_chunks)
    return provider.embed([c.text for c in chunks], model, progress=progress)


def _fill_new(store, name: str, chunks, result, endpoint_id: str, model: str, start: float) -> BuildReport:
    """Store the chunks of a collection just created as ``name``, and report the build.

    A failure deletes the new collection: an empty one left behind would block the name.
    """
    try:
        store.add_chunks(name, chunks, result.vectors, endpoint_id=endpoint_id, model=model)
    except BaseException:
        store.delete(name)
        raise
    return BuildReport(
        info=store.info(name),
        documents=len({c.source for c in chunks}),
        chunks=len(chunks),
        embedding=result,
        seconds=time.perf_counter() - start,
    )


def build_collection(
    store: CollectionStore | PostgresCollectionStore,
    name: str,
    documents: Sequence[Document],
    provider: Provider,
    model: str,
    *,
    chunk_size: int = 200,
    overlap: int = 40,
    limit: TokenLimit | None = None,
    progress: ProgressCallback | None = None,
    max_chunks: int | None = MAX_TEXTS,
) -> BuildReport:
    """Read → chunk → embed → store: a new named collection of ``documents``.

    Parameters
    ----------
    store : CollectionStore
    name : str
        Must not exist yet (checked before anything is embedded).
    documents : sequence of Document
    provider : Provider
        Embeds the chunks; its ``endpoint_id`` is recorded with the collection.
    model : str
    chunk_size, overlap : int
        In words.
    limit : TokenLimit, optional
        Default :func:`token_limit` ``(model)``; pass ``TokenLimit(None)`` for words only.
    progress : callable (done, total), optional
    max_chunks : int or None
        Refuse more chunks than this (:class:`embedcore.errors.TooManyTextsError`).

    Returns
    -------
    BuildReport

    Raises
    ------
    InputError
        A name in use or invalid, bad chunk sizes, no text, too many chunks.
    EmbedcoreError
        Whatever the provider raises; the store is then left as it was.
    """
    start = time.perf_counter()
    if store.exists(name):
        raise InputError(
            f"A collection called {name.strip()!r} exists already; pick another name or delete it."
        )
    limit = token_limit(model) if limit is None else limit
    chunks = chunk_documents(documents, size=chunk_size, overlap=overlap, limit=limit)
    result = _embed_chunks(provider, model, chunks, progress, max_chunks)
    store.create(name, endpoint_id=provider.endpoint_id, model=model, chunk_size=chunk_size, overlap=overlap)
    return _fill_new(store, name, chunks, result, provider.endpoint_id, model, start)


def collection_mismatch(info: CollectionInfo, endpoint_id: str, model: str) -> str | None:
    """Why ``model`` at ``endpoint_id`` cannot search collection ``info`` (None when it can).

    Returns
    -------
    str or None
        A sentence naming both models (and endpoints when they differ).
    """
    if info.endpoint_id == endpoint_id and info.model == model:
        return None
    where = "" if info.endpoint_id == endpoint_id else f" at {_endpoint_label(info.endpoint_id)}"
    here = "" if info.endpoint_id == endpoint_id else f" at {_endpoint_label(endpoint_id)}"
    return (
        f"Collection {info.name!r} was embedded with {info.model}{where}, but the search model is "
        f"{model}{here}. A query can only be compared with vectors from the same model: search with "
        f"{info.model}, or re-embed the collection with {model}."
    )


def _endpoint_label(endpoint_id: str) -> str:
    return "the bundled local models" if endpoint_id == "local:" else endpoint_id


def add_documents(
    store: CollectionStore | PostgresCollectionStore,
    name: str,
    documents: Sequence[Document],
    provider: Provider,
    *,
    limit: TokenLimit | None = None,
    progress: ProgressCallback | None = None,
    max_chunks: int | None = MAX_TEXTS,
) -> BuildReport:
    """Chunk and embed more documents into an existing collection, with its own model and chunk sizes.

    A document whose name is already in the collection replaces the old one.

    Raises
    ------
    CollectionMismatchError
        ``provider`` is not the endpoint the collection was made at.
    """
    start = time.perf_counter()
    info = store.info(name)
    if provider.endpoint_id != info.endpoint_id:
        raise CollectionMismatchError(collection_mismatch(info, provider.endpoint_id, info.model) or "")
    limit = token_limit(info.model) if limit is None else limit
    chunks = chunk_documents(documents, size=info.chunk_size, overlap=info.overlap, limit=limit)
    check_limit(info.n_chunks + len(chunks), max_chunks)
    result = _embed_chunks(provider, info.model, chunks, progress, None)
    store.add_chunks(name, chunks, result.vectors, endpoint_id=provider.endpoint_id, model=info.model)
    return BuildReport(
        info=store.info(name),
        documents=len({c.source for c in chunks}),
        chunks=len(chunks),
        embedding=result,
        seconds=time.perf_counter() - start,
    )


def reembed_name(store: CollectionStore, name: str, model: str) -> str:
    """A free collection name for ``name`` re-embedded with ``model`` (``"docs · bge-m3"``)."""
    tail = model.rsplit("/", 1)[-1]
    base = f"{name} · {tail}"
    if len(base) > MAX_NAME_LENGTH - 5:
        base = base[: MAX_NAME_LENGTH - 6].rstrip() + "…"
    candidate, n = base, 2
    while store.exists(candidate):
        candidate, n = f"{base} ({n})", n + 1
    return candidate


def reembed_collection(
    store: CollectionStore | PostgresCollectionStore,
    name: str,
    provider: Provider,
    model: str,
    *,
    new_name: str | None = None,
    progress: ProgressCallback | None = None,
) -> BuildReport:
    """Embed a collection's chunks with another model into a new collection; the original stays.

    The chunks are reused as they are (the documents themselves are not stored). When the
    new model takes fewer tokens than a chunk holds, the provider cuts it and says so in
    ``report.embedding.warnings``.

    Parameters
    ----------
    new_name : str, optional
        Default :func:`reembed_name`.
    """
    start = time.perf_counter()
    info = store.info(name)
    chunks, _ = store.load(name)
    target = new_name or reembed_name(store, name, model)
    if store.exists(target):
        raise InputError(f"A collection called {target!r} exists already; pick another name or delete it.")
    result = _embed_chunks(provider, model, chunks, progress, None)
    store.create(
        target,
        endpoint_id=provider.endpoint_id,
        model=model,
        chunk_size=info.chunk_size,
        overlap=info.overlap,
    )
    return _fill_new(store, target, chunks, result, provider.endpoint_id, model, start)


# --- searching ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    """One retrieved chunk.

    Attributes
    ----------
    rank : int
        1 for the best match.
    row : int
        Row of the chunk in the collection (as loaded by ``CollectionStore.load``).
    score : float
        Cosine similarity to the query, in [-1, 1].
    source : str
        The document it comes from.
    chunk_index : int
        Position of the chunk in its document, from 0.
    start, end : int
        Character offsets into the document.
    text : str
    """

    rank: int
    row: int
    score: float
    source: str
    chunk_index: int
    start: int
    end: int
    text: str


@dataclass
class SearchResult:
    """A query's ranked chunks.

    Attributes
    ----------
    query : str
    model : str
    hits : list of SearchHit
        Best first.
    query_vector : ndarray of shape (d,), float32
    embedding : EmbeddingResult
        The query's embedding call (time, tokens, whether it came from the cache).
    min_score : float or None
        The floor the hits were held to (None: none).
    below_floor : int
        How many of the ``k`` nearest chunks scored at or below ``min_score`` and were left out.
    """

    query: str
    model: str
    hits: list[SearchHit]
    query_vector: np.ndarray
    embedding: EmbeddingResult
    min_score: float | None = None
    below_floor: int = 0

    @property
    def rows(self) -> np.ndarray:
        """Collection rows of the hits, best first: ndarray of shape (k,), int64."""
        return np.array([h.row for h in self.hits], dtype=np.int64)

    @property
    def scores(self) -> np.ndarray:
        """Scores of the hits, best first: ndarray of shape (k,), float32."""
        return np.array([h.score for h in self.hits], dtype=np.float32)

    def to_frame(self) -> pd.DataFrame:
        """One row per hit: rank, score, source, chunk, characters, text."""
        import pandas as pd

        return pd.DataFrame(
            {
                "rank": [h.rank for h in self.hits],
                "score": self.scores,
                "source": [h.source for h in self.hits],
                "chunk": [h.chunk_index + 1 for h in self.hits],
                "characters": [f"{h.start:,}–{h.end:,}" for h in self.hits],
                "text": [h.text for h in self.hits],
            }
        )


#: Default floor of :func:`search`: a cosine at or below 0 is no match at all.
MIN_SCORE = 0.0


def search(
    provider: Provider,
    model: str,
    query: str,
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    *,
    k: int = 5,
    info: CollectionInfo | None = None,
    store: CollectionStore | PostgresCollectionStore | None = None,
    min_score: float | None = MIN_SCORE,
) -> SearchResult:
    """Embed ``query`` and return the ``k`` chunks most cosine-similar to it, above a floor.

    Parameters
    ----------
    provider : Provider
    model : str
        Must be the model that made ``vectors``.
    query : str
    chunks : sequence of Chunk, length n
    vectors : ndarray of shape (n, d)
    k : int
        Clamped to ``n``.
    info : CollectionInfo, optional
        When given, the query is refused unless ``provider.endpoint_id`` and ``model`` match
        the collection's (before anything is embedded).
    store : CollectionStore or PostgresCollectionStore, optional
        With ``info``: a store that searches inside the database (PostgreSQL + pgvector, its
        HNSW index for large collections) ranks the chunks there, and ``chunks`` / ``vectors``
        are not needed (pass what was loaded, or empty ones). Other stores leave the ranking to
        the loaded ``vectors`` here.
    min_score : float or None, default :data:`MIN_SCORE`
        Of the ``k`` nearest chunks, those scoring at or below this are left out (counted in
        ``below_floor``): a cosine of 0 or less means the chunk has nothing to do with the
        query, and listing it as a result says otherwise. None keeps all ``k``.

    Returns
    -------
    SearchResult
        Hits sorted by score, equal scores by row; fewer than ``k`` when some fell below the floor.

    Raises
    ------
    EmptyInputError
        A blank query or an empty collection.
    CollectionMismatchError
        Another model or endpoint than the collection's, or vectors of another width.
    """
    text = query.strip() if isinstance(query, str) else ""
    if not text:
        raise EmptyInputError("Type a query to search for.")
    if info is not None:
        problem = collection_mismatch(info, provider.endpoint_id, model)
        if problem:
            raise CollectionMismatchError(problem)
    in_database = store is not None and info is not None and getattr(store, "searches_in_database", False)
    if in_database:
        assert info is not None and store is not None
        n_rows, width = info.n_chunks, info.dims or 0
    else:
        vectors = np.asarray(vectors)
        if vectors.shape[0] != len(chunks):
            raise InputError(f"{len(chunks)} chunks but {vectors.shape[0]} vectors.")
        n_rows, width = len(chunks), (vectors.shape[1] if vectors.ndim == 2 else 0)
    if n_rows == 0:
        raise EmptyInputError("The collection has no chunks to search.")
    if k < 1:
        raise InputError(f"k must be at least 1, not {k}.")
    result = provider.embed([text], model)
    qv = np.asarray(result.vectors[0], dtype=np.float32)
    if qv.shape[0] != width:
        raise CollectionMismatchError(
            f"The query vector has {qv.shape[0]} dimensions and the collection's vectors {width}: "
            "they were not made by the same model."
        )
    if in_database:
        rows, scores, found = store.search(info.name, qv, k)  # type: ignore[union-attr]
    else:
        idx, top = top_k(qv[None, :], vectors, k)
        rows, scores = idx[0], top[0]
        found = [chunks[row] for row in rows.tolist()]
    hits = [
        SearchHit(
            rank=rank,
            row=int(row),
            score=float(score),
            source=chunk.source,
            chunk_index=chunk.index,
            start=chunk.start,
            end=chunk.end,
            text=chunk.text,
        )
        for rank, (row, score, chunk) in enumerate(
            zip(rows.tolist(), scores.tolist(), found, strict=True), start=1
        )
    ]
    kept = hits if min_score is None else [h for h in hits if h.score > min_score]
    return SearchResult(
        query=text,
        model=model,
        hits=kept,
        query_vector=qv,
        embedding=result,
        min_score=min_score,
        below_floor=len(hits) - len(kept),
    )


def query_position(
    coords: np.ndarray, rows: Sequence[int] | np.ndarray, scores: Sequence[float]
) -> np.ndarray:
    """Where to draw a query on a map of the collection: the score-weighted mean of its hits.

    Re-fitting UMAP with the query added would move every point on each search; placing the
    query among its nearest chunks keeps the map still. It is a drawing aid, not a projection.

    Parameters
    ----------
    coords : ndarray of shape (n, c)
        The collection's map (c = 2 or 3).
    rows : sequence of int, length k
        The query's nearest rows.
    scores : sequence of float, length k
        Their cosine similarities; negative scores weigh nothing.

    Returns
    -------
    ndarray of shape (c,), float32
    """
    coords = np.asarray(coords, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int64)
    weights = np.clip(np.asarray(scores, dtype=np.float64), 0.0, None)
    if rows.size == 0:
        raise InputError("No neighbours to place the query by.")
    if rows.shape != weights.shape:
        raise InputError(f"{rows.size} rows but {weights.size} scores.")
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    return (weights @ coords[rows] / weights.sum()).astype(np.float32)
