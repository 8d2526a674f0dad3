"""Document collections in a real SQLite file under tmp_path."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest

from embedcore.chunking import Chunk, chunk_text
from embedcore.collections import CollectionStore, default_collections_path
from embedcore.errors import InputError

ENDPOINT = "https://openai.inference.de-txl.ionos.com/v1"
MODEL = "BAAI/bge-m3"


def fixture_vectors(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    # Test fixture numbers, not embeddings: the store only has to keep them exactly.
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


@pytest.fixture
def store(tmp_path):
    with CollectionStore(tmp_path / "collections.sqlite3") as s:
        yield s


def make(store: CollectionStore, name: str = "papers") -> None:
    store.create(name, endpoint_id=ENDPOINT, model=MODEL, chunk_size=50, overlap=10)


DOC = "First paragraph about embeddings.\n\nSecond paragraph about cosine similarity and search. " * 5


def test_persists_across_store_instances(tmp_path):
    path = tmp_path / "c.sqlite3"
    chunks = chunk_text(DOC, size=12, overlap=3, source="notes.md")
    vectors = fixture_vectors(len(chunks))
    with CollectionStore(path) as first:
        make(first)
        assert first.add_chunks("papers", chunks, vectors) == len(chunks)
    with CollectionStore(path) as second:
        loaded, loaded_vectors = second.load("papers")
        assert loaded == chunks
        assert loaded_vectors.dtype == np.float32 and loaded_vectors.flags.writeable
        np.testing.assert_array_equal(loaded_vectors, vectors)
        (info,) = second.list()
        assert (info.name, info.endpoint_id, info.model) == ("papers", ENDPOINT, MODEL)
        assert (info.chunk_size, info.overlap, info.n_documents, info.n_chunks, info.dims) == (
            50,
            10,
            1,
            len(chunks),
            8,
        )
        assert info.created.tzinfo is not None


def test_listing_counts_documents_and_sorts_by_name(store):
    for name in ("zeta", "Alpha", "beta"):
        make(store, name)
    a = [Chunk("one", "a.txt", 0, 0, 3), Chunk("two", "a.txt", 1, 4, 7), Chunk("x", "b.pdf", 0, 0, 1)]
    store.add_chunks("beta", a, fixture_vectors(3))
    infos = store.list()
    assert [i.name for i in infos] == ["Alpha", "beta", "zeta"]
    beta = store.info("beta")
    assert (beta.n_documents, beta.n_chunks, beta.dims) == (2, 3, 8)
    assert (store.info("zeta").n_chunks, store.info("zeta").dims) == (0, None)
    assert store.documents("beta") == [("a.txt", 2), ("b.pdf", 1)]


def test_delete(store):
    make(store)
    store.add_chunks("papers", [Chunk("t", "a", 0, 0, 1)], fixture_vectors(1))
    assert store.exists("papers")
    assert store.delete("papers") is True
    assert not store.exists("papers")
    assert store.list() == []
    assert store.delete("papers") is False
    with pytest.raises(InputError, match="no collection called 'papers'"):
        store.load("papers")
    # the chunks went with it (foreign key cascade), so a new collection of that name is empty
    make(store)
    chunks, vectors = store.load("papers")
    assert chunks == [] and vectors.shape == (0, 0)
    with sqlite3.connect(store.path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM chunks").fetchone() == (0,)


def test_adding_a_document_again_replaces_it(store):
    make(store)
    store.add_chunks(
        "papers", [Chunk("old 1", "a.txt", 0, 0, 5), Chunk("old 2", "a.txt", 1, 6, 11)], fixture_vectors(2)
    )
    store.add_chunks("papers", [Chunk("b", "b.txt", 0, 0, 1)], fixture_vectors(1, seed=1))
    new = [Chunk("new", "a.txt", 0, 0, 3)]
    assert store.add_chunks("papers", new, fixture_vectors(1, seed=2)) == 2
    chunks, vectors = store.load("papers")
    assert [c.text for c in chunks] == ["b", "new"]
    np.testing.assert_array_equal(vectors[1], fixture_vectors(1, seed=2)[0])
    assert store.remove_document("papers", "b.txt") == 1
    assert store.remove_document("papers", "b.txt") == 0
    assert [c.text for c in store.load("papers")[0]] == ["new"]


def test_vectors_must_match_the_collection(store):
    make(store)
    store.add_chunks("papers", [Chunk("a", "a", 0, 0, 1)], fixture_vectors(1, d=8))
    with pytest.raises(InputError, match="8-dimensional"):
        store.add_chunks("papers", [Chunk("b", "b", 0, 0, 1)], fixture_vectors(1, d=4))
    with pytest.raises(InputError, match="2 chunks but 1 vectors"):
        store.add_chunks("papers", [Chunk("b", "b", 0, 0, 1)] * 2, fixture_vectors(1))
    bad = fixture_vectors(1)
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        store.add_chunks("papers", [Chunk("b", "b", 0, 0, 1)], bad)
    with pytest.raises(InputError, match="made with 'BAAI/bge-m3'"):
        store.add_chunks("papers", [Chunk("b", "b", 0, 0, 1)], fixture_vectors(1), model="other/model")
    with pytest.raises(InputError, match="another endpoint"):
        store.add_chunks("papers", [Chunk("b", "b", 0, 0, 1)], fixture_vectors(1), endpoint_id="local:")
    # nothing of the refused calls was written
    assert store.info("papers").n_chunks == 1


def test_add_to_missing_collection(store):
    with pytest.raises(InputError, match="no collection called 'nope'"):
        store.add_chunks("nope", [Chunk("a", "a", 0, 0, 1)], fixture_vectors(1))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 101, "at most 100"),
        ("tab\there", "control characters"),
        (42, "must be text"),
    ],
)
def test_invalid_names(store, name, message):
    with pytest.raises(InputError, match=message):
        store.create(name, endpoint_id=ENDPOINT, model=MODEL, chunk_size=50, overlap=10)
    assert store.exists(name) is False


def test_unicode_names_are_fine_and_normalised(store):
    composed, decomposed = "Études 📚 研究", "E\u0301tudes 📚 研究"
    make(store, composed)
    assert store.exists(decomposed)
    assert store.exists("  " + composed + " ")
    make(store, "x" * 100)
    with pytest.raises(InputError, match="exists already"):
        make(store, decomposed)


def test_invalid_settings(store):
    with pytest.raises(InputError, match="smaller than the chunk size"):
        store.create("a", endpoint_id=ENDPOINT, model=MODEL, chunk_size=10, overlap=10)
    with pytest.raises(InputError, match="model"):
        store.create("a", endpoint_id=ENDPOINT, model="", chunk_size=10, overlap=1)
    assert store.list() == []


def test_endpoint_with_credentials_refused(store):
    with pytest.raises(InputError, match="credentials"):
        store.create(
            "a", endpoint_id="https://user:sk-secret@example.com/v1", model=MODEL, chunk_size=10, overlap=1
        )
    assert b"sk-secret" not in store.path.read_bytes()


def test_default_path_follows_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDCORE_CACHE_DIR", str(tmp_path / "cache"))
    assert default_collections_path() == tmp_path / "cache" / "collections.sqlite3"
    with CollectionStore() as s:
        make(s)
        assert s.path == tmp_path / "cache" / "collections.sqlite3"
    with sqlite3.connect(tmp_path / "cache" / "collections.sqlite3") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_threads_share_one_store(store):
    make(store)
    errors = []

    def add(i: int) -> None:
        try:
            store.add_chunks("papers", [Chunk(f"t{i}", f"doc{i}", 0, 0, 2)], fixture_vectors(1, seed=i))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    info = store.info("papers")
    assert (info.n_documents, info.n_chunks) == (16, 16)
