"""Document collections, in a real SQLite file under tmp_path and in a real PostgreSQL + pgvector.

Every test taking ``store`` (or ``location``) runs once per store (fixture ``store_kind`` in
tests/conftest.py); tests about the SQLite file itself open a :class:`CollectionStore` directly.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from embedcore.analysis.similarity import top_k
from embedcore.errors import InputError
from embedcore.io.chunking import Chunk, chunk_text
from embedcore.stores.collections import CollectionStore, PostgresCollectionStore, default_collections_path

ENDPOINT = "https://openai.inference.de-txl.ionos.com/v1"
MODEL = "BAAI/bge-m3"


def fixture_vectors(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    # Test fixture numbers, not embeddings: the store only has to keep them exactly.
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def open_store(location: str, **options):
    """The store at a location: a PostgreSQL URL or a SQLite file path (also used by child processes)."""
    if location.startswith("postgresql://"):
        return PostgresCollectionStore(location, **options)
    return CollectionStore(location)


@pytest.fixture
def location(store_kind: str, tmp_path, request) -> str:
    if store_kind == "postgres":
        return request.getfixturevalue("database_url")
    return str(tmp_path / "collections.sqlite3")


@pytest.fixture
def store(location):
    with open_store(location) as s:
        yield s


def raw_rows(store, table: str) -> list[tuple]:
    """Every row of one of the store's tables ("collections" or "chunks"), read around the store."""
    if isinstance(store, CollectionStore):
        with sqlite3.connect(store.path) as raw:
            return raw.execute(f"SELECT * FROM {table}").fetchall()
    with store.database.connection() as conn:
        return conn.execute(f"SELECT * FROM embedcore_{table}").fetchall()


def make(store: CollectionStore, name: str = "papers") -> None:
    store.create(name, endpoint_id=ENDPOINT, model=MODEL, chunk_size=50, overlap=10)


DOC = "First paragraph about embeddings.\n\nSecond paragraph about cosine similarity and search. " * 5


def test_persists_across_store_instances(location):
    chunks = chunk_text(DOC, size=12, overlap=3, source="notes.md")
    vectors = fixture_vectors(len(chunks))
    with open_store(location) as first:
        make(first)
        assert first.add_chunks("papers", chunks, vectors) == len(chunks)
    with open_store(location) as second:
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
    assert raw_rows(store, "chunks") == []


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
    assert raw_rows(store, "collections") == []
    if isinstance(store, CollectionStore):
        assert b"sk-secret" not in Path(store.path).read_bytes()


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


# --- search (numpy in this process for SQLite, pgvector inside PostgreSQL) ---------------------------


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_search_ranks_like_exact_cosine_in_load_order(store, location):
    make(store)
    # Two documents, the first one replaced afterwards: rows in load() order are not seq numbers.
    a = [Chunk(f"a{i}", "a.txt", i, 0, 2) for i in range(30)]
    b = [Chunk(f"b{i}", "b.txt", i, 0, 2) for i in range(40)]
    store.add_chunks("papers", a, fixture_vectors(30, d=16, seed=1))
    store.add_chunks("papers", b, fixture_vectors(40, d=16, seed=2))
    store.add_chunks("papers", a[:25], fixture_vectors(25, d=16, seed=3))
    chunks, vectors = store.load("papers")
    query = fixture_vectors(1, d=16, seed=9)[0]
    rows, scores, hits = store.search("papers", query, 7)
    want_rows, want_scores = top_k(query[None, :], vectors, 7)
    np.testing.assert_array_equal(rows, want_rows[0])
    np.testing.assert_allclose(scores, want_scores[0], atol=1e-5)
    assert hits == [chunks[i] for i in want_rows[0]]
    assert rows.dtype == np.int64 and scores.dtype == np.float32
    # The same rows from a store that has not loaded the collection, and after another store
    # changed it (the positions then come from the database, not from the remembered order).
    with open_store(location) as fresh:
        np.testing.assert_array_equal(fresh.search("papers", query, 7)[0], want_rows[0])
        fresh.remove_document("papers", "a.txt")
    chunks, vectors = chunks[:40], vectors[:40]  # b.txt first: a.txt was re-added after it
    rows, _, hits = store.search("papers", query, 7)
    want_rows, _ = top_k(query[None, :], vectors, 7)
    np.testing.assert_array_equal(rows, want_rows[0])
    assert hits == [chunks[i] for i in want_rows[0]]
    # More than there are, or an empty collection: what there is.
    assert len(store.search("papers", query, 500)[0]) == 40
    make(store, "empty")
    rows, scores, hits = store.search("empty", query, 3)
    assert (rows.shape, scores.shape, hits) == ((0,), (0,), [])


def test_search_refuses_bad_queries(store):
    make(store)
    store.add_chunks("papers", [Chunk("a", "a", 0, 0, 1)], fixture_vectors(1, d=8))
    with pytest.raises(InputError, match="4 dimensions and the collection's vectors 8"):
        store.search("papers", np.ones(4, np.float32), 3)
    with pytest.raises(InputError, match="k must be at least 1"):
        store.search("papers", np.ones(8, np.float32), 0)
    with pytest.raises(InputError, match="NaN"):
        store.search("papers", np.full(8, np.nan, np.float32), 3)
    with pytest.raises(InputError, match="no collection called 'nope'"):
        store.search("nope", np.ones(8, np.float32), 3)


