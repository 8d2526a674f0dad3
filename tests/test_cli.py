"""The batch command line, run for real: the bundled model, and an OpenAI-style server on 127.0.0.1."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embedcore.__main__ import main
from embedcore.providers import catalog
from tests.fake_openai import FakeOpenAI, fixture_vectors

REPO = Path(__file__).resolve().parent.parent
D = 8
API_MODEL = "test/embed-8"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """A private cache dir and no tokens from the developer's environment."""
    monkeypatch.setenv("EMBEDCORE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("IONOS_API_TOKEN", "EMBEDCORE_API_KEY", "EMBEDCORE_BASE_URL", "EMBEDCORE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


ROWS = [
    {"id": "a1", "text": "AI Model Hub", "label": "tech"},
    {"id": "b2", "text": "Michael Jackson", "label": "music"},
    {"id": "c3", "text": "", "label": "blank"},
    {"id": "d4", "text": "best selling music artists", "label": "music"},
    {"id": "e5", "text": "Michael Jackson", "label": "music"},
]
TEXTS = ["AI Model Hub", "Michael Jackson", "best selling music artists", "Michael Jackson"]


# --- the bundled model ----------------------------------------------------------------------


@pytest.mark.slow
def test_local_csv_to_parquet_then_npy_from_the_cache(local_model, tmp_path, capsys):
    source = write_csv(tmp_path / "texts.csv", ROWS)
    out = tmp_path / "vectors.parquet"
    argv = ["embed", str(source), "--id-column", "id", "--label-column", "label", "-q"]
    assert main([*argv, "--output", str(out)]) == 0
    captured = capsys.readouterr()
    assert "0 cached, 3 fetched" in captured.out
    assert "skipped 1 row(s) with an empty text" in captured.err

    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["text", "label", "id", "vector"]
    assert frame["text"].tolist() == TEXTS
    assert frame["id"].tolist() == ["a1", "b2", "d4", "e5"]
    assert frame["label"].tolist() == ["tech", "music", "music", "music"]
    vectors = np.vstack(frame["vector"].to_numpy())
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, local_model.embed(TEXTS, catalog.MINILM_ID).vectors, atol=1e-6)

    # Same texts into .npy: everything comes from the cache, nothing is computed again.
    npy = tmp_path / "vectors.npy"
    assert main(["embed", str(source), "-q", "--output", str(npy)]) == 0
    assert "3 cached, 0 fetched" in capsys.readouterr().out
    np.testing.assert_array_equal(np.load(npy), vectors)


@pytest.mark.slow
def test_local_rerun_on_a_longer_file_embeds_only_the_new_texts(local_model, tmp_path, capsys):
    lines = [f"Line {i}: a sentence about {topic}." for i, topic in enumerate(["rain", "jazz", "bonds"] * 4)]
    (tmp_path / "part.txt").write_text("\n".join(lines[:5]) + "\n", encoding="utf-8")
    (tmp_path / "all.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert (
        main(["embed", str(tmp_path / "part.txt"), "-q", "--batch-size", "2", "-o", str(tmp_path / "p.npy")])
        == 0
    )
    assert "0 cached, 5 fetched" in capsys.readouterr().out
    assert (
        main(["embed", str(tmp_path / "all.txt"), "-q", "--batch-size", "2", "-o", str(tmp_path / "a.npy")])
        == 0
    )
    assert "5 cached, 7 fetched" in capsys.readouterr().out
    assert np.load(tmp_path / "a.npy").shape == (12, 384)


def test_models_lists_the_local_models(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert catalog.MINILM_ID in out and catalog.MINILM_STATIC_ID in out and "384" in out


def test_unknown_local_model_is_a_one_line_error(tmp_path, capsys):
    source = write_csv(tmp_path / "t.csv", ROWS)
    assert main(["embed", str(source), "--model", "nope", "-q", "-o", str(tmp_path / "o.npy")]) == 1
    err = capsys.readouterr().err
    assert "error: The local provider has no model 'nope'" in err and catalog.MINILM_ID in err
    assert not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--output", "out.csv"], "must end in .parquet, .npz or .npy"),
        (["--output", "missing-dir/out.npy"], "folder for --output does not exist"),
        (["--output", "o.npy", "--text-column", "body"], "no text column 'body'"),
        (["--output", "o.npy", "--id-column", "key"], "no column 'key'"),
        (["--output", "o.npy", "--provider", "ionos", "--model", "BAAI/bge-m3"], "IONOS_API_TOKEN"),
        (["--output", "o.npy", "--provider", "ionos"], "--model is required"),
        (["--output", "o.npy", "--provider", "custom", "--model", "m"], "needs the endpoint's base URL"),
    ],
)
def test_usage_problems_are_one_line_errors(tmp_path, monkeypatch, capsys, extra, message):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "t.csv", ROWS)
    assert main(["embed", "t.csv", "-q", *extra]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]


