"""Injected faults: answers by path or by (verb, resource), and concurrent writers (races).

Why: a controller must survive 429 with Retry-After, 500s, lost answers and 409 races; tests
schedule them on the fake server (FakeKube.fail_next/fail/race_next) instead of hoping for them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .auth import Attributes
from .errors import status
from .request import Response

_DEFAULT_FAULTS = {
    500: ("InternalError", "Internal error occurred: injected failure"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
    504: ("Timeout", "the server was unable to return a response in the time allotted, but may still be "
                     "processing the request"),
    409: ("Conflict", "the object has been modified; please apply your changes to the latest version and try again"),
    403: ("Forbidden", "forbidden"),
    404: ("NotFound", "the server could not find the requested resource"),
}


@dataclass
class Fault:
    """An injected answer: by method + path regex (before authentication) or by verb + resource."""

    method: str
    path: re.Pattern[str] | None
    code: int
    times: int
    message: str | None = None
    reason: str | None = None
    retry_after: int | None = None
    apply: bool = False
    verb: str | None = None
    resource: str | None = None
    name: str | None = None

    def by_path(self, method: str, path: str) -> bool:
        return self.path is not None and self.method in ("*", method) and self.path.search(path) is not None

    def by_attributes(self, a: Attributes, key: str) -> bool:
        return (self.path is None and (self.verb in (None, a.verb)) and self.resource in (None, a.resource, key)
                and self.name in (None, a.name) and a.resource_request)

    def response(self) -> Response:
        reason, message = _DEFAULT_FAULTS.get(self.code, ("", f"injected failure {self.code}"))
        details: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if self.retry_after is not None or self.code == 429:
            details["retryAfterSeconds"] = self.retry_after or 1
            headers["Retry-After"] = str(self.retry_after or 1)
        body = status(self.code, self.reason or reason, self.message or message, details)
        return Response(self.code, body, headers)


@dataclass
class Race:
    """A concurrent writer that changes the object just before a matching write is applied."""

    verb: str | None
    resource: str | None
    name: str | None
    times: int
    mutate: Callable[[dict[str, Any]], None] | None


@dataclass
class Faults:
    items: list[Fault] = field(default_factory=list)
    races: list[Race] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, pred: Callable[[Fault], bool]) -> Fault | None:
        with self.lock:
            for f in self.items:
                if pred(f):
                    f.times -= 1
                    if f.times <= 0:
                        self.items.remove(f)
                    return f
        return None

    def take_race(self, verb: str, resource: str, key: str, name: str) -> Race | None:
        with self.lock:
            for r in self.races:
                if r.verb in (None, verb) and r.resource in (None, resource, key) and r.name in (None, name):
                    r.times -= 1
                    if r.times <= 0:
                        self.races.remove(r)
                    return r
        return None
