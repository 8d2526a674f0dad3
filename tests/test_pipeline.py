"""embed_with_cache: validation, de-duplication, cache use, batching, partial failure, progress."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedcore.errors import EmptyInputError, InputError, InvalidResponseError, ServerError
from embedcore.providers.catalog import MINILM_ID
from embedcore.providers.pipeline import BatchOutput, embed_with_cache, validate_texts
from embedcore.stores.cache import EmbeddingCache

EP = "http://127.0.0.1:1/v1"
D = 6


def fixture_vector(text: str) -> np.ndarray:
    """Test fixture only: a deterministic stand-in vector for a text."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return np.frombuffer(digest[:D], dtype=np.uint8).astype(np.float32) / 255.0


class FakeSender:
    """Records every batch; can fail on chosen call numbers; optionally slow."""

    def __init__(self, fail_on: set[int] = frozenset(), delay: float = 0.0, tokens: bool = False):
        self.batches: list[list[str]] = []
        self.fail_on = set(fail_on)
        self.delay = delay
        self.tokens = tokens
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.threads: set[str] = set()

    @property
    def sent(self) -> list[str]:
        return [t for b in self.batches for t in b]

    def __call__(self, batch: list[str]) -> BatchOutput:
        with self.lock:
            call = len(self.batches)
            self.batches.append(list(batch))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.threads.add(threading.current_thread().name)
        try:
            if self.delay:
                time.sleep(self.delay)
            if call in self.fail_on:
                raise ServerError("boom", status_code=500, attempts=3)
            return BatchOutput(
                vectors=np.stack([fixture_vector(t) for t in batch]),
                prompt_tokens=2 * len(batch),
                total_tokens=2 * len(batch),
                requests=2,
                retries=1,
                token_counts=np.array([len(t.split()) for t in batch]) if self.tokens else None,
            )
        finally:
            with self.lock:
                self.active -= 1


@pytest.fixture
def cache(tmp_path: Path) -> EmbeddingCache:
    c = EmbeddingCache(tmp_path / "p.sqlite3")
    yield c
    c.close()


def run(texts, sender, cache=None, **kw):
    kw.setdefault("batch_size", 4)
    return embed_with_cache(texts, "m", endpoint_id=EP, cache=cache, send_batch=sender, **kw)


def expected(texts: list[str]) -> np.ndarray:
    return np.stack([fixture_vector(t) for t in texts])


# --- validation ----------------------------------------------------------------


@pytest.mark.parametrize("texts", [[], (), ["", "  ", "\n\t"]])
def test_nothing_to_embed(texts) -> None:
    with pytest.raises(EmptyInputError):
        run(texts, FakeSender())


def test_blank_text_is_named_by_position() -> None:
    sender = FakeSender()
    with pytest.raises(InputError, match=r"#2, #4") as info:
        run(["a", " ", "b", ""], sender)
    assert not isinstance(info.value, EmptyInputError)
    assert sender.batches == []


def test_many_blank_texts_message_is_short() -> None:
    with pytest.raises(InputError, match=r"7 texts are.*#1, #2, #3, #4, #5 …"):
        validate_texts([""] * 7 + ["x"])


def test_non_strings_and_single_string_are_refused() -> None:
    with pytest.raises(InputError, match=r"#2 is a int"):
        run(["a", 3], FakeSender())
    with pytest.raises(InputError, match="single string"):
        run("hello", FakeSender())
    assert isinstance(InputError("x"), ValueError)


def test_bad_batch_size() -> None:
    with pytest.raises(ValueError):
        run(["a"], FakeSender(), batch_size=0)


# --- order, dedupe, batching -----------------------------------------------------


def test_order_kept_and_duplicates_sent_once() -> None:
    texts = ["b", "a", "b", "c", "a", "d", "e", "f", "b"]
    sender = FakeSender()
    res = run(texts, sender, batch_size=2)
    np.testing.assert_array_equal(res.vectors, expected(texts))
    assert res.vectors.dtype == np.float32
    assert sender.sent == ["b", "a", "c", "d", "e", "f"]
    assert [len(b) for b in sender.batches] == [2, 2, 2]
    assert (res.fetched, res.cached) == (6, 0)
    assert (res.requests, res.retries) == (6, 3)
    assert (res.prompt_tokens, res.total_tokens) == (12, 12)
    assert res.model == "m" and res.dimensions == D and len(res) == 9
    assert res.elapsed > 0
    assert res.token_counts is None


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.sampled_from(["x", "y", "z", "w w", "ü", "🦜", "long text here", "q"]), min_size=1),
    batch_size=st.integers(1, 5),
    concurrency=st.integers(1, 3),
)
def test_any_input_maps_back_in_order(texts, batch_size, concurrency) -> None:
    sender = FakeSender()
    res = run(texts, sender, batch_size=batch_size, max_concurrency=concurrency)
    np.testing.assert_array_equal(res.vectors, expected(texts))
    assert sorted(sender.sent) == sorted(set(texts))
    assert all(len(b) <= batch_size for b in sender.batches)


# --- cache ------------------------------------------------------------------------


def test_second_call_is_served_from_cache(cache: EmbeddingCache) -> None:
    texts = [f"t{i}" for i in range(10)]
    first = run(texts, FakeSender(), cache)
    sender = FakeSender()
    second = run([*texts[::-1], "t3"], sender, cache)
    assert sender.batches == []
    assert (second.cached, second.fetched, second.requests) == (10, 0, 0)
    np.testing.assert_array_equal(second.vectors[:10], first.vectors[::-1])


