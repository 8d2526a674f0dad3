"""embedcore.analysis.search: read → chunk → embed → store, and query → top-k, with the real bundled models."""

from __future__ import annotations

import numpy as np
import pytest

from embedcore.analysis import search
from embedcore.errors import EmptyInputError, InputError, NotFoundError, TooManyTextsError
from embedcore.io import load_sample
from embedcore.providers import catalog
from embedcore.providers.local import LocalModel
from embedcore.stores.cache import EmbeddingCache
from embedcore.stores.collections import CollectionStore, PostgresCollectionStore


@pytest.fixture
def local(tmp_path, models_dir) -> LocalModel:
    return LocalModel(cache=EmbeddingCache(tmp_path / "embeddings.sqlite3"), models_dir=models_dir)


def open_store(location: str):
    if location.startswith("postgresql://"):
        return PostgresCollectionStore(location)
    return CollectionStore(location)


@pytest.fixture
def location(store_kind, tmp_path, request) -> str:
    """Both stores run these tests: a SQLite file and a PostgreSQL + pgvector database."""
    if store_kind == "postgres":
        return request.getfixturevalue("database_url")
    return str(tmp_path / "collections.sqlite3")


@pytest.fixture
def store(location):
    with open_store(location) as s:
        yield s


class Recording:
    """Delegates to a real provider and counts the texts it was asked to embed."""

    def __init__(self, provider) -> None:
        self.provider = provider
        self.endpoint_id = provider.endpoint_id
        self.calls: list[list[str]] = []

    def list_models(self):
        return self.provider.list_models()

    def embed(self, texts, model, *, progress=None):
        self.calls.append(list(texts))
        return self.provider.embed(texts, model, progress=progress)


def _docs() -> list[search.Document]:
    return [
        search.Document(
            "kitchen.md",
            "# Bread\n\nKnead the dough for ten minutes, let it rise for an hour, then bake it at 220 degrees.\n\n"
            "A sourdough starter needs flour and water every day.",
        ),
        search.Document(
            "orbit.txt",
            "The rocket reached orbit after eight minutes.\n\nAstronauts on the space station grow "
            "lettuce in microgravity.",
        ),
    ]


# --- documents ------------------------------------------------------------------------------------


def test_sample_documents_hold_every_topics_sentence_once():
    docs = search.sample_documents()
    table = load_sample("topics")
    assert sorted(d.source for d in docs) == sorted(f"{label}.txt" for label in set(table.labels))
    paragraphs = [p for d in docs for p in d.text.split("\n\n")]
    assert sorted(paragraphs) == sorted(table.texts)


def test_read_documents_reports_bad_files_and_keeps_the_good_ones():
    csv = b"id,text\n1,The first review is positive.\n2,The second one is not.\n"
    docs, problems = search.read_documents(
        [
            ("notes.txt", b"Line one.\n\nLine two."),
            ("table.csv", csv),
            ("broken.pdf", b"%PDF-1.4 this is not really a pdf"),
            ("empty.md", b""),
            ("notes.txt", b"A newer copy."),
        ]
    )
    assert [d.source for d in docs] == ["table.csv", "notes.txt"]
    assert docs[1].text == "A newer copy."
    assert "The first review is positive." in docs[0].text and "The second one is not." in docs[0].text
    joined = "\n".join(problems)
    assert "broken.pdf" in joined and "empty.md" in joined and "uploaded twice" in joined
    assert len(problems) == 3


# --- token limits -----------------------------------------------------------------------------------


def test_token_limit_comes_from_the_catalogue():
    minilm = search.token_limit(catalog.MINILM_ID)
    assert minilm.exact and minilm.max_tokens == 256 and minilm.model_limit == 256
    assert minilm.count_tokens("hello world") == 4  # [CLS] hello world [SEP]

    mpnet = search.token_limit("sentence-transformers/paraphrase-multilingual-mpnet-base-v2")
    assert not mpnet.exact and mpnet.model_limit == 128
    assert mpnet.max_tokens == int(128 * search.ESTIMATE_MARGIN)
    assert "128 tokens" in mpnet.note

    for model in (catalog.MINILM_STATIC_ID, "someone/unknown-model"):
        limit = search.token_limit(model)
        assert limit.max_tokens is None and limit.count_tokens is None
        assert "limited by words only" in limit.note


