"""One OpenAI-compatible embeddings API for the tests: real HTTP on 127.0.0.1 (pytest-httpserver).

``GET /v1/models`` lists the server's models; ``POST /v1/embeddings`` answers as IONOS does:
every answer, vector and error is built by tests/fake_ionos.py, which bench/fake_api.py's
server uses too (the MPNet's vectors are not unit length, as through IONOS). Every request
is recorded. A test changes what the server does through its attributes: ``token`` (401 without it), ``refuse``, ``fail_after``/``fail_status``, ``script``
(one handler per embeddings request), ``envelope``, ``reverse``, ``delay`` and ``rate_limit``
(IONOS's 5 requests/s with bursts of 10, 429 with ``Retry-After`` beyond it).

The ``fake_openai`` fixture (registered in tests/conftest.py) starts one per call, each on its
own port, and stops them after the test. ``requests`` is never patched anywhere in the suite.
The benchmark's server (bench/fake_api.py) answers the same from its own process.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fake_ionos import (
    IONOS_MODELS,
    TOKEN,
    TokenBucket,
    embeddings_body,
    error_body,
    fixture_vector,
    model_vector,
    models_body,
    rate_limited,
    request_error,
    texts_of,
    token_count,
    unauthorised,
)

__all__ = [
    "IONOS_MODELS",
    "TOKEN",
    "FakeOpenAI",
    "closed_port",
    "fixture_vector",
    "fixture_vectors",
    "json_response",
    "token_count",
]


def fixture_vectors(texts: list[str], dims: int, model: str | None = None) -> np.ndarray:
    """What the server sends for ``texts`` (from ``model``: unit length unless it is the MPNet),
    as the float32 matrix a client should return."""
    return np.array([model_vector(t, model or "", dims) for t in texts], dtype=np.float32)


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload), status=status, headers=headers, content_type="application/json")


def error_response(
    status: int, message: str, kind: str = "invalid_request_error", headers: dict | None = None
) -> Response:
    """An error in OpenAI's shape (tests/fake_ionos.py's :func:`error_body`), with ``headers`` (e.g.
    ``{"x-should-retry": "false"}``, the OpenAI API's word on whether to try again)."""
    return json_response(error_body(status, message, kind), status, headers)


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then closed again at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> HTTPServer:
    """A running pytest-httpserver on 127.0.0.1 and a port of its own (threaded, like a real API)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    return server


def stop_server(server: HTTPServer) -> None:
    server.clear()
    if server.is_running():
        server.stop()


class FakeOpenAI:
    """An OpenAI-compatible embeddings API on ``server``; every request is kept in :attr:`requests`.

    ``models`` maps each model id to the dimensions of its vectors. ``token``: when set, a
    request without ``Authorization: Bearer <token>`` gets 401. ``serve_models=False`` leaves
    ``GET /v1/models`` to the test.
    """

    def __init__(
        self,
        server: HTTPServer,
        *,
        models: Mapping[str, int] = IONOS_MODELS,
        token: str | None = None,
        serve_models: bool = True,
    ) -> None:
        self.server = server
        self.models = dict(models)
        self.token = token
        #: Answer every request with 401 (an endpoint that turned the token down).
        self.refuse = False
        #: From this many answered embeddings requests on, refuse with ``fail_status``.
        self.fail_after: int | None = None
        self.fail_status = 400
        #: Per embeddings request number: a handler returning the response, or None (or a
        #: handler returning None) for the normal answer.
        self.script: list[Callable[[Request], Response | None] | None] = []
        #: False: a bare list of embeddings instead of OpenAI's ``{"object": "list", ...}``.
        self.envelope = True
        #: Answer the embeddings in reverse order (the ``index`` fields still right).
        self.reverse = False
        #: Seconds to wait before answering an embeddings request.
        self.delay = 0.0
        #: IONOS's rate limit (5 requests/s, bursts of 10) on embeddings requests: 429 beyond it.
        self.rate_limit = False
        self._bucket = TokenBucket()
        #: The tokens the server reports for a text (``usage``); default words plus two.
        self.count_tokens: Callable[[str], int] = token_count
        #: Every request in arrival order: ``{"t", "path", "url", "auth", "body", "status", "number"}``
        #: (``number``: its place among the requests to the same path).
        self.requests: list[dict] = []
        self._answered = 0  # embeddings requests answered with vectors
        self._lock = threading.Lock()
        server.expect_request("/v1/embeddings", method="POST").respond_with_handler(self._embeddings)
        if serve_models:
            server.expect_request("/v1/models", method="GET").respond_with_handler(self._models)

    @property
    def url(self) -> str:
        """The base URL a client is given: ``http://127.0.0.1:<port>/v1``."""
        return self.server.url_for("/v1")

    # --- what was asked -------------------------------------------------------------------------

    @property
    def auth(self) -> list[tuple[str, str | None]]:
        """``(path, Authorization header)`` of every request, both routes, refused ones too."""
        return [(r["path"], r["auth"]) for r in self.requests]

    @property
    def inputs(self) -> list[list[str]]:
        """The texts of every embeddings request that arrived, one list per request."""
        return [texts_of(r["body"]) for r in self.requests if r["path"] == "/v1/embeddings"]

    @property
    def served_inputs(self) -> list[list[str]]:
        """The texts of the embeddings requests answered with vectors, one list per request."""
        return [
            texts_of(r["body"]) for r in self.requests if r["path"] == "/v1/embeddings" and r["status"] == 200
        ]

    @property
    def embedded(self) -> list[str]:
        """Every text answered with a vector, in order."""
        return [t for batch in self.served_inputs for t in batch]

    @property
    def prompt_tokens(self) -> int:
        """Tokens the server reported for the vectors it sent."""
        return sum(self.count_tokens(t) for t in self.embedded)

    # --- the two routes -------------------------------------------------------------------------

    def _record(self, request: Request) -> dict:
        record = {
            "t": time.monotonic(),
            "path": request.path,
            "url": request.url,
            "auth": request.headers.get("Authorization"),
            "body": request.get_json(silent=True) if request.method == "POST" else None,
            "status": None,
        }
        with self._lock:
            record["number"] = sum(1 for r in self.requests if r["path"] == request.path)
            self.requests.append(record)
        return record

    def _refusal(self, record: dict) -> Response | None:
        if self.refuse:
            return error_response(401, "Unauthorized", "authentication_error")
        refused = unauthorised(record["auth"], self.token)
        return json_response(refused[1], refused[0]) if refused else None

    def _answer(self, record: dict, response: Response) -> Response:
        record["status"] = response.status_code
        return response

    def _models(self, request: Request) -> Response:
        record = self._record(request)
        refused = self._refusal(record)
        if refused:
            return self._answer(record, refused)
        return self._answer(record, json_response(models_body(self.models, owner="test")))

    def _embeddings(self, request: Request) -> Response:
        record = self._record(request)
        if self.delay:
            time.sleep(self.delay)
        number = record["number"]
        if number < len(self.script) and self.script[number] is not None:
            scripted = self.script[number](request)
            if scripted is not None:
                return self._answer(record, scripted)
        refused = self._refusal(record)
        if refused:
            return self._answer(record, refused)
        if self.rate_limit and (wait := self._bucket.take()) > 0:
            status, body, headers = rate_limited(wait)
            return self._answer(record, json_response(body, status, headers))
        invalid = request_error(record["body"], self.models)
        if invalid:
            return self._answer(record, json_response(invalid[1], invalid[0]))
        with self._lock:  # decided and counted at once: concurrent requests see one count
            failing = self.fail_after is not None and self._answered >= self.fail_after
            self._answered += not failing
        if failing:
            return self._answer(
                record, error_response(self.fail_status, "Request refused by the test server")
            )
        body = record["body"]
        payload = embeddings_body(
            body, self.models[body["model"]], reverse=self.reverse, count_tokens=self.count_tokens
        )
        return self._answer(record, json_response(payload if self.envelope else payload["data"]))


@pytest.fixture
def fake_openai() -> Iterator[Callable[..., FakeOpenAI]]:
    """``fake_openai(models=IONOS_MODELS, token=None, serve_models=True)`` → a :class:`FakeOpenAI`
    on a new server of its own; every server is stopped after the test."""
    started: list[HTTPServer] = []

    def start(**options) -> FakeOpenAI:
        server = start_server()
        started.append(server)
        return FakeOpenAI(server, **options)

    yield start
    for server in started:
        stop_server(server)