def test_version_grows_with_every_change(store):
    make(store)
    assert store.info("papers").version == 0
    store.add_chunks("papers", [Chunk("a", "a.txt", 0, 0, 1)], fixture_vectors(1))
    # Same counts after replacing a document: only the version tells a loaded copy is stale.
    before = store.info("papers")
    store.add_chunks("papers", [Chunk("new", "a.txt", 0, 0, 3)], fixture_vectors(1, seed=5))
    after = store.info("papers")
    assert (before.n_chunks, before.n_documents) == (after.n_chunks, after.n_documents)
    assert after.version > before.version
    assert store.remove_document("papers", "missing.txt") == 0
    assert store.info("papers").version == after.version
    store.remove_document("papers", "a.txt")
    assert store.info("papers").version > after.version


def test_nul_characters_are_refused_by_both_stores(store):
    make(store)
    with pytest.raises(InputError, match="NUL"):
        store.add_chunks("papers", [Chunk("a\x00b", "a.txt", 0, 0, 3)], fixture_vectors(1))
    assert store.info("papers").n_chunks == 0


def test_old_sqlite_files_gain_the_version_column(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as raw:  # the schema before `version` existed
        raw.execute(
            "CREATE TABLE collections (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, endpoint_id TEXT "
            "NOT NULL, model TEXT NOT NULL, chunk_size INTEGER NOT NULL, overlap INTEGER NOT NULL, dims INTEGER, "
            "created REAL NOT NULL)"
        )
        raw.execute("INSERT INTO collections VALUES (1, 'old', 'local:', 'm', 50, 10, NULL, 0)")
    with CollectionStore(path) as store:
        assert store.info("old").version == 0
        store.add_chunks("old", [Chunk("a", "a", 0, 0, 1)], fixture_vectors(1))
        assert store.info("old").version == 1


def _process_adder(location: str, k: int) -> None:
    with open_store(location) as store:
        for j in range(10):
            store.add_chunks(
                "papers", [Chunk(f"p{k}-{j}", f"doc{k}-{j}", 0, 0, 2)], fixture_vectors(1, seed=100 * k + j)
            )


def test_processes_writing_at_once_lose_nothing(location):
    with open_store(location) as store:
        make(store)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from test_collections import _process_adder; "
        "_process_adder(sys.argv[2], int(sys.argv[3]))"
    )
    here = str(Path(__file__).parent)
    children = [subprocess.Popen([sys.executable, "-c", code, here, location, str(k)]) for k in range(3)]
    assert [child.wait(timeout=120) for child in children] == [0, 0, 0]
    with open_store(location) as store:
        info = store.info("papers")
        assert (info.n_documents, info.n_chunks, info.version) == (30, 30, 30)
        chunks, vectors = store.load("papers")
        by_text = dict(zip((c.text for c in chunks), vectors, strict=True))
        np.testing.assert_array_equal(by_text["p2-9"], fixture_vectors(1, seed=209)[0])


# --- PostgreSQL only: the HNSW index ---------------------------------------------------------------


def test_index_is_built_at_the_threshold_and_used(database_url):
    N = 4000  # enough rows that PostgreSQL's planner prefers the index to sorting them all
    rng = np.random.default_rng(0)
    # Clustered data (as real embeddings are), so the approximate search has a right answer to find.
    centres = _unit(rng.standard_normal((12, 32)))
    vectors = _unit(centres[rng.integers(0, 12, N)] + 0.15 * rng.standard_normal((N, 32))).astype(np.float32)
    chunks = [Chunk(f"t{i}", f"doc{i // 50}", i % 50, 0, 2) for i in range(N)]
    with PostgresCollectionStore(database_url, index_threshold=3000) as store:
        make(store)
        store.add_chunks("papers", chunks[:2000], vectors[:2000])
        assert not store.has_index("papers")
        query = _unit(vectors[:1] + 0.05)[0]
        exact_before = store.search("papers", query, 10)
        want = top_k(query[None, :], vectors[:2000], 10)[0][0]
        np.testing.assert_array_equal(exact_before[0], want)
        store.add_chunks("papers", chunks[2000:], vectors[2000:])
        assert store.has_index("papers")
        with store.database.connection() as conn:
            plan = " ".join(
                r[0]
                for r in conn.execute(
                    "EXPLAIN SELECT seq FROM embedcore_chunks WHERE collection_id = 1 "
                    "ORDER BY vector::vector(32) <=> %s::vector(32) LIMIT 10",
                    (query,),
                ).fetchall()
            )
        assert "embedcore_chunks_hnsw_1" in plan
        exact = top_k(query[None, :], vectors, 10)[0][0]
        rows, scores, _ = store.search("papers", query, 10)
        assert len(set(rows.tolist()) & set(exact.tolist())) >= 9  # recall@10 of the index
        assert np.all(np.diff(scores) <= 1e-6)
        # Deleting the collection drops its index too.
        store.delete("papers")
        with store.database.connection() as conn:
            assert conn.execute("SELECT to_regclass('embedcore_chunks_hnsw_1')").fetchone() == (None,)


def test_wide_vectors_are_indexed_as_halfvec_and_widest_searched_exactly(database_url):
    rng = np.random.default_rng(1)
    with PostgresCollectionStore(database_url, index_threshold=5) as store:
        for name, dims in (("wide", 3072), ("widest", 4500)):
            make(store, name)
            vectors = rng.standard_normal((8, dims)).astype(np.float32)
            store.add_chunks(name, [Chunk(f"t{i}", "d", i, 0, 1) for i in range(8)], vectors)
            rows, scores, _ = store.search(name, vectors[3], 3)
            assert rows[0] == 3 and scores[0] == pytest.approx(1.0, abs=1e-3)
        assert store.has_index("wide") and not store.has_index("widest")
