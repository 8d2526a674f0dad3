"""EmbeddingClient against real HTTP servers on 127.0.0.1 (tests/fake_openai.py); requests is never patched."""

from __future__ import annotations

import base64
import email.utils
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from embedcore.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    EmbedcoreError,
    EmptyInputError,
    InputError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TooManyTextsError,
)
from embedcore.providers.client import EmbeddingClient, normalize_base_url, parse_retry_after
from embedcore.providers.ratelimit import TokenBucket
from embedcore.stores.cache import EmbeddingCache
from embedcore.types import Provider
from tests.fake_openai import FakeOpenAI, closed_port, fixture_vector, fixture_vectors, json_response

KEY = "sk-test-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
MODEL = "BAAI/bge-m3"
D = 8


def expected(texts: list[str]) -> np.ndarray:
    """The vectors the test server sends for ``texts``."""
    return fixture_vectors(texts, D)


MODELS_ENVELOPE = {
    "object": "list",
    "data": [
        {"id": "BAAI/bge-m3", "object": "model", "created": 1, "owned_by": "ionos"},
        {"id": "BAAI/bge-large-en-v1.5", "object": "model", "created": 1},
        {"id": "meta-llama/Llama-3.3-70B-Instruct", "object": "model", "created": 1},
    ],
}


@pytest.fixture
def api(fake_openai) -> FakeOpenAI:
    """The test server, answering ``POST /v1/embeddings``; ``GET /v1/models`` is each test's own
    (:func:`serve_models`)."""
    return fake_openai(models={MODEL: D}, serve_models=False)


@pytest.fixture
def server(api: FakeOpenAI) -> HTTPServer:
    return api.server


@pytest.fixture
def base(api: FakeOpenAI) -> str:
    return api.url


def make_client(base: str, **kw) -> EmbeddingClient:
    kw.setdefault("api_key", KEY)
    kw.setdefault("backoff_base", 0.001)
    kw.setdefault("backoff_max", 0.01)
    kw.setdefault("requests_per_second", None)
    kw.setdefault("max_retries", 2)
    kw.setdefault("timeout", 5.0)
    return EmbeddingClient(base, **kw)


def serve_models(server: HTTPServer, payload=MODELS_ENVELOPE, status: int = 200) -> None:
    server.expect_request("/v1/models", method="GET").respond_with_json(payload, status=status)


