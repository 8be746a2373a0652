"""WorkQueue and the rate-limit math: de-duplication, one worker per key, backoff, delays, shutdown."""

from __future__ import annotations

import threading
import time

import pytest

from regcred.controller.workqueue import WorkQueue
from regcred.core.controller.backoff import BucketDelay, DefaultRateLimiter, ItemExponential, JitteredBackoff


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_queued_at_most_once() -> None:
    q: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "a", "c", "b"):
        q.add(key)
    assert len(q) == 3
    assert [q.get(0), q.get(0), q.get(0)] == ["a", "b", "c"]
    assert q.get(0) is None


def test_a_key_added_while_processing_comes_back_after_done_only() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    assert q.get(0) == "a"
    q.add("a")
    q.add("a")
    assert len(q) == 0 and q.get(0) is None  # not handed to a second worker
    q.done("a")
    assert q.get(0) == "a"
    q.done("a")
    assert q.get(0) is None


def test_no_two_workers_ever_hold_one_key() -> None:
    q: WorkQueue[int] = WorkQueue()
    holding: set[int] = set()
    lock = threading.Lock()
    overlaps: list[int] = []
    processed = [0]
    stop = threading.Event()

    def worker() -> None:
        while True:
            key = q.get(timeout=0.05)
            if key is None:
                if stop.is_set():
                    return
                continue
            with lock:
                if key in holding:
                    overlaps.append(key)
                holding.add(key)
                processed[0] += 1
            time.sleep(0.0005)
            with lock:
                holding.discard(key)
            q.done(key)

    workers = [threading.Thread(target=worker) for _ in range(6)]
    for t in workers:
        t.start()
    for i in range(3000):
        q.add(i % 5)
    deadline = time.monotonic() + 10
    while (len(q) or holding) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for t in workers:
        t.join()
    assert overlaps == []
    assert 5 <= processed[0] <= 3000


def test_item_backoff_grows_from_5ms_to_1000s_and_forget_resets() -> None:
    item = ItemExponential()
    delays = [item.when("k") for _ in range(22)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[-1] == 1000.0 and max(delays) == 1000.0
    assert item.when("other") == 0.005
    item.forget("k")
    assert item.when("k") == 0.005


def test_the_bucket_allows_a_burst_of_100_then_10_per_second() -> None:
    bucket = BucketDelay(now=0.0)
    assert [bucket.reserve(0.0) for _ in range(100)] == [0.0] * 100
    assert bucket.reserve(0.0) == pytest.approx(0.1)
    assert bucket.reserve(0.0) == pytest.approx(0.2)
    assert bucket.reserve(10.0) == 0.0  # refilled


def test_rate_limited_adds_wait_the_larger_delay_and_forget_resets() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    for expected in (0.005, 0.01, 0.02):
        q.add_rate_limited("k")
        assert q.get(0) is None
        clock.now += expected
        assert q.get(0) == "k"
        q.done("k")
    assert q.retries("k") == 3
    q.forget("k")
    assert q.retries("k") == 0


def test_add_after_orders_by_due_time_and_keeps_the_earliest() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    q.add_after("late", 3)
    q.add_after("early", 1)
    q.add_after("mid", 2)
    q.add_after("late", 10)  # a later due time does not postpone it
    q.add_after("mid", 0.5)  # an earlier one wins
    assert q.get(0) is None
    clock.now += 0.6
    assert q.get(0) == "mid"
    clock.now += 0.5
    assert q.get(0) == "early"
    clock.now += 2
    assert q.get(0) == "late"
    assert q.get(0) is None


def test_add_after_wakes_a_waiting_getter_in_real_time() -> None:
    q: WorkQueue[str] = WorkQueue()
    started = time.monotonic()
    q.add_after("k", 0.1)
    assert q.get(timeout=5) == "k"
    assert 0.09 <= time.monotonic() - started < 2


def test_shutdown_wakes_getters_and_refuses_new_keys() -> None:
    q: WorkQueue[str] = WorkQueue()
    got: list[str | None] = []
    getters = [threading.Thread(target=lambda: got.append(q.get())) for _ in range(3)]
    for t in getters:
        t.start()
    time.sleep(0.05)
    q.shutdown()
    for t in getters:
        t.join(2)
    assert got == [None, None, None]
    q.add("x")
    assert len(q) == 0 and q.shutting_down


def test_jittered_backoff_grows_to_30s_and_resets() -> None:
    b = JitteredBackoff(rand=lambda: 0.0)
    assert [round(b.next(), 2) for _ in range(8)] == [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    b.reset()
    assert b.next() == 0.8
    jittered = JitteredBackoff(rand=lambda: 0.5)
    assert jittered.next() == pytest.approx(1.2)


def test_default_limiter_is_the_max_of_both() -> None:
    limiter = DefaultRateLimiter(bucket=BucketDelay(burst=1, now=0.0))
    assert limiter.when("a", 0.0) == 0.005
    assert limiter.when("b", 0.0) == pytest.approx(0.1)
