"""The benchmark code works: its fake API enforces its limit, and a benchmark function runs.

No timing assertions here — speed is checked by ``python -m bench``, which compares
against a peer measured in the same run.
"""

from __future__ import annotations

import base64
import concurrent.futures
import math
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import requests

from bench import api
from bench.__main__ import table
from bench.common import Row, cpu_seconds, process_name, tree_pids
from bench.fake_api import FakeEmbeddingsServer

TEXTS = [
    "The cat sat on the mat.",
    "Stock markets fell sharply on Monday.",
    "A recipe for sourdough bread needs time.",
    "The goalkeeper saved a penalty in extra time.",
    "Rain is expected over the weekend.",
]


@pytest.fixture
def server():
    srv = FakeEmbeddingsServer(rate=5.0, burst=10, latency=0.05, max_requests=500, max_seconds=60)
    srv.serve_in_thread()
    yield srv
    srv.close()


def _post(url: str, body: dict) -> requests.Response:
    return requests.post(f"{url}/embeddings", json=body, timeout=10)


def test_server_answers_as_ionos_a_token_and_mpnets_own_norms():
    # The Cloud benchmark's and tests' API (bench/cloud.py): 401 without the token, MPNet not normalised.
    srv = FakeEmbeddingsServer(rate=50.0, burst=50, latency=0.0, max_requests=50, max_seconds=60, token="t0k")
    srv.serve_in_thread()
    try:
        body = {"model": "sentence-transformers/paraphrase-multilingual-mpnet-base-v2", "input": TEXTS[:2]}
        assert _post(srv.url, body).status_code == 401
        assert requests.get(f"{srv.url}/models", timeout=10).status_code == 401
        answer = requests.post(
            f"{srv.url}/embeddings", json=body, headers={"Authorization": "Bearer t0k"}, timeout=10
        ).json()
        norms = [np.linalg.norm(np.array(d["embedding"], dtype=np.float32)) for d in answer["data"]]
        assert len(answer["data"][0]["embedding"]) == 768
        assert all(2.0 <= n <= 6.0 for n in norms) and norms[0] != pytest.approx(norms[1])
        assert srv.stats["unauthorised"] == 2
    finally:
        srv.close()


def test_burst_beyond_limit_gets_429_with_retry_after(server):
    start = threading.Barrier(15)

    def one(i: int) -> requests.Response:
        start.wait()  # all 15 at once: more than the burst of 10
        return _post(server.url, {"model": api.MODEL, "input": [f"text number {i}"]})

    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(15) as pool:
        responses = list(pool.map(one, range(15)))
    elapsed = time.monotonic() - began
    codes = [r.status_code for r in responses]
    limited = [r for r in responses if r.status_code == 429]
    assert set(codes) == {200, 429}
    # The burst of 10, plus whatever the bucket refilled (5/s) while the requests arrived.
    assert 10 <= codes.count(200) <= 10 + math.ceil(5 * elapsed)
    for response in limited:
        assert int(response.headers["Retry-After"]) >= 1
        assert response.json()["error"]["type"] == "rate_limit_exceeded"
    stats = server.stats
    assert stats["requests"] == 15
    assert stats["rate_limited"] == len(limited)


def test_server_speaks_the_openai_embeddings_format(server):
    body = _post(server.url, {"model": api.MODEL, "input": TEXTS[:2], "encoding_format": "float"}).json()
    assert [d["index"] for d in body["data"]] == [0, 1]
    floats = np.array(body["data"][1]["embedding"], dtype=np.float32)
    assert floats.shape == (1024,)
    assert np.linalg.norm(floats) == pytest.approx(1.0, abs=1e-5)
    as_b64 = _post(server.url, {"model": api.MODEL, "input": TEXTS[:2], "encoding_format": "base64"}).json()
    decoded = np.frombuffer(base64.b64decode(as_b64["data"][1]["embedding"]), dtype="<f4")
    np.testing.assert_array_equal(decoded, floats)  # same text, same vector
    assert _post(server.url, {"model": "no/such-model", "input": "x"}).status_code == 404
    assert _post(server.url, {"model": api.MODEL, "input": ["ok", ""]}).status_code == 400


def test_transport_benchmark_functions_run_against_the_server(server, tmp_path):
    cache_file = tmp_path / "cache.sqlite3"
    ours = api.embedcore_client(server.url, TEXTS, cache_file)
    assert ours["requests"] == 1 and ours["cached"] == 0
    again = api.embedcore_client(server.url, TEXTS, cache_file)
    assert again["requests"] == 0 and again["cached"] == len(TEXTS)
    sdk = api.openai_sdk(server.url, TEXTS)
    naive = api.naive_loop(server.url, TEXTS)
    assert sdk["seconds"] > 0 and naive["seconds"] > 0
    # 1 (ours) + 1 (sdk) + 5 (naive, one per text); the cached call sent nothing.
    assert server.stats["requests"] == 7


def test_rate_bound_and_table():
    # 157 requests of 64: 10 at once, 147 more at 5/s, plus one request's latency.
    assert api.bound_seconds(10_000, 64) == pytest.approx(147 / 5 + 0.05)
    assert api.bound_seconds(100, 64) == pytest.approx(0.05)
    text = table(
        [Row("t", "p", "1 s", "2 s", "0.50x time", "≤ 1 s", True), Row("u|v", "p", "x", "y", "—", "—", None)]
    )
    assert text.splitlines()[0] == "| target | peer | ours | peer figure | ratio | goal | met? |"
    assert "| u\\|v |" in text and text.count("\n") == 3