# --- configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://openai.inference.de-txl.ionos.com/v1/", "https://openai.inference.de-txl.ionos.com/v1"),
        ("  HTTPS://Example.COM:443/v1//  ", "https://example.com/v1"),
        ("http://example.com:80/v1", "http://example.com/v1"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
        ("http://[::1]:8080/v1/", "http://[::1]:8080/v1"),
        ("https://api.example.com/v1/embeddings", "https://api.example.com/v1"),
        ("https://api.example.com/v1/models/", "https://api.example.com/v1"),
        ("https://api.example.com", "https://api.example.com"),
    ],
)
def test_base_url_normalised(url: str, normal: str) -> None:
    assert normalize_base_url(url) == normal
    client = EmbeddingClient(url, api_key=KEY)
    assert client.base_url == client.endpoint_id == normal


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/v1",
        "file:///etc/passwd",
        "localhost:8000/v1",
        "example.com/v1",
        "",
        "https://",
        "https://user:pw@example.com/v1",
        "https://example.com/v1?key=abc",
        "https://example.com/v1#frag",
        "http://example.com:99999/v1",
        "javascript:alert(1)",
    ],
)
def test_bad_base_url_refused(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        EmbeddingClient(url, api_key=KEY)
    assert isinstance(info.value, ValueError)
    assert "pw@" not in str(info.value) and "key=abc" not in str(info.value)  # secrets not echoed


def test_defaults_from_environment(
    monkeypatch: pytest.MonkeyPatch, server: HTTPServer, api: FakeOpenAI
) -> None:
    monkeypatch.setenv("EMBEDCORE_BASE_URL", server.url_for("/v1/"))
    monkeypatch.setenv("IONOS_API_TOKEN", KEY)
    client = EmbeddingClient(requests_per_second=None)
    assert client.base_url == server.url_for("/v1")
    assert client.has_key
    client.embed(["a"], MODEL)
    assert api.requests[-1]["auth"] == f"Bearer {KEY}"
    # "" means: send no token (the UI passes it so an env token never goes to a custom URL).
    client = EmbeddingClient(api_key="", requests_per_second=None)
    assert not client.has_key
    client.embed(["b"], MODEL)
    assert api.requests[-1]["auth"] is None
    monkeypatch.delenv("EMBEDCORE_BASE_URL")
    assert EmbeddingClient().base_url == "https://openai.inference.de-txl.ionos.com/v1"


def test_environment_token_goes_only_to_its_own_endpoint(
    monkeypatch: pytest.MonkeyPatch, base: str, api: FakeOpenAI
) -> None:
    # IONOS_API_TOKEN belongs to EMBEDCORE_BASE_URL (here: unset, so the IONOS AI Model Hub):
    # a client for another server built with api_key=None must send no token at all.
    monkeypatch.delenv("EMBEDCORE_BASE_URL", raising=False)
    monkeypatch.setenv("IONOS_API_TOKEN", KEY)
    client = EmbeddingClient(base, requests_per_second=None)
    assert not client.has_key
    client.embed(["c"], MODEL)
    assert api.requests[-1]["auth"] is None


def test_token_whitespace(base: str, api: FakeOpenAI) -> None:
    client = make_client(base, api_key=f"  {KEY}\n")
    client.embed(["a"], MODEL)
    assert api.requests[-1]["auth"] == f"Bearer {KEY}"
    with pytest.raises(ConfigurationError) as info:
        EmbeddingClient(base, api_key=KEY[:10] + " \n" + KEY[10:])
    assert KEY[:10] not in str(info.value) and KEY[10:] not in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"max_retries": -1},
        {"batch_size": 0},
        {"batch_size": 5000},
        {"max_concurrency": 0},
        {"max_texts": 0},
        {"burst": 0},
    ],
)
def test_bad_settings(kwargs: dict) -> None:
    with pytest.raises((ConfigurationError, ValueError)):
        EmbeddingClient("http://127.0.0.1:1/v1", api_key=KEY, **kwargs)


def test_is_a_provider() -> None:
    assert isinstance(EmbeddingClient("http://127.0.0.1:1/v1", api_key=KEY), Provider)


# --- models -------------------------------------------------------------------------------


def test_list_models_envelope(server: HTTPServer, base: str) -> None:
    serve_models(server)
    models = make_client(base).list_models()
    assert [m.id for m in models] == [m["id"] for m in MODELS_ENVELOPE["data"]]
    assert models[0].dimensions == 1024 and models[0].owned_by == "ionos" and models[0].served
    assert models[2].dimensions is None  # unknown to the catalogue: unknown, not invented
    request, _ = server.log[-1]
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert KEY not in request.url


def test_list_models_bare_list(server: HTTPServer, base: str) -> None:
    serve_models(server, MODELS_ENVELOPE["data"][:2])
    assert [m.id for m in make_client(base).list_models()] == ["BAAI/bge-m3", "BAAI/bge-large-en-v1.5"]


@pytest.mark.parametrize("payload", [{"object": "list"}, {"data": "nope"}, 42])
def test_list_models_bad_shape(server: HTTPServer, base: str, payload) -> None:
    serve_models(server, payload)
    with pytest.raises(InvalidResponseError):
        make_client(base).list_models()


def test_models_404_points_at_the_base_url(server: HTTPServer, base: str) -> None:
    serve_models(server, {"detail": "Not Found"}, status=404)
    with pytest.raises(NotFoundError, match=r"/v1/models does not exist; check the base URL.*Not Found"):
        make_client(base).list_models()


def test_check_connection(server: HTTPServer, base: str) -> None:
    serve_models(server)
    latency, models = make_client(base).check_connection()
    assert 0 < latency < 5
    assert len(models) == 3