def test_missing_input_file(tmp_path, capsys):
    assert main(["embed", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.npy")]) == 1
    assert "error: Cannot read" in capsys.readouterr().err


def test_prepare_says_what_is_missing_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    # sys.modules[name] = None is how Python itself marks a package as not importable.
    monkeypatch.setitem(sys.modules, "model2vec", None)
    assert main(["prepare", "--models-dir", str(tmp_path / "models")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "model2vec" in err and "requirements-local.txt" in err
    assert not (tmp_path / "models").exists()


def test_prepare_finds_a_prepared_model_without_building(tmp_path, monkeypatch, capsys):
    from embedcore.providers.local import MODELS_DIR_ENV, STATIC_BUILD_NAME

    built = tmp_path / "prepared" / STATIC_BUILD_NAME
    built.mkdir(parents=True)
    (built / "model.safetensors").write_bytes(b"")  # the two files a finished build has
    (built / "config.json").write_text("{}")
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "prepared"))
    monkeypatch.setitem(sys.modules, "model2vec", None)  # proof that nothing is built
    assert main(["prepare"]) == 0
    assert f"already prepared: {built}" in capsys.readouterr().err


@pytest.mark.slow
def test_prepare_maps_compiles_umaps_layout_code_in_this_process(tmp_path, monkeypatch, capsys):
    from embedcore.analysis import projection
    from embedcore.providers.local import MODELS_DIR_ENV, STATIC_BUILD_NAME

    built = tmp_path / "prepared" / STATIC_BUILD_NAME
    built.mkdir(parents=True)
    (built / "model.safetensors").write_bytes(b"")
    (built / "config.json").write_text("{}")
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "prepared"))
    assert main(["prepare", "--maps"]) == 0
    assert projection.is_warm() and projection.warm_up_error() is None
    assert "UMAP's compiled code is cached" in capsys.readouterr().err


