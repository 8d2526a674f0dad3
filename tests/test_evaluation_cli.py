"""``python -m embedcore evaluate`` and the engine's run, for real: the bundled model, and an
OpenAI-style server on 127.0.0.1 (tests/fake_openai.py) for an API model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embedcore.providers import catalog
from embedcore.__main__ import main
from embedcore.stores.cache import EmbeddingCache
from embedcore.errors import EvaluationCancelled
from embedcore.evaluation import estimate_cost, evaluate, evaluate_vectors, load_builtin
from embedcore.providers.registry import make_provider
from tests.fake_openai import fixture_vectors

REPO = Path(__file__).resolve().parent.parent
API_MODEL, D = "test/embed-8", 8
MODELS = {API_MODEL: D, "test/embed-12": 12}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """A private cache dir, the bundled model offline, and no tokens from the developer's environment."""
    monkeypatch.setenv("EMBEDCORE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("IONOS_API_TOKEN", "EMBEDCORE_API_KEY", "EMBEDCORE_BASE_URL", "EMBEDCORE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _api_argv(url: str, *models: str) -> list[str]:
    argv = ["--provider", "custom", "--base-url", url, "-q", "--bootstrap", "200"]
    for model in models:
        argv += ["--model", model]
    return argv


# --- the bundled model, in a real process ---------------------------------------------------


@pytest.mark.slow
def test_cli_evaluates_the_builtin_sts_set_offline_and_resumes_from_the_cache(tmp_path, local_model):
    out = tmp_path / "results.json"
    command = [sys.executable, "-m", "embedcore", "evaluate", "sts", "--builtin", "-q", "-o", str(out)]
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "EMBEDCORE_CACHE_DIR": str(tmp_path / "cache")}
    env["EMBEDCORE_SAMPLE_SEED"] = "0"
    first = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    report = json.loads(out.read_text())
    (result,) = report["results"]
    assert set(result) >= {"task", "model", "metrics", "ci", "n_items", "cost"}
    assert result["task"] == "sts" and result["model"] == catalog.MINILM_ID and result["n_items"] == 160
    # The same vectors scored in this process give the same numbers as the command wrote.
    task = load_builtin("sts")
    again = evaluate_vectors(
        task, {"m": local_model.embed(task.texts(), catalog.MINILM_ID).vectors}, n_boot=0
    )
    assert abs(result["metrics"]["spearman"] - again.results[0].metrics["spearman"]) < 1e-6
    assert 0.8 < result["metrics"]["spearman"] < 0.99  # MiniLM on our pairs: about 0.92
    low, high = result["ci"]["spearman"]
    assert low < result["metrics"]["spearman"] < high
    assert result["cost"]["embedded"] == len(task.texts()) and result["cost"]["cached"] == 0
    assert "spearman" in first.stdout and "95% CI" in first.stdout

    second = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    cost = json.loads(out.read_text())["results"][0]["cost"]
    assert cost["embedded"] == 0 and cost["cached"] == len(task.texts())


# --- an API model on a real HTTP server -----------------------------------------------------


def test_cli_compares_two_api_models_on_builtin_retrieval(fake_openai, tmp_path, capsys):
    api = fake_openai(models=MODELS)
    out, items = tmp_path / "r.json", tmp_path / "items.csv"
    argv = ["evaluate", "retrieval", "--builtin", *_api_argv(api.url, API_MODEL, "test/embed-12")]
    assert main([*argv, "-o", str(out), "--items", str(items)]) == 0
    report = json.loads(out.read_text())
    task = load_builtin("retrieval")
    texts = task.texts()
    expected = evaluate_vectors(
        task, {API_MODEL: fixture_vectors(texts, 8), "test/embed-12": fixture_vectors(texts, 12)}, n_boot=0
    )
    for got, want in zip(report["results"], expected.results, strict=True):
        assert got["model"] == want.model
        for name, value in want.metrics.items():
            assert abs(got["metrics"][name] - value) < 1e-9
    # Cost: what the server saw, request for request and token for token.
    cost = report["results"][0]["cost"]
    served = [r for r in api.requests if r["path"] == "/v1/embeddings"]
    assert cost["embedded"] + report["results"][1]["cost"]["embedded"] == 2 * len(texts)
    assert cost["requests"] + report["results"][1]["cost"]["requests"] == len(served)
    assert cost["tokens"] + report["results"][1]["cost"]["tokens"] == api.prompt_tokens
    assert len(report["comparisons"]) == 6  # one per metric for the one pair of models
    frame = pd.read_csv(items)
    assert len(frame) == 2 * task.n_items and set(frame["model"]) == {API_MODEL, "test/embed-12"}

    # An estimate afterwards: everything is cached, nothing to send, nothing sent.
    before = len(api.requests)
    assert main(["evaluate", "retrieval", "--builtin", *_api_argv(api.url, API_MODEL), "--estimate"]) == 0
    assert f"0 texts to embed ({len(texts)} cached)" in capsys.readouterr().err
    assert len(api.requests) == before


def test_cli_estimate_before_anything_is_sent(fake_openai, capsys):
    api = fake_openai(models=MODELS)
    argv = ["evaluate", "classification", "--builtin", *_api_argv(api.url, API_MODEL), "--batch-size", "16"]
    assert main([*argv, "--estimate"]) == 0
    err = capsys.readouterr().err
    assert "100 texts to embed (0 cached)" in err and "7 request(s)" in err
    assert [r for r in api.requests if r["path"] == "/v1/embeddings"] == []


