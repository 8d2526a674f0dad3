"""A local OpenAI-compatible embeddings server with a rate limit, for the transport benchmark.

It behaves like the IONOS AI Model Hub as far as a client can see: ``POST /v1/embeddings``
and ``GET /v1/models``; 50 ms added to every request; 5 requests/s with bursts of 10,
enforced by a token bucket, and beyond it ``429`` with ``Retry-After`` (whole seconds,
as RFC 9110 writes it, rounded up) and an OpenAI-style error body. Every answer (models,
vectors, token counts, envelopes, errors, the bucket) is built by tests/fake_ionos.py, the
one definition of the fake API that the tests' server (tests/fake_openai.py) uses too; this
module is only the transport a benchmark needs.

**The vectors it returns are not embeddings.** Each is derived deterministically from
a SHA-256 of its text (a seeded normal vector), because this server exists
to measure *transport* — batching, pacing, retries, response decoding — and a real
model would only add its own compute time to every figure. Never use its vectors
for anything that depends on meaning.

Safety bounds: it listens on 127.0.0.1 only, stops by itself after ``max_seconds``
and refuses (``503``) everything after ``max_requests``.

Run it alone: ``python -m bench.fake_api --port 8765 --max-seconds 600``; it prints
``LISTENING http://127.0.0.1:PORT/v1`` once it accepts connections. ``GET /_stats``
returns its counters, ``POST /_reset`` zeroes them and refills the bucket.

Hand-written on the standard library's ``ThreadingHTTPServer`` rather than
pytest-httpserver (werkzeug): a benchmark server must answer requests concurrently
and keep connections alive (HTTP/1.1), which is what clients do in production.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fake_ionos import (
    IONOS_MODELS,
    TokenBucket,
    embeddings_body,
    error_body,
    models_body,
    rate_limited,
    request_error,
    texts_of,
    unauthorised,
)

#: The IONOS models and their dimensions (tests/fake_ionos.py).
MODELS = IONOS_MODELS


def _dumps(body: Any) -> bytes:
    """JSON bytes, through orjson when installed (the app's requirements have it).

    The real server runs on someone else's machine; here it shares our two cores with the
    client being measured. The stdlib's ``json.dumps`` spends ~100-300 ms on the 65k floats
    of a 64 × 1024 float response, which would be charged to whichever client asks for
    floats; orjson does it in a tenth of that.
    """
    try:
        import orjson
    except ImportError:
        return json.dumps(body).encode()
    return orjson.dumps(body)


class FakeEmbeddingsServer(ThreadingHTTPServer):
    """The server; ``serve_in_thread()`` for tests, ``main()`` for a separate process."""

    daemon_threads = True
    # A burst of 15+ connections at once must queue, not be refused by a short backlog.
    request_queue_size = 128

    def __init__(
        self,
        port: int = 0,
        *,
        rate: float = 5.0,
        burst: int = 10,
        latency: float = 0.05,
        max_requests: int = 20_000,
        max_seconds: float = 1800.0,
        token: str | None = None,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        #: With a token, every /v1 request without ``Authorization: Bearer <token>`` gets 401.
        self.token = token
        self.bucket = TokenBucket(rate, burst)
        self.latency = latency
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.started = time.monotonic()
        self.stats_lock = threading.Lock()
        self.reset_stats()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def reset_stats(self) -> None:
        with self.stats_lock:
            self.stats: dict[str, Any] = {
                "requests": 0,
                "ok": 0,
                "rate_limited": 0,
                "errors": 0,
                "unauthorised": 0,
                "texts": 0,
                "max_batch": 0,
                "in_flight": 0,
                "max_in_flight": 0,
            }
        self.bucket.reset()

    def count(self, **changes: int) -> None:
        with self.stats_lock:
            for key, value in changes.items():
                self.stats[key] += value
            self.stats["max_in_flight"] = max(self.stats["max_in_flight"], self.stats["in_flight"])

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="fake-api", daemon=True)
        thread.start()
        # The time bound: stop serving by itself even if nobody calls close().
        self._timer = threading.Timer(self.max_seconds, self.shutdown)
        self._timer.daemon = True
        self._timer.start()
        return thread

    def close(self) -> None:
        """Stop serving and release the port."""
        timer = getattr(self, "_timer", None)
        if timer is not None:
            timer.cancel()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real clients expect
    server: FakeEmbeddingsServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # thousands of requests; the counters say what matters

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = _dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-request-id", f"bench-{time.monotonic_ns()}")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, error_body(status, message, kind), headers)

    def _admitted(self) -> bool:
        """Count the request, apply the bounds, the token and the rate limit; False if already answered."""
        server = self.server
        server.count(requests=1)
        refused = unauthorised(self.headers.get("Authorization"), server.token or None)
        if refused:
            server.count(unauthorised=1)
            self._send(*refused)
            return False
        if server.stats["requests"] > server.max_requests:
            self._error(503, "benchmark server request budget exhausted", "server_error")
            return False
        wait = server.bucket.take()
        time.sleep(server.latency)  # every request costs the network + queueing time
        if wait > 0:
            server.count(rate_limited=1)
            self._send(*rate_limited(wait, server.bucket.rate))
            return False
        return True

    def do_GET(self) -> None:
        path = self.path.rstrip("/")
        if path == "/_stats":
            with self.server.stats_lock:
                self._send(200, dict(self.server.stats))
        elif path == "/v1/models":
            if self._admitted():
                self._send(200, models_body(MODELS, owner="bench"))
        else:
            self._error(404, f"no route {self.path}", "not_found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.rstrip("/")
        if path == "/_reset":
            self.server.reset_stats()
            self._send(200, {"ok": True})
            return
        if path != "/v1/embeddings":
            self._error(404, f"no route {self.path}", "not_found")
            return
        self.server.count(in_flight=1)
        try:
            if self._admitted():
                self._embeddings(raw)
        finally:
            self.server.count(in_flight=-1)

    def _embeddings(self, raw: bytes) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        invalid = request_error(body, MODELS)
        if invalid:
            self.server.count(errors=1)
            self._send(*invalid)
            return
        texts = texts_of(body)
        self.server.count(ok=1, texts=len(texts))
        with self.server.stats_lock:
            self.server.stats["max_batch"] = max(self.server.stats["max_batch"], len(texts))
        answer = embeddings_body(body, MODELS[body["model"]], request_id=f"embd-{time.monotonic_ns()}")
        self._send(200, answer)


class FakeAPIProcess:
    """The server in its own process (its GIL apart from the client's), as a context manager.

    >>> with FakeAPIProcess(max_seconds=300) as api:
    ...     api.url, api.stats()
    """

    def __init__(self, port: int = 0, **options: Any) -> None:
        self.port = port
        self.options = options
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> FakeAPIProcess:
        return self if self.process is not None else self.start()

    def start(self) -> FakeAPIProcess:
        """Start the server process; ``RuntimeError`` if it does not come up (port taken, ...)."""
        args = [sys.executable, "-m", "bench.fake_api", "--port", str(self.port)]
        for key, value in self.options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        from .common import ROOT, child_env

        self.process = subprocess.Popen(args, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("LISTENING "):
            self.process.kill()
            self.process.wait()
            self.process = None
            raise RuntimeError(f"fake API did not start: {line!r}")
        self.url = line.split()[1]
        return self

    def _call(self, method: str, path: str) -> dict[str, Any]:
        base = self.url.removesuffix("/v1")
        request = urllib.request.Request(base + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_stats")

    def reset(self) -> None:
        self._call("POST", "/_reset")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=5.0, help="requests per second (steady)")
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every request")
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    parser.add_argument("--token", default=None, help="require this bearer token (401 without it)")
    options = parser.parse_args(argv)
    server = FakeEmbeddingsServer(
        options.port,
        rate=options.rate,
        burst=options.burst,
        latency=options.latency,
        max_requests=options.max_requests,
        max_seconds=options.max_seconds,
        token=options.token,
    )
    print(f"LISTENING {server.url}", flush=True)
    server.serve_in_thread().join()


if __name__ == "__main__":
    main()
