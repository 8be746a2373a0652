"""Polling for a condition the system under test reaches asynchronously (a watch event, a reconcile)."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(check: Callable[[], object], timeout: float = 10.0, interval: float = 0.05) -> bool:
    """True as soon as `check()` is truthy; False when it still is not after `timeout` seconds (checked once more)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return bool(check())
