"""The controller's work queue: keys, not events; at most once queued; never two workers on one key.

client-go's semantics (handlers enqueue keys, workers reconcile a key from the caches): a key added while
queued is dropped (de-duplicated); a key added while a worker processes it is remembered ("dirty") and queued
again when that worker calls `done`, so a change is never lost and never handled concurrently. Delayed adds
(`add_after`) live in a heap that `get` drains when due, so the queue needs no thread of its own. Failures
requeue through controller-runtime's default rate limiter (core/controller/backoff.py).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from regcred.core.controller.backoff import DefaultRateLimiter

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    """De-duplicating, delaying, rate-limited queue of keys, safe for many worker threads."""

    def __init__(self, *, limiter: DefaultRateLimiter | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limiter = limiter or DefaultRateLimiter()
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()          # wanted: queued, or to be queued again after `done`
        self._processing: set[K] = set()     # handed to a worker, not yet done
        self._waiting: dict[K, float] = {}   # add_after: key -> when due (the earliest asked for)
        self._heap: list[tuple[float, int, K]] = []
        self._seq = itertools.count()
        self._shutdown = False

    def add(self, key: K) -> None:
        with self._cond:
            self._add_locked(key)

    def _add_locked(self, key: K) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._cond.notify()

    def add_after(self, key: K, delay: float) -> None:
        """Add `key` once `delay` seconds have passed (an earlier pending due time wins)."""
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutdown:
                return
            due = self._clock() + delay
            if key in self._waiting and self._waiting[key] <= due:
                return
            self._waiting[key] = due
            heapq.heappush(self._heap, (due, next(self._seq), key))
            self._cond.notify_all()  # a getter may now have an earlier wake-up

    def add_rate_limited(self, key: K) -> None:
        """Requeue after a failure: per-key exponential backoff, bounded overall by the token bucket."""
        with self._cond:
            delay = self.limiter.when(key, self._clock())
        self.add_after(key, delay)

    def forget(self, key: K) -> None:
        """The key succeeded: its next failure starts again from the smallest delay."""
        with self._cond:
            self.limiter.forget(key)

    def retries(self, key: K) -> int:
        with self._cond:
            return self.limiter.retries(key)

    def _promote_due_locked(self) -> float | None:
        """Move due delayed keys into the queue; return seconds until the next one (None: none left)."""
        now = self._clock()
        while self._heap:
            due, _, key = self._heap[0]
            if self._waiting.get(key) != due:  # superseded by an earlier add_after
                heapq.heappop(self._heap)
                continue
            if due > now:
                return due - now
            heapq.heappop(self._heap)
            del self._waiting[key]
            self._add_locked(key)
        return None

    def get(self, timeout: float | None = None) -> K | None:
        """The next key to process (now owned by the caller until `done`); None on shutdown or timeout."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                if self._shutdown:
                    return None
                next_due = self._promote_due_locked()
                if self._queue:
                    key = self._queue.popleft()
                    self._processing.add(key)
                    self._dirty.discard(key)
                    return key
                wait = next_due
                if deadline is not None:
                    left = deadline - self._clock()
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)

    def done(self, key: K) -> None:
        """The worker finished `key`; if it was added meanwhile, it is queued again now."""
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty and not self._shutdown:
                self._queue.append(key)
                self._cond.notify()

    def shutdown(self) -> None:
        """Stop handing out keys and wake every waiting `get` (it returns None)."""
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    def outstanding(self) -> set[K]:
        """Keys queued or being processed (not those only waiting out a retry delay): work not done yet."""
        with self._cond:
            return self._dirty | self._processing

    @property
    def shutting_down(self) -> bool:
        return self._shutdown

    def __len__(self) -> int:
        """Keys ready to be processed (not the delayed ones, not the ones being processed)."""
        with self._cond:
            return len(self._queue)