def test_token_limit_without_the_bundled_tokenizer_estimates(monkeypatch):
    monkeypatch.setattr(search, "_wordpiece", lambda: None)
    limit = search.token_limit(catalog.MINILM_ID)
    assert not limit.exact and limit.max_tokens == int(256 * search.ESTIMATE_MARGIN)
    assert "estimate" in limit.note
    # Grows with the text; at least one token a word; long words count by characters.
    counts = [limit.count_tokens(" ".join(["word"] * n)) for n in (1, 10, 100)]
    assert counts == sorted(counts) and counts[2] >= 100
    assert limit.count_tokens("x" * 400) >= 100


@pytest.mark.slow
def test_chunks_never_exceed_the_models_input(local):
    # One 600-word paragraph without sentence ends: only the token limit can stop a chunk.
    words = " ".join(f"tokenisation{i}" for i in range(600))
    limit = search.token_limit(catalog.MINILM_ID)
    chunks = search.chunk_documents([search.Document("long.txt", words)], size=400, overlap=20, limit=limit)
    assert len(chunks) > 3
    result = local.embed([c.text for c in chunks], catalog.MINILM_ID)
    # The model's own count (from LocalModel) agrees: nothing was cut.
    assert int(result.token_counts.max()) <= 256
    assert not result.warnings
    # Without the limit the same chunks would have been cut by the model.
    unlimited = search.chunk_documents([search.Document("long.txt", words)], size=400, overlap=20)
    assert int(local.embed([unlimited[0].text], catalog.MINILM_ID).token_counts[0]) > 256


# --- building and searching -------------------------------------------------------------------------


@pytest.mark.slow
def test_build_then_search_finds_the_right_document(local, store, location):
    docs = _docs()
    report = search.build_collection(store, "notes", docs, local, catalog.MINILM_ID, chunk_size=12, overlap=2)
    assert report.info.model == catalog.MINILM_ID and report.info.endpoint_id == "local:"
    assert report.info.dims == 384 and report.documents == 2
    assert report.chunks == report.info.n_chunks == report.embedding.vectors.shape[0] >= 2

    chunks, vectors = store.load("notes")
    result = search.search(
        local, catalog.MINILM_ID, "  how long should bread dough rise? ", chunks, vectors, k=3
    )
    assert result.query == "how long should bread dough rise?"
    assert [h.rank for h in result.hits] == [1, 2, 3]
    assert result.hits[0].source == "kitchen.md"
    assert list(result.scores) == sorted(result.scores, reverse=True)
    by_name = {d.source: d.text for d in docs}
    for hit in result.hits:
        assert by_name[hit.source][hit.start : hit.end] == hit.text
    # The scores are the real cosines of the stored vectors.
    np.testing.assert_allclose(result.scores, vectors[result.rows] @ result.query_vector, atol=1e-5)

    frame = result.to_frame()
    assert list(frame.columns) == ["rank", "score", "source", "chunk", "characters", "text"]
    assert frame.loc[0, "source"] == "kitchen.md"

    space = search.search(local, catalog.MINILM_ID, "spaceflight", chunks, vectors, k=1)
    assert space.hits[0].source == "orbit.txt"

    # Ranked by the store (pgvector inside PostgreSQL; the loaded vectors for SQLite): same hits,
    # and the PostgreSQL search needs nothing loaded.
    info = store.info("notes")
    loaded = (chunks, vectors) if not store.searches_in_database else ([], np.zeros((0, 0)))
    stored = search.search(
        local, catalog.MINILM_ID, "how long should bread dough rise?", *loaded, k=3, info=info, store=store
    )
    assert [h.row for h in stored.hits] == [h.row for h in result.hits]
    assert [h.text for h in stored.hits] == [h.text for h in result.hits]
    np.testing.assert_allclose(stored.scores, result.scores, atol=1e-5)

    # Persistent: another store on the same file sees the collection and its vectors.
    with open_store(location) as again:
        assert [c.name for c in again.list()] == ["notes"]
        np.testing.assert_array_equal(again.load("notes")[1], vectors)