def test_help_says_tokens_come_from_the_environment_only(capsys):
    with pytest.raises(SystemExit) as info:
        main(["embed", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "IONOS_API_TOKEN" in text and "environment" in text
    options = [word for word in text.split() if word.startswith("--")]
    assert not [o for o in options if "token" in o.lower() or "key" in o.lower()]


# --- an OpenAI-compatible server on 127.0.0.1 ------------------------------------------------


#: The one model of the test server, and the size of its vectors.
MODELS = {API_MODEL: D}


def test_custom_endpoint_resumes_after_a_failed_run(fake_openai, tmp_path, capsys):
    texts = [f"text number {i}" for i in range(6)]
    (tmp_path / "t.jsonl").write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8"
    )
    out = tmp_path / "v.parquet"
    argv = ["embed", str(tmp_path / "t.jsonl"), "--provider", "custom", "--model", API_MODEL, "-q"]
    argv += ["--batch-size", "2", "-o", str(out)]

    broken = fake_openai(models=MODELS)
    broken.fail_after = 1  # the first batch gets through, the rest are refused
    base_url = broken.url
    assert main([*argv, "--base-url", base_url]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "Request refused by the test server" in err[-1]
    assert not out.exists()
    assert len(broken.served_inputs) == 1
    first_batch = broken.served_inputs[0]

    broken.server.clear()
    healthy = FakeOpenAI(broken.server, models=MODELS)  # the same URL, answering again
    assert main([*argv, "--base-url", base_url]) == 0
    assert "2 cached, 4 fetched" in capsys.readouterr().out
    resent = [t for batch in healthy.inputs for t in batch]
    assert sorted(resent) == sorted(set(texts) - set(first_batch))  # only what was missing

    frame = pd.read_parquet(out)
    assert frame["text"].tolist() == texts
    np.testing.assert_allclose(np.vstack(frame["vector"].to_numpy()), fixture_vectors(texts, D))


def test_custom_endpoint_token_comes_from_its_own_variable(fake_openai, tmp_path, monkeypatch):
    api = fake_openai(models=MODELS)
    base_url = api.url
    (tmp_path / "t.txt").write_text("one\ntwo\n", encoding="utf-8")
    argv = ["embed", str(tmp_path / "t.txt"), "--provider", "custom", "--base-url", base_url]
    argv += ["--model", API_MODEL, "-q", "--no-cache", "-o", str(tmp_path / "o.npy")]

    monkeypatch.setenv("IONOS_API_TOKEN", "ionos-secret")  # must never reach a custom server
    assert main(argv) == 0
    monkeypatch.setenv("EMBEDCORE_API_KEY", "custom-secret")
    assert main(argv) == 0
    assert [auth for path, auth in api.auth if path == "/v1/embeddings"] == [None, "Bearer custom-secret"]


def test_models_lists_a_custom_endpoint(fake_openai, capsys):
    base_url = fake_openai(models=MODELS).url
    assert main(["models", "--provider", "custom", "--base-url", base_url]) == 0
    assert API_MODEL in capsys.readouterr().out


def test_401_is_a_clean_error_and_non_zero_exit_in_a_real_process(fake_openai, tmp_path):
    base_url = fake_openai(models=MODELS, token="the-right-token").url
    (tmp_path / "t.txt").write_text("one\ntwo\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "EMBEDCORE_API_KEY": "wrong-token"}
    command = [sys.executable, "-m", "embedcore", "embed", str(tmp_path / "t.txt"), "--provider", "custom"]
    command += ["--base-url", base_url, "--model", API_MODEL, "-q", "-o", str(tmp_path / "o.npy")]
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "401" in last
    assert "wrong-token" not in proc.stderr + proc.stdout
    assert not (tmp_path / "o.npy").exists()


# --- migrate: the local SQLite files into the team's PostgreSQL ------------------------------------


def _local_files(folder: Path) -> tuple[np.ndarray, list]:
    """A cache of 1,200 vectors (two models) and two collections, in SQLite files under ``folder``."""
    from embedcore.io.chunking import Chunk
    from embedcore.stores.cache import EmbeddingCache
    from embedcore.stores.collections import CollectionStore

    rng = np.random.default_rng(7)  # test fixture numbers: the copy only has to keep them exactly
    vectors = rng.standard_normal((1200, 16)).astype(np.float32)
    with EmbeddingCache(folder / "embeddings.sqlite3") as cache:
        cache.put_many("local:", "m1", [f"text {i}" for i in range(1000)], vectors[:1000])
        cache.put_many("https://api.example/v1", "m2", [f"text {i}" for i in range(200)], vectors[1000:])
    chunks = [Chunk(f"chunk {i}", f"doc{i % 3}.txt", i // 3, 0, 7) for i in range(30)]
    with CollectionStore(folder / "collections.sqlite3") as store:
        for name in ("Manuals", "Notes 📚"):
            store.create(name, endpoint_id="local:", model="m1", chunk_size=50, overlap=5)
            store.add_chunks(name, chunks, vectors[:30])
        store.remove_document("Notes 📚", "doc1.txt")  # a gap in the order, kept by the copy
    return vectors, chunks


def test_migrate_copies_cache_and_collections_once(tmp_path, monkeypatch, capsys, database_url):
    from embedcore.stores.cache import PostgresEmbeddingCache
    from embedcore.stores.collections import CollectionStore, PostgresCollectionStore

    folder = tmp_path / "laptop-cache"
    folder.mkdir()
    vectors, _ = _local_files(folder)
    monkeypatch.setenv("EMBEDCORE_DATABASE_URL", database_url)

    assert main(["migrate", "--from", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Vectors: 1,200 copied, 0 already there." in out
    assert "Collections: 2 copied, 0 already there." in out
    with PostgresEmbeddingCache(database_url) as cache:
        assert cache.count("local:", "m1") == 1000 and cache.count("https://api.example/v1", "m2") == 200
        got = cache.get_many("local:", "m1", ["text 999"])
        np.testing.assert_array_equal(got["text 999"], vectors[999])
    with (
        CollectionStore(folder / "collections.sqlite3") as local,
        PostgresCollectionStore(database_url) as team,
    ):
        assert [i.name for i in team.list()] == ["Manuals", "Notes 📚"]
        for name in ("Manuals", "Notes 📚"):
            mine, theirs = local.info(name), team.info(name)
            assert (theirs.created, theirs.n_chunks, theirs.n_documents, theirs.dims) == (
                mine.created,
                mine.n_chunks,
                mine.n_documents,
                mine.dims,
            )
            local_chunks, local_vectors = local.load(name)
            team_chunks, team_vectors = team.load(name)
            assert team_chunks == local_chunks
            np.testing.assert_array_equal(team_vectors, local_vectors)

    # Again: nothing is copied twice.
    assert main(["migrate", "--from", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Vectors: 0 copied, 1,200 already there." in out
    assert "Collections: 0 copied, 2 already there." in out
    with PostgresCollectionStore(database_url) as team:
        assert team.info("Manuals").n_chunks == 30
        with team.database.connection() as conn:
            assert conn.execute("SELECT COUNT(*) FROM embedcore_embeddings").fetchone() == (1200,)

    # A local collection that differs from the team's one of the same name is not forced over it.
    with CollectionStore(folder / "collections.sqlite3") as local:
        local.remove_document("Manuals", "doc0.txt")
    assert main(["migrate", "--from", str(folder)]) == 0
    captured = capsys.readouterr()
    assert "a different collection called 'Manuals'" in captured.err
    with PostgresCollectionStore(database_url) as team:
        assert team.info("Manuals").n_chunks == 30


def test_migrate_never_takes_a_password_on_the_command_line(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "c"
    folder.mkdir()
    _local_files(folder)
    monkeypatch.delenv("EMBEDCORE_DATABASE_URL", raising=False)
    assert (
        main(["migrate", "--from", str(folder), "--to", "postgresql://bob:hunter2-secret@db.example/team"])
        == 1
    )
    err = capsys.readouterr().err
    assert "must not contain the password" in err and "PGPASSWORD" in err
    assert "hunter2-secret" not in err
    assert main(["migrate", "--from", str(folder)]) == 1
    assert "Set EMBEDCORE_DATABASE_URL" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("EMBEDCORE_DATABASE_URL", "postgresql://bob:hunter2-secret@127.0.0.1:9/team")
    assert main(["migrate", "--from", str(tmp_path / "empty")]) == 1
    assert "nothing to copy" in capsys.readouterr().err


def test_migrate_to_an_unreachable_database_names_the_setting(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "c"
    folder.mkdir()
    _local_files(folder)
    monkeypatch.setenv("EMBEDCORE_DATABASE_URL", "postgresql://bob:hunter2-secret@127.0.0.1:9/team")
    assert main(["migrate", "--from", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "EMBEDCORE_DATABASE_URL" in err and "postgresql://bob:***@127.0.0.1:9/team" in err
    assert "hunter2-secret" not in err


@pytest.mark.parametrize("suffix", [".parquet", ".npz"])
def test_outputs_open_as_texts_with_vectors_and_model(fake_openai, tmp_path, capsys, suffix):
    """What the explorer opens without embedding again: texts, labels, ids, vectors, the model."""
    from embedcore.io import read_vectors

    source = write_csv(tmp_path / "texts.csv", ROWS)
    out = tmp_path / f"vectors{suffix}"
    base_url = fake_openai(models=MODELS).url
    argv = ["embed", str(source), "--provider", "custom", "--base-url", base_url, "--model", API_MODEL]
    argv += ["--id-column", "id", "--label-column", "label", "-q", "-o", str(out)]
    assert main(argv) == 0
    capsys.readouterr()

    table = read_vectors(out)
    assert table.texts == TEXTS and table.labels == ["tech", "music", "music", "music"]
    assert table.extra["id"] == ["a1", "b2", "d4", "e5"]
    assert table.model == API_MODEL and table.source == out.name
    np.testing.assert_allclose(table.vectors, fixture_vectors(TEXTS, D))
    if suffix == ".npz":  # plain numpy reads it back too, without unpickling anything
        with np.load(out, allow_pickle=False) as arrays:
            assert arrays["text"].tolist() == TEXTS and arrays["vectors"].shape == (4, D)
