"""embedcore.system: the WorkQueue (first come, first served, a bounded number at once, no slot
lost), and freezing a server's long-lived objects out of garbage collections."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import pytest

from embedcore.system import WorkQueue, freeze_long_lived


def _start_in_order(queue: WorkQueue, n: int, hold: threading.Event, log: list, lock: threading.Lock):
    """Start ``n`` jobs one after another (each queued before the next starts); return the threads."""
    threads = []
    for i in range(n):

        def job(i=i):
            with queue.turn():
                with lock:
                    log.append(("start", i, queue.running))
                hold.wait(10)
                with lock:
                    log.append(("end", i))

        t = threading.Thread(target=job)
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 5
        while queue.running + queue.waiting < i + 1 and time.monotonic() < deadline:
            time.sleep(0.005)
    return threads


def test_at_most_slots_run_and_the_rest_start_in_arrival_order():
    queue, hold, log, lock = WorkQueue(slots=2), threading.Event(), [], threading.Lock()
    threads = _start_in_order(queue, 6, hold, log, lock)
    time.sleep(0.1)
    assert [e[1] for e in log if e[0] == "start"] == [0, 1]
    assert queue.running == 2 and queue.waiting == 4
    hold.set()
    for t in threads:
        t.join(10)
    starts = [e for e in log if e[0] == "start"]
    assert [e[1] for e in starts] == [0, 1, 2, 3, 4, 5]
    assert max(e[2] for e in starts) == 2
    assert queue.running == 0 and queue.waiting == 0


def test_a_waiter_is_told_how_many_are_ahead_and_the_count_falls():
    queue = WorkQueue(slots=1)
    release = [threading.Event() for _ in range(3)]
    seen: list[int] = []

    def holder(i):
        with queue.turn():
            release[i].wait(10)

    holders = []
    for i in range(3):
        holders.append(threading.Thread(target=holder, args=(i,)))
        holders[-1].start()
        while queue.running + queue.waiting < i + 1:
            time.sleep(0.005)
    got_turn = threading.Event()

    def waiter_job():
        with queue.turn(seen.append, poll=0.02):
            got_turn.set()

    waiter = threading.Thread(target=waiter_job)
    waiter.start()
    for i, event in enumerate(release):
        deadline = time.monotonic() + 5  # the waiter saw its place before the next one leaves
        while not (seen and seen[-1] == 3 - i) and time.monotonic() < deadline:
            time.sleep(0.005)
        event.set()
    waiter.join(5)
    assert got_turn.is_set()
    assert seen[0] == 3  # one running, two queued before it
    assert sorted(set(seen), reverse=True) == [3, 2, 1]
    assert queue.running == 0 and queue.waiting == 0


def test_a_waiter_that_gives_up_leaves_the_line():
    queue = WorkQueue(slots=1)

    class GaveUp(Exception):
        pass

    def give_up(ahead):
        raise GaveUp

    with queue.turn():
        with pytest.raises(GaveUp), queue.turn(give_up):
            pass
        assert queue.waiting == 0
    with queue.turn():  # the slot is free again: nothing is stuck behind the one that left
        assert queue.running == 1


def test_the_slot_is_given_back_when_the_job_fails():
    queue = WorkQueue(slots=1)
    with pytest.raises(ValueError), queue.turn():
        raise ValueError("the job failed")
    assert queue.running == 0


def test_work_slots_come_from_the_environment_or_the_cores(monkeypatch):
    from embedcore.errors import ConfigurationError
    from embedcore.system import usable_cores, work_slots

    monkeypatch.delenv("EMBEDCORE_WORK_SLOTS", raising=False)
    assert work_slots() == usable_cores()
    monkeypatch.setenv("EMBEDCORE_WORK_SLOTS", "3")
    assert work_slots() == 3
    for bad in ("0", "-1", "two", "1.5"):
        monkeypatch.setenv("EMBEDCORE_WORK_SLOTS", bad)
        with pytest.raises(ConfigurationError, match="EMBEDCORE_WORK_SLOTS"):
            work_slots()


class _Node:
    pass


def test_frozen_objects_are_skipped_and_later_garbage_is_still_collected():
    gc.collect()
    gc.unfreeze()
    kept = [_Node() for _ in range(50_000)]  # long-lived: alive when frozen
    for node in kept:
        node.me = node  # each in a cycle of its own, as modules and models are
    dying = _Node()
    dying.me = dying  # garbage already: collected by the freeze's own collection
    dead = weakref.ref(dying)
    del dying
    try:
        tracked = len(gc.get_objects())
        frozen = freeze_long_lived()
        assert dead() is None
        # Frozen objects can still be freed when their last reference goes (threads left
        # by earlier tests drop some), so the count may shrink, never below what we keep.
        assert len(kept) <= gc.get_freeze_count() <= frozen
        # A full collection walks only what was made after the freeze.
        assert len(gc.get_objects()) < tracked - len(kept)
        later = _Node()
        later.me = later  # a run's leftover cycle: still collected
        gone = weakref.ref(later)
        del later
        gc.collect(2)
        assert gone() is None
    finally:
        gc.unfreeze()
    assert len(kept) == 50_000 and all(node.me is node for node in kept)  # frozen, never freed
