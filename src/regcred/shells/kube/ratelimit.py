"""Client-side pacing and accounting of Kubernetes API requests: lightkube has no rate limiter of its own.

The token bucket is client-go's (`--qps`, `--burst`), so regcred loads an API server as kubectl would; the
counter feeds summaries and the benchmarks.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


class TokenBucket:
    """client-go's rate limiter: `burst` requests at once, then `qps` per second. Thread-safe."""

    def __init__(self, qps: float, burst: int) -> None:
        self.qps = qps
        self.capacity = max(1, burst)
        self._tokens = float(self.capacity)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if self.qps <= 0:  # 0 or negative: no limit
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1
            wait = -self._tokens / self.qps if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


@dataclass
class RequestCounter:
    """How many requests were sent, by method (for summaries and benchmarks)."""

    by_method: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, method: str) -> None:
        with self._lock:
            self.by_method[method] = self.by_method.get(method, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.by_method.values())