def test_hits_at_or_below_the_floor_are_left_out_and_counted(local, store):
    search.build_collection(store, "notes", _docs(), local, catalog.MINILM_ID, chunk_size=12, overlap=2)
    chunks, vectors = store.load("notes")
    everything = search.search(
        local, catalog.MINILM_ID, "spaceflight", chunks, vectors, k=len(chunks), min_score=None
    )
    cosines = np.sort(vectors @ everything.query_vector)[::-1]
    assert (cosines <= 0).sum() >= 1, "the dough chunks should be unrelated to spaceflight"
    assert len(everything.hits) == len(chunks) and everything.below_floor == 0

    result = search.search(local, catalog.MINILM_ID, "spaceflight", chunks, vectors, k=len(chunks))
    assert result.min_score == 0.0  # the default: a cosine of 0 or less says "unrelated"
    assert all(h.score > 0 for h in result.hits)
    assert len(result.hits) == int((cosines > 0).sum())
    assert result.below_floor == int((cosines <= 0).sum())
    assert result.hits[0].source == "orbit.txt"
    # A higher floor, as a caller may choose, and nothing above it.
    high = search.search(local, catalog.MINILM_ID, "spaceflight", chunks, vectors, k=3, min_score=0.99)
    assert high.hits == [] and high.below_floor == 3
    assert high.to_frame().empty


@pytest.mark.slow
def test_sample_collection_is_searchable(local, store):
    report = search.build_collection(
        store,
        search.SAMPLE_COLLECTION,
        search.sample_documents(),
        local,
        catalog.MINILM_ID,
        chunk_size=search.SAMPLE_CHUNK_SIZE,
        overlap=search.SAMPLE_OVERLAP,
    )
    assert report.documents == 5 and report.info.chunk_size == search.SAMPLE_CHUNK_SIZE
    chunks, vectors = store.load(search.SAMPLE_COLLECTION)
    result = search.search(local, catalog.MINILM_ID, "baking bread in the oven", chunks, vectors, k=3)
    assert {h.source for h in result.hits} == {"cooking.txt"}
    in_store = search.search(
        local,
        catalog.MINILM_ID,
        "baking bread in the oven",
        chunks,
        vectors,
        k=3,
        info=report.info,
        store=store,
    )
    assert [h.row for h in in_store.hits] == [h.row for h in result.hits]


def test_a_taken_name_is_refused_before_anything_is_embedded(store):
    store.create("notes", endpoint_id="local:", model=catalog.MINILM_ID, chunk_size=50, overlap=0)
    provider = Recording(LocalModel())
    with pytest.raises(InputError, match="exists already"):
        search.build_collection(store, " notes ", _docs(), provider, catalog.MINILM_ID)
    assert provider.calls == []


def test_a_failed_embedding_leaves_no_collection(store):
    with pytest.raises(NotFoundError):
        search.build_collection(store, "notes", _docs(), LocalModel(), "no-such/model")
    assert not store.exists("notes")


def test_documents_without_text_or_too_many_chunks_are_refused(store):
    provider = Recording(LocalModel())
    with pytest.raises(EmptyInputError):
        search.build_collection(
            store, "blank", [search.Document("a.txt", " \n ")], provider, catalog.MINILM_ID
        )
    with pytest.raises(TooManyTextsError):
        search.build_collection(
            store, "big", _docs(), provider, catalog.MINILM_ID, chunk_size=2, overlap=0, max_chunks=3
        )
    assert provider.calls == [] and store.list() == []