def test_a_failed_api_run_keeps_its_batches_and_the_rerun_sends_only_the_rest(fake_openai, tmp_path, capsys):
    api = fake_openai(models=MODELS)
    api.fail_after = 2
    argv = ["evaluate", "bitext", "--builtin", *_api_argv(api.url, API_MODEL), "--batch-size", "20"]
    assert main([*argv, "-o", str(tmp_path / "r.json")]) == 1
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
    first = {t for batch in api.served_inputs for t in batch}
    assert len(first) == 40

    api.fail_after = None
    api.requests.clear()
    assert main([*argv, "-o", str(tmp_path / "r.json")]) == 0
    resent = [t for batch in api.inputs for t in batch]
    assert not first & set(resent) and len(resent) == 140 - 40
    cost = json.loads((tmp_path / "r.json").read_text())["results"][0]["cost"]
    assert cost["cached"] == 40 and cost["embedded"] == 100


def test_stop_mid_run_raises_cancelled_and_loses_nothing(fake_openai, tmp_path):
    api = fake_openai(models=MODELS)
    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    provider = make_provider(
        "custom", base_url=api.url, api_key="", cache=cache, batch_size=10, max_concurrency=1
    )
    task = load_builtin("classification")
    seen = []

    def progress(p):
        seen.append(p)

    with pytest.raises(EvaluationCancelled, match="running the evaluation again continues"):
        evaluate(task, [(provider, API_MODEL)], progress=progress, should_stop=lambda: len(seen) >= 3)
    assert seen[-1].stage == "embedding" and 0 < seen[-1].fraction < 0.9
    # Asked after each batch: stopped after the third (the cache lookup made the first report).
    assert estimate_cost(task, provider, API_MODEL).cached == 30
    api.requests.clear()
    report = evaluate(task, [(provider, API_MODEL)], progress=progress, n_boot=100)
    assert report.results[0].cost["cached"] == 30 and report.results[0].cost["embedded"] == 70
    assert seen[-1].stage == "scoring" and seen[-1].fraction == 1.0


def test_mixed_local_and_api_models_with_names(fake_openai, tmp_path):
    """Any mix of providers: here the static model is replaced by a second endpoint, same code path."""
    one, two = fake_openai(models=MODELS), fake_openai(models=MODELS)
    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    a = make_provider("custom", base_url=one.url, api_key="", cache=cache)
    b = make_provider("custom", base_url=two.url, api_key="", cache=cache)
    report = evaluate(
        load_builtin("sts"), [(a, API_MODEL, "server one"), (b, API_MODEL, "server two")], n_boot=50
    )
    assert [r.model for r in report.results] == ["server one", "server two"]
    assert report.results[0].metrics == report.results[1].metrics  # same fixture vectors
    assert report.verdicts() == [report.comparisons[0].sentence()]
    assert "no detectable difference" in report.verdicts()[0]


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        (
            {"p.csv": "text_a,text_b,rating\na,b,1\n"},
            ["sts", "p.csv"],
            "p.csv, line 1, column 'score': there is no column",
        ),
        (
            {"p.csv": "text_a,text_b,score\na,b,1\nc,d,x\ne,f,2\n"},
            ["sts", "p.csv"],
            "p.csv, line 3, column 'score': 'x' is not a number",
        ),
        ({"p.csv": "text,label\na,x\nb,x\n"}, ["classification", "p.csv"], "has 1 label(s)"),
        (
            {"p.csv": "query,relevant\nq,\n"},
            ["retrieval", "p.csv"],
            "p.csv, line 2, column 'relevant': is empty",
        ),
        ({}, ["sts"], "Give the labelled file for sts, or --builtin"),
        ({}, ["retrieval", "--corpus", "c.jsonl"], "needs all three of --corpus, --queries and --qrels"),
        ({}, ["sts", "missing.csv"], "Cannot read"),
    ],
)
def test_cli_bad_input_is_one_line_naming_file_line_and_column(
    tmp_path, capsys, monkeypatch, files, args, message
):
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert main(["evaluate", *args, "-q", "-o", str(tmp_path / "r.json")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "r.json").exists()


def test_cli_reads_a_beir_folder(fake_openai, tmp_path):
    api = fake_openai(models=MODELS)
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": f"d{i}", "title": "T", "text": f"passage {i}"}) + "\n" for i in range(30))
    )
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": f"q{i}", "text": f"question {i}"}) + "\n" for i in range(6))
    )
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i * 3}\t1\n" for i in range(5))
    )
    out = tmp_path / "r.json"
    assert main(["evaluate", "retrieval", str(folder), *_api_argv(api.url, API_MODEL), "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["results"][0]["n_items"] == 5  # q5 has no relevant passage: left out, and said so
    assert "'q5' (line 6)" in report["warnings"][0]
    assert sorted(api.embedded) == sorted(
        {f"T passage {i}" for i in range(30)} | {f"question {i}" for i in range(5)}
    )
    assert np.isfinite(report["results"][0]["metrics"]["ndcg@10"])
