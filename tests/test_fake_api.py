"""The two fake servers are one fake API: the same request gets the same answer from both.

tests/fake_openai.py (the tests') and bench/fake_api.py (the benchmarks') carry the answers
that tests/fake_ionos.py builds; here both are asked the same things over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import numpy as np
import pytest
import requests

from bench.fake_api import FakeEmbeddingsServer
from tests.fake_ionos import IONOS_MODELS
from tests.fake_openai import TOKEN

MPNET = "sentence-transformers/paraphrase-multilingual-mpnet-base-v2"
TEXTS = ["Der Hund schläft.", "The dog sleeps.", "Le chien dort."]


@pytest.fixture
def both(fake_openai):
    """``[test server URL, bench server URL]``, each requiring :data:`TOKEN`, IONOS's rate limit on."""
    test_server = fake_openai(token=TOKEN)
    test_server.rate_limit = True
    bench_server = FakeEmbeddingsServer(latency=0.0, max_requests=500, max_seconds=120, token=TOKEN)
    bench_server.serve_in_thread()
    yield [test_server.url, bench_server.url]
    bench_server.close()


def _post(url: str, body, token: str | None = TOKEN) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{url}/embeddings", json=body, headers=headers, timeout=10)


def test_both_servers_send_the_same_vectors_models_and_usage(both):
    answers = []
    for url in both:
        models = requests.get(f"{url}/models", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert [m["id"] for m in models.json()["data"]] == list(IONOS_MODELS)
        answers.append(
            [_post(url, {"model": model, "input": TEXTS}).json() for model in IONOS_MODELS]
            + [_post(url, {"model": MPNET, "input": TEXTS, "encoding_format": "base64"}).json()]
        )
    for test_answer, bench_answer in zip(*answers, strict=True):
        assert [d["embedding"] for d in test_answer["data"]] == [d["embedding"] for d in bench_answer["data"]]
        assert test_answer["usage"] == bench_answer["usage"]
        assert {"id", "created", "object", "model", "data", "usage"} <= set(bench_answer) == set(test_answer)
    for answer, (model, dims) in zip(answers[0], IONOS_MODELS.items(), strict=False):
        vectors = np.array([d["embedding"] for d in answer["data"]], dtype=np.float32)
        assert vectors.shape == (3, dims)
        norms = np.linalg.norm(vectors, axis=1)
        if model == MPNET:  # as through IONOS: not unit length
            assert np.all((norms > 2.0) & (norms < 6.0))
        else:
            np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_both_servers_refuse_alike(both):
    for refusal in [
        lambda url: _post(url, {"model": MPNET, "input": TEXTS}, token=None),  # no bearer token
        lambda url: _post(url, {"model": MPNET, "input": TEXTS}, token="wrong"),
        lambda url: _post(url, {"model": "no/such-model", "input": TEXTS}),
        lambda url: _post(url, {"model": MPNET, "input": ["a", ""]}),
        lambda url: _post(url, {"model": MPNET, "input": []}),
    ]:
        test_answer, bench_answer = (refusal(url) for url in both)
        assert test_answer.status_code == bench_answer.status_code >= 400
        assert test_answer.json() == bench_answer.json()
        assert set(test_answer.json()["error"]) == {"message", "type", "code"}


def test_both_servers_answer_429_beyond_five_requests_a_second(both):
    for url in both:
        # Bursts of 10 at 5/s: requests in a row overflow the bucket (bounded: at most 60).
        statuses = []
        for _ in range(60):
            statuses.append(_post(url, {"model": MPNET, "input": ["x"]}))
            if statuses[-1].status_code == 429:
                break
        limited = statuses[-1]
        assert limited.status_code == 429 and len(statuses) > 10, [r.status_code for r in statuses]
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["type"] == "rate_limit_exceeded"