def test_check_connection_does_not_retry(server: HTTPServer, base: str) -> None:
    serve_models(server, {"error": {"message": "down"}}, status=503)
    with pytest.raises(ServerError) as info:
        make_client(base, max_retries=4).check_connection()
    assert info.value.attempts == 1
    assert len(server.log) == 1


# --- embeddings: happy paths --------------------------------------------------------------


def test_embed_basic_request_and_result(base: str, api: FakeOpenAI) -> None:
    res = make_client(base).embed(["hello", "world"], MODEL)
    body = api.requests[0]["body"]
    assert body == {"model": MODEL, "input": ["hello", "world"], "encoding_format": "float"}
    assert api.requests[0]["auth"] == f"Bearer {KEY}"
    assert res.vectors.dtype == np.float32 and res.vectors.shape == (2, D)
    np.testing.assert_array_equal(res.vectors, expected(["hello", "world"]))
    assert (res.prompt_tokens, res.total_tokens, res.requests, res.retries, res.fetched) == (6, 6, 1, 0, 2)
    assert res.model == MODEL


@pytest.mark.parametrize("envelope", [True, False])
def test_embed_out_of_order_in_both_envelopes(base: str, api: FakeOpenAI, envelope: bool) -> None:
    api.envelope, api.reverse = envelope, True
    texts = ["one", "two", "three", "four"]
    res = make_client(base).embed(texts, MODEL)
    np.testing.assert_array_equal(res.vectors, expected(texts))
    assert res.prompt_tokens == (12 if envelope else 0)


def test_base64_embeddings_accepted(base: str, api: FakeOpenAI) -> None:
    def b64(request: Request) -> Response:
        inputs = request.get_json()["input"]
        data = [
            {
                "index": i,
                "embedding": base64.b64encode(np.array(fixture_vector(t, D), "<f4").tobytes()).decode(),
            }
            for i, t in enumerate(inputs)
        ]
        return json_response({"data": data})

    api.script = [b64]
    res = make_client(base).embed(["x", "y"], MODEL)
    np.testing.assert_array_equal(res.vectors, expected(["x", "y"]))


def test_batching_keeps_order(base: str, api: FakeOpenAI) -> None:
    texts = [f"text number {i}" for i in range(150)]
    res = make_client(base, batch_size=16, max_concurrency=4).embed(texts, MODEL)
    assert len(api.requests) == 10
    assert sorted(len(b) for b in api.inputs) == [6] + [16] * 9
    assert sorted(t for b in api.inputs for t in b) == sorted(texts)
    np.testing.assert_array_equal(res.vectors, expected(texts))
    assert res.requests == 10 and res.fetched == 150


def test_duplicates_sent_once(base: str, api: FakeOpenAI) -> None:
    texts = ["a", "b", "a", "a", "c", "b"]
    res = make_client(base).embed(texts, MODEL)
    assert api.inputs == [["a", "b", "c"]]
    np.testing.assert_array_equal(res.vectors, expected(texts))


def test_progress(base: str, api: FakeOpenAI) -> None:
    calls: list[tuple[int, int]] = []
    make_client(base, batch_size=4, max_concurrency=2).embed(
        [f"t{i}" for i in range(10)], MODEL, progress=lambda d, t: calls.append((d, t))
    )
    assert calls[0] == (0, 10) and calls[-1] == (10, 10)
    assert len(calls) == 4
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_input_errors_send_nothing(base: str, api: FakeOpenAI) -> None:
    client = make_client(base, max_texts=3)
    with pytest.raises(TooManyTextsError, match="limit of 3"):
        client.embed(["a", "b", "c", "d"], MODEL)
    with pytest.raises(EmptyInputError):
        client.embed([], MODEL)
    with pytest.raises(InputError, match="#2"):
        client.embed(["a", "  "], MODEL)
    with pytest.raises(InputError, match="model"):
        client.embed(["a"], "")
    assert api.requests == []
    client.embed(iter(["a", "b", "c"]), MODEL)  # any iterable within the limit
    assert len(api.requests) == 1


