"""embedcore.memo: the one helper every engine memo goes through."""

import threading

import numpy as np
import pytest

from embedcore.memo import Memo, digest


def test_digest_tells_apart_every_input_that_changes_a_result():
    texts = ("a", "b")
    assert digest("pairs", texts, None) != digest("pairs", texts, ("x", "y"))
    assert digest(("ab", "c")) != digest(("a", "bc"))
    assert digest(np.zeros(2, np.float32)) != digest(np.zeros(2, np.float64))
    assert digest(np.zeros((2, 1))) != digest(np.zeros((1, 2)))
    assert digest({"k": 1, "j": 2}) == digest({"j": 2, "k": 1})
    assert digest(1) != digest("1") != digest(1.0)


def test_digest_refuses_what_it_cannot_key_by_value():
    with pytest.raises(TypeError, match="object"):
        digest(object())


def test_memo_is_bounded_least_recently_used_first():
    memo: Memo[int] = Memo(maxsize=2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # a is now the most recently used
    memo.put("c", 3)
    assert "b" not in memo and "a" in memo and "c" in memo
    assert len(memo) == 2


def test_memo_computes_once_per_key_and_remembers():
    memo: Memo[int] = Memo(maxsize=4)
    calls = []
    for _ in range(3):
        assert memo.get_or_compute("k", lambda: calls.append(1) or 7) == 7
    assert len(calls) == 1


def test_memo_stays_consistent_under_threads():
    memo: Memo[int] = Memo(maxsize=50)
    errors = []

    def work(offset):
        try:
            for i in range(500):
                key = (offset + i) % 80
                assert memo.get_or_compute(key, lambda key=key: key * 2) == key * 2
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n * 7,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(memo) == 50