def test_only_missing_texts_are_sent(cache: EmbeddingCache) -> None:
    run(["a", "b", "c"], FakeSender(), cache)
    sender = FakeSender()
    res = run(["c", "d", "a", "e", "d"], sender, cache)
    assert sender.sent == ["d", "e"]
    assert (res.cached, res.fetched) == (2, 2)
    np.testing.assert_array_equal(res.vectors, expected(["c", "d", "a", "e", "d"]))


def test_cache_is_per_model_and_endpoint(cache: EmbeddingCache) -> None:
    run(["a"], FakeSender(), cache)
    sender = FakeSender()
    embed_with_cache(["a"], "other", endpoint_id=EP, cache=cache, send_batch=sender, batch_size=4)
    embed_with_cache(["a"], "m", endpoint_id="local:", cache=cache, send_batch=sender, batch_size=4)
    assert sender.sent == ["a", "a"]


def test_partial_failure_keeps_earlier_batches(cache: EmbeddingCache) -> None:
    texts = [f"t{i}" for i in range(40)]  # 10 batches of 4
    failing = FakeSender(fail_on={6})  # batch 7 of 10
    with pytest.raises(ServerError) as info:
        run(texts, failing, cache)
    assert info.value.attempts == 3 and info.value.status_code == 500
    assert len(failing.batches) == 7  # nothing started after the failure
    assert len(cache.get_many(EP, "m", texts)) == 24
    retry = FakeSender()
    res = run(texts, retry, cache)
    assert retry.sent == texts[24:]
    assert (res.cached, res.fetched) == (24, 16)
    np.testing.assert_array_equal(res.vectors, expected(texts))


def test_partial_failure_with_concurrency_sends_nothing_twice(cache: EmbeddingCache) -> None:
    texts = [f"t{i}" for i in range(40)]
    failing = FakeSender(fail_on={4}, delay=0.01)
    with pytest.raises(ServerError):
        run(texts, failing, cache, max_concurrency=3)
    ok = [t for i, b in enumerate(failing.batches) if i != 4 for t in b]
    assert set(cache.get_many(EP, "m", texts)) == set(ok)  # every finished batch was kept
    assert len(failing.batches) < 10
    retry = FakeSender()
    res = run(texts, retry, cache, max_concurrency=3)
    assert set(retry.sent) == set(texts) - set(ok)
    assert len(retry.sent) == len(set(retry.sent))
    np.testing.assert_array_equal(res.vectors, expected(texts))


# --- concurrency, limiter, progress --------------------------------------------------


def test_concurrency_is_used_and_bounded() -> None:
    sender = FakeSender(delay=0.05)
    texts = [f"t{i}" for i in range(24)]
    res = run(texts, sender, batch_size=2, max_concurrency=3)
    assert sender.max_active == 3
    np.testing.assert_array_equal(res.vectors, expected(texts))
    serial = FakeSender(delay=0.01)
    run(texts, serial, batch_size=2, max_concurrency=1)
    assert serial.max_active == 1
    assert serial.threads == {threading.current_thread().name}


def test_limiter_is_taken_once_per_batch() -> None:
    class CountingLimiter:
        n = 0

        def acquire(self) -> float:
            self.n += 1
            return 0.0

    lim = CountingLimiter()
    run([f"t{i}" for i in range(9)], FakeSender(), batch_size=4, limiter=lim)
    assert lim.n == 3


def test_progress_reports_in_caller_thread(cache: EmbeddingCache) -> None:
    run(["a", "b"], FakeSender(), cache)
    calls: list[tuple[int, int, str]] = []
    texts = ["a", "b", "a", *[f"t{i}" for i in range(9)]]
    run(
        texts,
        FakeSender(delay=0.01),
        cache,
        batch_size=4,
        max_concurrency=2,
        progress=lambda d, t: calls.append((d, t, threading.current_thread().name)),
    )
    done = [c[0] for c in calls]
    assert done[0] == 3  # the cached a, b, a
    assert done == sorted(done) and done[-1] == 12
    assert len(calls) == 1 + 3
    assert {c[1] for c in calls} == {12}
    assert {c[2] for c in calls} == {threading.current_thread().name}


# --- checks on what send_batch returns -----------------------------------------------


def test_wrong_vector_count_from_sender() -> None:
    def bad(batch):
        return BatchOutput(vectors=np.zeros((len(batch) - 1, 3), np.float32))

    with pytest.raises(InvalidResponseError, match="Expected 4 vectors"):
        run(["a", "b", "c", "d"], bad)


def test_dimension_change_between_batches() -> None:
    sizes = iter([3, 5])

    def shifting(batch):
        return BatchOutput(vectors=np.ones((len(batch), next(sizes)), np.float32))

    with pytest.raises(InvalidResponseError, match="3 then 5"):
        run(["a", "b", "c", "d", "e"], shifting)


def test_cached_and_fetched_dimensions_must_agree(cache: EmbeddingCache) -> None:
    cache.put_many(EP, "m", ["a"], np.ones((1, 3), np.float32))
    with pytest.raises(InvalidResponseError, match="clear the cache"):
        run(["a", "b"], FakeSender(), cache)


def test_token_counts_and_over_limit_warning() -> None:
    long = " ".join(["w"] * 300)
    sender = FakeSender(tokens=True)
    res = embed_with_cache(
        ["one two", long, "one two"],
        MINILM_ID,
        endpoint_id="local:",
        cache=None,
        send_batch=sender,
        batch_size=8,
    )
    np.testing.assert_array_equal(res.token_counts, [2, 300, 2])
    assert len(res.warnings) == 1 and "256 tokens" in res.warnings[0]


def test_token_counts_unknown_for_cached_texts(cache: EmbeddingCache) -> None:
    run(["a b"], FakeSender(tokens=True), cache)
    res = run(["a b", "c"], FakeSender(tokens=True), cache)
    assert res.token_counts is None