@pytest.mark.slow
def test_another_model_is_refused_clearly_and_reembedding_makes_a_new_collection(local, store):
    search.build_collection(store, "notes", _docs(), local, catalog.MINILM_ID, chunk_size=12, overlap=2)
    info = store.info("notes")
    chunks, vectors = store.load("notes")

    message = search.collection_mismatch(info, "local:", catalog.MINILM_STATIC_ID)
    assert catalog.MINILM_ID in message and catalog.MINILM_STATIC_ID in message and "re-embed" in message
    assert search.collection_mismatch(info, "local:", catalog.MINILM_ID) is None
    other_endpoint = search.collection_mismatch(info, "https://api.example/v1", catalog.MINILM_ID)
    assert "https://api.example/v1" in other_endpoint and "bundled local models" in other_endpoint

    recording = Recording(local)
    with pytest.raises(search.CollectionMismatchError, match="re-embed"):
        search.search(recording, catalog.MINILM_STATIC_ID, "bread", chunks, vectors, info=info)
    assert recording.calls == []  # refused before the query was embedded
    # Without the collection's info the width check still catches it (256 vs 384 dimensions).
    with pytest.raises(search.CollectionMismatchError, match="256 dimensions"):
        search.search(local, catalog.MINILM_STATIC_ID, "bread", chunks, vectors)

    report = search.reembed_collection(store, "notes", local, catalog.MINILM_STATIC_ID)
    assert report.info.name == "notes · all-MiniLM-L6-v2-static (model2vec)"
    assert report.info.model == catalog.MINILM_STATIC_ID and report.info.dims == 256
    new_chunks, new_vectors = store.load(report.info.name)
    assert [c.text for c in new_chunks] == [c.text for c in chunks]
    assert store.info("notes").dims == 384  # the original is untouched
    hit = search.search(
        local, catalog.MINILM_STATIC_ID, "rocket orbit", new_chunks, new_vectors, info=report.info
    )
    assert hit.hits[0].source == "orbit.txt"
    # A second re-embed gets a free name.
    assert search.reembed_name(store, "notes", catalog.MINILM_STATIC_ID).endswith("(2)")


@pytest.mark.slow
def test_add_documents_uses_the_collections_model_and_replaces_a_document(local, store):
    search.build_collection(store, "notes", _docs(), local, catalog.MINILM_ID, chunk_size=12, overlap=2)
    before = dict(store.documents("notes"))
    report = search.add_documents(
        store,
        "notes",
        [
            search.Document("orbit.txt", "Short replacement about satellites."),
            search.Document("new.txt", "Jazz."),
        ],
        local,
    )
    assert report.chunks == 2 and report.documents == 2
    assert report.info.model == catalog.MINILM_ID and report.info.chunk_size == 12
    after = dict(store.documents("notes"))
    assert after == {"kitchen.md": before["kitchen.md"], "orbit.txt": 1, "new.txt": 1}
    assert report.info.n_chunks == before["kitchen.md"] + 2

    elsewhere = Recording(local)
    elsewhere.endpoint_id = "https://api.example/v1"
    with pytest.raises(search.CollectionMismatchError):
        search.add_documents(store, "notes", [search.Document("x.txt", "text")], elsewhere)
    assert elsewhere.calls == []


def test_blank_query_and_empty_collection_are_input_errors():
    with pytest.raises(EmptyInputError, match="Type a query"):
        search.search(LocalModel(), catalog.MINILM_ID, "   ", [], np.zeros((0, 384), np.float32))


def test_query_position_is_the_score_weighted_mean_of_its_hits():
    coords = np.array([[0, 0], [10, 0], [0, 10], [5, 5]], dtype=np.float32)
    np.testing.assert_allclose(search.query_position(coords, [1, 2], [0.75, 0.25]), [7.5, 2.5])
    # Negative similarities weigh nothing.
    np.testing.assert_allclose(search.query_position(coords, [1, 2], [0.5, -0.3]), [10, 0])
    # All non-positive: plain mean.
    np.testing.assert_allclose(search.query_position(coords, [1, 2], [-0.1, -0.2]), [5, 5])
    assert search.query_position(coords, [3], [0.9]).dtype == np.float32
    with pytest.raises(InputError):
        search.query_position(coords, [], [])
