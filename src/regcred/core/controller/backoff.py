"""Rate-limit arithmetic of the controller, pure (time is passed in): retries, watches, the work queue.

Why here: the numbers are client-go's and controller-runtime's defaults, and they are easiest to check
(and to reason about) without threads or clocks.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable


class JitteredBackoff:
    """client-go's reflector backoff: 0.8 s doubling to 30 s, each wait stretched by up to `jitter`.

    `reset()` after a healthy watch, so one failure after hours of health waits 0.8 s again.
    """

    def __init__(self, initial: float = 0.8, cap: float = 30.0, *, factor: float = 2.0, jitter: float = 1.0,
                 rand: Callable[[], float] = random.random) -> None:
        self.initial, self.cap, self.factor, self.jitter = initial, cap, factor, jitter
        self._rand = rand
        self._current = initial

    def next(self) -> float:
        """The next wait (seconds) and grow the base for the one after."""
        base = self._current
        self._current = min(self.cap, self._current * self.factor)
        return min(self.cap, base * (1.0 + self.jitter * self._rand()))

    def reset(self) -> None:
        self._current = self.initial


class ItemExponential:
    """Per-item exponential delay: base * 2**failures, capped (controller-runtime: 5 ms .. 1000 s)."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base, self.cap = base, cap
        self.failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        n = self.failures.get(item, 0)
        self.failures[item] = n + 1
        if n > 64:  # 2**64 * base is past any cap; avoid huge floats
            return self.cap
        return min(self.cap, math.ldexp(self.base, n))

    def forget(self, item: Hashable) -> None:
        self.failures.pop(item, None)

    def retries(self, item: Hashable) -> int:
        return self.failures.get(item, 0)


class BucketDelay:
    """An overall token bucket as a delay calculator: `qps` per second after a `burst` (10/s, burst 100).

    `reserve(now)` takes one token and says how long the caller must wait for it (golang.org/x/time/rate's
    Reserve().Delay()).
    """

    def __init__(self, qps: float = 10.0, burst: int = 100, *, now: float = 0.0) -> None:
        self.qps, self.burst = qps, max(1, burst)
        self._tokens = float(self.burst)
        self._last = now

    def reserve(self, now: float) -> float:
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
            self._last = now
        self._tokens -= 1
        return max(0.0, -self._tokens / self.qps)


class DefaultRateLimiter:
    """controller-runtime's default: the larger of the per-item exponential delay and the bucket's delay."""

    def __init__(self, item: ItemExponential | None = None, bucket: BucketDelay | None = None) -> None:
        self.item = item or ItemExponential()
        self.bucket = bucket or BucketDelay()

    def when(self, key: Hashable, now: float) -> float:
        return max(self.item.when(key), self.bucket.reserve(now))

    def forget(self, key: Hashable) -> None:
        self.item.forget(key)

    def retries(self, key: Hashable) -> int:
        return self.item.retries(key)