def test_embedding_client_keeps_to_the_servers_limit_without_a_single_429():
    # The client is told the server's own limit; arrival-time jitter must not cost a 429.
    srv = FakeEmbeddingsServer(rate=10.0, burst=5, latency=0.02, max_requests=200, max_seconds=60)
    srv.serve_in_thread()
    try:
        from embedcore.providers.client import EmbeddingClient

        client = EmbeddingClient(
            srv.url, api_key="", batch_size=2, max_concurrency=4, requests_per_second=10.0, burst=5
        )
        texts = [f"sentence number {i}" for i in range(60)]
        result = client.embed(texts, api.MODEL)
        assert result.vectors.shape == (60, 1024)
        assert result.requests == 30 and result.retries == 0
        assert srv.stats["rate_limited"] == 0 and srv.stats["requests"] == 30
    finally:
        srv.close()


def test_team_search_figures_run_on_a_small_collection(database_url):
    from bench import team
    from embedcore.stores.database import Database

    rng = np.random.default_rng(0)
    vectors = team._unit(rng.standard_normal((300, 16)))
    queries = team._unit(rng.standard_normal((5, 16)))
    with Database(database_url) as database:
        figures = team._search_figures(database, vectors, queries, "smoke")
    assert figures["n"] == 300 and figures["exact_recall"] == 1.0
    assert 0.0 <= figures["hnsw_recall"] <= 1.0 and figures["hnsw_s"] > 0
    with Database(database_url) as database, database.connection() as conn:
        assert conn.execute("SELECT COUNT(*) FROM embedcore_collections").fetchone() == (0,)  # cleaned up


def test_map_stability_is_zero_for_the_same_map_turned_and_scaled():
    from bench.maps import stability

    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 2))
    angle = 0.7
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    same = stability(a, 3.0 * a @ turn + [5.0, -2.0])
    assert same["procrustes"] < 1e-12 and same["shift"] < 1e-9 and same["overlap"] == 1.0
    other = stability(a, rng.normal(size=(200, 2)))
    assert other["procrustes"] > 0.5 and other["overlap"] < 0.2


def test_templated_set_is_seeded_distinct_and_labelled():
    from bench import templated

    texts, labels = templated.build_texts(500)
    assert len(texts) == len(set(texts)) == len(labels) == 500
    assert (texts, labels) == templated.build_texts(500)
    assert set(labels) == {label for label, _ in templated._TEMPLATES}
    assert all("{" not in text for text in texts)


@pytest.mark.parametrize("seconds", [0.0042, 0.83, 7.714, 123.4])
def test_first_visit_reads_back_the_elapsed_the_app_shows(seconds):
    # The in-app row reads the Embed page's "Elapsed" text: it must parse every form duration() writes.
    from bench.first_visit import _seconds
    from ui.common.format import duration

    shown = duration(seconds)
    assert _seconds(shown) == pytest.approx(seconds, abs=0.006 if seconds < 100 else 0.5)


def test_the_cluster_name_measure_counts_words_of_the_majority_label():
    import numpy as np

    from bench.cluster_names import name_hits, previous_names, reference_terms

    texts = ["guitar solo tonight", "guitar chords", "pasta sauce", "pasta dough", "the 3 pasta"]
    labels = ["music", "music", "cooking", "cooking", "music"]
    terms = reference_terms(texts, labels)
    assert {"guitar", "music"} <= terms["music"] and "the" not in terms["music"]
    clusters = np.array([0, 0, 1, 1, 1])  # cluster 1: mostly cooking
    assert name_hits(["guitar, solo", "sauce, oboe"], clusters, labels, terms) == [(True, 2, 2), (True, 1, 2)]
    assert name_hits(["oboe"], np.array([0, 0, -1, -1, -1]), labels, terms) == [(False, 0, 1)]
    assert previous_names(texts, clusters, words=1) == ["guitar", "pasta"]


def test_the_evaluate_bench_measures_both_sides_on_a_small_set():
    from bench.evaluate import measure

    ours, peer = measure("ours", 300, 3_000), measure("peer", 300, 3_000)
    assert ours["seconds"] > 0 and peer["seconds"] > 0
    assert 0.2 < ours["checksum"] < 1.0  # nDCG@10 of the synthetic set: neither trivial nor hopeless
    assert ours["input_bytes"] == peer["input_bytes"] == (300 + 3_000) * 384 * 4


_SPIN = """
import sys, time
while time.process_time() < 0.3:
    pass
print("spun", flush=True)
sys.stdin.read()
"""


def test_cpu_seconds_of_a_process_and_its_tree():
    # ``bench visitors`` splits CPU between the server's process tree and chromium's with these.
    child = subprocess.Popen(
        [sys.executable, "-c", _SPIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "spun"
        assert child.pid in tree_pids(os.getpid())
        assert tree_pids(child.pid) == [child.pid]
        assert 0.25 <= cpu_seconds(child.pid) < 5  # ticks of 10 ms, counted apart from process_time
        assert process_name(child.pid).startswith("python")
    finally:
        child.communicate("")
    assert cpu_seconds(child.pid) == 0.0 and process_name(child.pid) == ""
    assert child.pid not in tree_pids(os.getpid())