# --- cache ----------------------------------------------------------------------------------


def test_second_call_served_from_cache(base: str, api: FakeOpenAI, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    client = make_client(base, cache=cache, batch_size=4)
    texts = [f"t{i}" for i in range(10)]
    first = client.embed(texts, MODEL)
    n = len(api.requests)
    second = client.embed(texts[::-1], MODEL)
    assert len(api.requests) == n
    assert (second.cached, second.fetched, second.requests, second.prompt_tokens) == (10, 0, 0, 0)
    np.testing.assert_array_equal(second.vectors, first.vectors[::-1])
    # the key is not in the cache file
    cache.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert KEY.encode() not in raw and KEY[-16:].encode() not in raw
    assert client.endpoint_id.encode() in raw


def test_nothing_resent_after_partial_failure(base: str, api: FakeOpenAI, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    client = make_client(base, cache=cache, batch_size=5, max_concurrency=1)
    texts = [f"t{i}" for i in range(50)]  # 10 batches
    api.script = [None] * 6 + [lambda r: json_response({"error": {"message": "input too long"}}, 400)]
    with pytest.raises(BadRequestError, match="input too long"):
        client.embed(texts, MODEL)
    assert len(api.requests) == 7
    assert len(cache.get_many(client.endpoint_id, MODEL, texts)) == 30
    api.script = []
    before = len(api.requests)
    res = client.embed(texts, MODEL)
    resent = [t for b in api.inputs[before:] for t in b]
    assert resent == texts[30:]
    assert (res.cached, res.fetched) == (30, 20)
    np.testing.assert_array_equal(res.vectors, expected(texts))


def test_threads_share_client_and_cache(base: str, api: FakeOpenAI, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    client = make_client(
        base, cache=cache, batch_size=7, max_concurrency=3, requests_per_second=500, burst=20
    )
    pool = [f"shared text {i}" for i in range(120)]
    results: dict[int, tuple[list[str], np.ndarray]] = {}
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        texts = pool[k * 10 : k * 10 + 50]
        try:
            results[k] = (texts, client.embed(texts, MODEL).vectors)
        except BaseException as exc:  # pragma: no cover - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for texts, vectors in results.values():
        np.testing.assert_array_equal(vectors, expected(texts))
    cached = cache.get_many(client.endpoint_id, MODEL, pool)
    assert set(cached) == set(pool[:120])
    for text, vec in cached.items():
        np.testing.assert_array_equal(vec, expected([text])[0])
    assert cache.stats()["entries"] == 120


# --- response validation ----------------------------------------------------------------------


def _item(i: int, vec) -> dict:
    return {"object": "embedding", "index": i, "embedding": vec}


BAD_BODIES = {
    "cut": (
        lambda: Response(
            '{"object": "list", "data": [{"index": 0, "embedding": [0.1, 0.',
            200,
            content_type="application/json",
        ),
        "cut off",
    ),
    "not json": (lambda: Response("OK then", 200, content_type="text/plain"), "not JSON"),
    "html": (
        lambda: Response("<!DOCTYPE html><html><title>Welcome</title></html>", 200, content_type="text/html"),
        "web page",
    ),
    "html no ctype": (
        lambda: Response("<html><body>hi</body></html>", 200, content_type="application/json"),
        "web page",
    ),
    "wrong count": (lambda: json_response({"data": [_item(0, [1.0, 2.0])]}), "1 vectors for 2 texts"),
    "duplicate index": (lambda: json_response({"data": [_item(0, [1.0]), _item(0, [2.0])]}), "appears twice"),
    "missing index": (lambda: json_response({"data": [_item(0, [1.0]), {"embedding": [2.0]}]}), "no 'index'"),
    "index out of range": (
        lambda: json_response({"data": [_item(0, [1.0]), _item(2, [2.0])]}),
        "outside 0..1",
    ),
    "index not int": (lambda: json_response({"data": [_item(0, [1.0]), _item("1", [2.0])]}), "outside"),
    "nan": (
        lambda: Response(
            '{"data": [{"index": 0, "embedding": [NaN, 1]}, {"index": 1, "embedding": [1, 1]}]}',
            200,
            content_type="application/json",
        ),
        "NaN or infinite",
    ),
    "inf": (
        lambda: json_response({"data": [_item(0, [1.0, 1e39]), _item(1, [1.0, 2.0])]}),
        "NaN or infinite",
    ),
    "mixed dims": (
        lambda: json_response({"data": [_item(0, [1.0, 2.0]), _item(1, [1.0])]}),
        "different lengths",
    ),
    "strings": (lambda: json_response({"data": [_item(0, ["a"]), _item(1, [1.0])]}), "other than numbers"),
    "nested": (lambda: json_response({"data": [_item(0, [[1.0]]), _item(1, [[1.0]])]}), "not a flat list"),
    "empty vector": (lambda: json_response({"data": [_item(0, []), _item(1, [])]}), "no embedding"),
    "bad base64": (lambda: json_response({"data": [_item(0, "!!!"), _item(1, "!!!")]}), "not base64"),
    "no data": (lambda: json_response({"object": "list"}), "no list"),
    "error with 200": (lambda: json_response({"error": {"message": "quota exhausted"}}), "quota exhausted"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_invalid_responses(base: str, api: FakeOpenAI, case: str, tmp_path: Path) -> None:
    make, match = BAD_BODIES[case]
    api.script = [lambda r: make()]
    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    with pytest.raises(InvalidResponseError, match=match) as info:
        make_client(base, cache=cache).embed(["a", "b"], MODEL)
    assert info.value.attempts == 1
    assert len(api.requests) == 1  # an unusable 200 is not retried
    assert cache.stats()["entries"] == 0


# --- status errors and retries -----------------------------------------------------------------


def _error(status: int, message: str = "nope", headers: dict | None = None):
    return lambda r: json_response({"error": {"message": message, "type": "x"}}, status, headers)


@pytest.mark.parametrize(
    ("status", "cls", "requests_made"),
    [
        (400, BadRequestError, 1),
        (401, AuthenticationError, 1),
        (403, PermissionDeniedError, 1),
        (408, APIStatusError, 3),
        (409, APIStatusError, 3),
        (413, BadRequestError, 1),
        (422, BadRequestError, 1),
        (429, RateLimitError, 3),
        (500, ServerError, 3),
        (502, ServerError, 3),
        (503, ServerError, 3),
    ],
)
def test_status_errors(base: str, api: FakeOpenAI, status: int, cls: type, requests_made: int) -> None:
    api.script = [_error(status, f"server says {status}", {"x-request-id": "req-42"})] * 5
    with pytest.raises(cls) as info:
        make_client(base, max_retries=2).embed(["a"], MODEL)
    err = info.value
    assert type(err) is cls
    assert err.status_code == status
    assert err.request_id == "req-42"
    assert err.attempts == requests_made
    assert len(api.requests) == requests_made
    assert f"server says {status}" in str(err) and "req-42" in str(err)


def test_401_without_token_says_so(base: str, api: FakeOpenAI) -> None:
    api.script = [_error(401, "missing bearer")]
    with pytest.raises(AuthenticationError, match="no token was sent"):
        make_client(base, api_key="").embed(["a"], MODEL)


def test_413_suggests_smaller_batches(base: str, api: FakeOpenAI) -> None:
    api.script = [lambda r: Response("Request Entity Too Large", 413)]
    with pytest.raises(BadRequestError, match=r"lower the batch size.*Request Entity Too Large"):
        make_client(base).embed(["a"], MODEL)


def test_error_message_shapes(base: str, api: FakeOpenAI) -> None:
    client = make_client(base)
    cases = [
        (lambda r: json_response({"detail": "Model is not loaded"}, 400), "Model is not loaded"),
        (
            lambda r: json_response({"detail": [{"loc": ["body"], "msg": "field required"}]}, 422),
            "field required",
        ),
        (lambda r: json_response({"message": "plain message"}, 400), "plain message"),
        (
            lambda r: Response("<html><title>502 Bad Gateway</title></html>", 502, content_type="text/html"),
            "HTML page: 502 Bad Gateway",
        ),
        (lambda r: json_response({"error": {"message": "x" * 5000}}, 400), "…"),
    ]
    for handler, match in cases:
        api.script = [handler] * 3 + [None] * 100
        api.requests.clear()
        with pytest.raises(APIStatusError, match=match) as info:
            client.embed(["a"], MODEL)
        assert len(str(info.value)) < 600


def test_404_lists_available_models(server: HTTPServer, base: str, api: FakeOpenAI) -> None:
    serve_models(server)
    api.script = [_error(404, "model not found")]
    with pytest.raises(NotFoundError) as info:
        make_client(base).embed(["a"], "BAAI/bge-m4")
    err = info.value
    assert err.model == "BAAI/bge-m4"
    assert err.available == ["BAAI/bge-m3", "BAAI/bge-large-en-v1.5", "meta-llama/Llama-3.3-70B-Instruct"]
    assert "'BAAI/bge-m4' is not served" in str(err) and "BAAI/bge-m3" in str(err)
    assert err.attempts == 1 and err.status_code == 404


def test_404_when_models_cannot_be_listed(server: HTTPServer, base: str, api: FakeOpenAI) -> None:
    serve_models(server, {"error": "nope"}, status=500)
    api.script = [_error(404, "no such route")]
    with pytest.raises(NotFoundError, match=r"could not be listed.*no such route") as info:
        make_client(base).embed(["a"], MODEL)
    assert info.value.available == []


def test_recovers_after_transient_failures(base: str, api: FakeOpenAI) -> None:
    api.script = [_error(500), _error(429), _error(503, headers={"Retry-After": "0"})]
    res = make_client(base, max_retries=3).embed(["a", "b"], MODEL)
    np.testing.assert_array_equal(res.vectors, expected(["a", "b"]))
    assert (res.requests, res.retries) == (4, 3)
    assert len(api.requests) == 4


def test_retry_after_seconds_is_honoured_and_pauses_limiter(base: str, api: FakeOpenAI) -> None:
    api.script = [_error(429, headers={"Retry-After": "1"})]
    client = make_client(base, max_retries=1, requests_per_second=1000, burst=5)
    res = client.embed(["a"], MODEL)
    assert res.retries == 1
    gap = api.requests[1]["t"] - api.requests[0]["t"]
    assert 0.9 <= gap < 3
    # the pause is shared: the limiter itself refused tokens during it
    assert client.limiter._paused_until > api.requests[0]["t"] + 0.9


def test_retry_after_http_date(base: str, api: FakeOpenAI) -> None:
    past = email.utils.formatdate(time.time() - 10, usegmt=True)
    api.script = [_error(503, headers={"Retry-After": past})]
    res = make_client(base).embed(["a"], MODEL)
    assert res.retries == 1
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after({"retry-after": "7"}) == 7
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "-5"}) == 0


def test_retry_after_beyond_cap_fails_fast(base: str, api: FakeOpenAI) -> None:
    api.script = [_error(429, "slow down", headers={"Retry-After": "3600"})]
    t0 = time.monotonic()
    with pytest.raises(RateLimitError, match="wait 3600 s") as info:
        make_client(base, max_retries=5, retry_after_cap=60).embed(["a"], MODEL)
    assert time.monotonic() - t0 < 2
    assert info.value.retry_after == 3600 and info.value.attempts == 1


def test_429_without_retry_after_backs_off(base: str, api: FakeOpenAI) -> None:
    api.script = [_error(429)] * 10
    with pytest.raises(RateLimitError) as info:
        make_client(base, max_retries=3).embed(["a"], MODEL)
    assert info.value.attempts == 4 and info.value.retry_after is None
    assert "after 4 attempts" in str(info.value)


def test_backoff_grows_and_is_capped() -> None:
    client = EmbeddingClient("http://127.0.0.1:1/v1", api_key=KEY)
    delays = [client._backoff(a) for a in range(1, 8)]
    assert 0.375 <= delays[0] <= 0.5
    assert 0.75 <= delays[1] <= 1.0
    assert all(6.0 <= d <= 8.0 for d in delays[4:])


def test_read_timeout(base: str, api: FakeOpenAI) -> None:
    api.delay = 0.6
    client = make_client(base, timeout=0.2, max_retries=1)
    with pytest.raises(APITimeoutError) as info:
        client.embed(["a"], MODEL)
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, APIConnectionError)
    assert info.value.attempts == 2
    assert "within 0.2 s" in str(info.value)
    time.sleep(0.7)  # let the slow handlers finish before the server is reused
    assert len(api.requests) == 2


def test_connection_refused_fails_at_once() -> None:
    # Nothing listens there: asking again in 0.5, 1, 2, 4 s cannot help (a 503 might), and a
    # person who typed the wrong port waited ~15 s for six refusals.
    client = EmbeddingClient(f"http://127.0.0.1:{closed_port()}/v1", api_key=KEY, requests_per_second=None)
    start = time.perf_counter()
    with pytest.raises(APIConnectionError) as info:
        client.embed(["a"], MODEL)
    assert time.perf_counter() - start <= 2.0
    assert not isinstance(info.value, APITimeoutError)
    assert info.value.attempts == 1
    assert "refused" in str(info.value).lower()
    assert "is anything listening" in str(info.value).lower()
    assert info.value.__cause__ is None  # the requests exception (with its headers) is not attached


def test_unknown_host_fails_at_once() -> None:
    # ".invalid" never resolves (RFC 6761): a typo in the host name is not retried either.
    client = EmbeddingClient("http://no-such-host.invalid/v1", api_key=KEY, requests_per_second=None)
    start = time.perf_counter()
    with pytest.raises(APIConnectionError) as info:
        client.list_models()
    assert time.perf_counter() - start <= 2.0
    assert info.value.attempts == 1
    assert "no-such-host.invalid" in str(info.value) and "host name" in str(info.value)


def test_dropped_connection_is_still_retried() -> None:
    # A server that accepts and hangs up without an answer (a restart, an overloaded proxy) may
    # answer the next time: that failure keeps its retries.
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def hang_up() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            conn.recv(65536)
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        client = make_client(f"http://127.0.0.1:{listener.getsockname()[1]}/v1", max_retries=2)
        with pytest.raises(APIConnectionError) as info:
            client.embed(["a"], MODEL)
        assert info.value.attempts == 3 and len(accepted) == 3
    finally:
        listener.close()


# --- the key never leaks ----------------------------------------------------------------------------


def test_key_not_in_repr_or_str() -> None:
    client = EmbeddingClient("http://127.0.0.1:1/v1", api_key=KEY)
    for text in (repr(client), str(client), repr(vars(client)), repr(client._auth), client.endpoint_id):
        assert KEY not in text
    assert "api_key=set" in repr(client)


def test_key_echoed_by_server_is_scrubbed(base: str, api: FakeOpenAI) -> None:
    echo = f"Invalid token {KEY} (prefix {KEY[:20]}, suffix {KEY[-18:]})"  # whole key and long pieces of it
    api.script = [_error(401, echo, {"x-request-id": KEY})]
    with pytest.raises(AuthenticationError) as info:
        make_client(base).embed(["a"], MODEL)
    err = info.value
    texts = [str(err), repr(err), err.message, str(err.request_id), str(err.args)]
    for text in texts:
        assert KEY not in text
        assert KEY[-18:] not in text and KEY[:20] not in text
    assert "Invalid token ***" in str(err)


def test_key_never_in_logs_even_at_debug(
    base: str, api: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    # requests/urllib3 log every request at DEBUG; the server echoes the key in each error.
    echo = f"bad token {KEY}"
    api.script = [_error(500, echo), _error(429, echo, {"Retry-After": "0"}), None, _error(401, echo)]
    client = make_client(base, batch_size=1, max_concurrency=1)
    with caplog.at_level(logging.DEBUG):
        client.embed(["a"], MODEL)  # two retries, then success
        with pytest.raises(AuthenticationError):
            client.embed(["b"], MODEL)
    assert len(api.requests) == 4
    assert caplog.records, "the client and urllib3 were expected to log something at DEBUG"
    assert KEY not in caplog.text and KEY[-18:] not in caplog.text


def test_key_never_in_urls(server: HTTPServer, base: str, api: FakeOpenAI) -> None:
    serve_models(server)
    client = make_client(base)
    client.list_models()
    client.embed(["a"], MODEL)
    for request, _ in server.log:
        assert KEY not in request.url
        assert KEY not in request.query_string.decode()
    assert all(KEY not in r["url"] for r in api.requests)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_to_other_host_gets_no_token(
    server: HTTPServer, base: str, fake_openai, status: int
) -> None:
    other = fake_openai(models={MODEL: D})  # the other host: records whatever reaches it
    server.clear()
    target = other.server.url_for("/v1/embeddings") + "?a=1"
    server.expect_request("/v1/embeddings").respond_with_data("", status=status, headers={"Location": target})
    server.expect_request("/v1/models").respond_with_data(
        "", status=status, headers={"Location": other.server.url_for("/v1/models")}
    )
    client = make_client(base)
    with pytest.raises(APIStatusError, match=r"redirects to http://127\.0\.0\.1") as info:
        client.embed(["a"], MODEL)
    assert info.value.status_code == status
    assert "?a=1" not in str(info.value)
    with pytest.raises(APIStatusError, match="redirects"):
        client.list_models()
    assert other.requests == []  # not followed at all, so certainly no token sent there


def test_requests_itself_strips_auth_across_ports() -> None:
    # Documents the library behaviour we no longer rely on (we never follow redirects).
    import requests

    s = requests.Session()
    assert s.should_strip_auth("http://127.0.0.1:8000/v1", "http://127.0.0.1:9000/v1")
    assert s.should_strip_auth("http://127.0.0.1:8000/v1", "http://localhost:8000/v1")


def test_errors_are_one_tree() -> None:
    for cls in (APIConnectionError, APITimeoutError, InvalidResponseError, RateLimitError, NotFoundError):
        assert issubclass(cls, APIError) and issubclass(cls, EmbedcoreError)


# --- pacing ------------------------------------------------------------------------------------


def test_rate_limiter_paces_requests(base: str, api: FakeOpenAI) -> None:
    rate, burst = 20.0, 3
    client = make_client(base, batch_size=1, max_concurrency=4, requests_per_second=rate, burst=burst)
    texts = [f"t{i}" for i in range(12)]
    res = client.embed(texts, MODEL)
    np.testing.assert_array_equal(res.vectors, expected(texts))
    times = sorted(r["t"] for r in api.requests)
    span = times[-1] - times[0]
    assert span >= (len(texts) - burst) / rate * 0.8  # ≈ 0.45 s
    # never more than burst + rate*window requests within any window
    for i, t0 in enumerate(times):
        in_window = sum(1 for t in times[i:] if t - t0 <= 0.1)
        assert in_window <= burst + 0.1 * rate + 1


def test_token_bucket_with_fake_clock() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    bucket = TokenBucket(5.0, burst=10, clock=lambda: now[0], sleep=sleep)
    for _ in range(10):
        assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(0.2)
    assert now[0] == pytest.approx(0.2)
    bucket.pause(3.0)
    waited = bucket.acquire()
    assert now[0] >= 3.2 - 1e-9 and waited >= 3.0 - 1e-9
    # after a pause only one token is there, then the steady rate (no burst right after a 429)
    assert bucket.acquire() == pytest.approx(0.2)
    # a quiet spell refills up to burst, not beyond
    now[0] += 100
    for _ in range(10):
        assert bucket.acquire() == 0.0
    assert bucket.acquire() > 0
    assert TokenBucket(None).acquire() == 0.0
    with pytest.raises(ValueError):
        TokenBucket(1.0, burst=0)
