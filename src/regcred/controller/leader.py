"""Leader election with a coordination.k8s.io/v1 Lease, with client-go's semantics.

Only one replica may write at a time. A candidate takes the Lease only when its record has not changed for a
whole lease duration by the candidate's own monotonic clock (never by comparing the holder's timestamps with
ours: clocks differ), and every write carries the resourceVersion it read, so of two candidates exactly one
wins and the other gets 409. The holder renews every retry period; when no renew has succeeded for the renew
deadline it stops leading at once, even while a request hangs, because the lease may already be someone
else's by the time the request returns. On stop it releases the Lease as client-go does (empty holder,
leaseDurationSeconds 1) so a follower takes over within a retry period instead of a lease duration.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from regcred.core.errors import RegcredError
from regcred.shells.kube.errors import KubeConflict, KubeNotFound

log = logging.getLogger(__name__)
T = TypeVar("T")
Obj = dict[str, Any]
RECORD_FIELDS = ("holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime", "leaseTransitions")


class LeaseApi(Protocol):
    """The few KubeApi calls the elector makes (a separate client keeps renewals out of the workers' bucket)."""

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj: ...
    def create(self, obj: Obj, namespace: str | None = None, *, dry_run: bool = False) -> Obj: ...
    def replace(self, obj: Obj, namespace: str | None = None, *, dry_run: bool = False) -> Obj: ...


def microtime(moment: datetime | None = None) -> str:
    """metav1.MicroTime: UTC with exactly 6 fractional digits and 'Z' (the apiserver refuses 0, 3 or 9: 400)."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    """Unique per process, readable in `kubectl get lease`: the pod's name (POD_NAME, which the Deployment sets
    from the downward API), else the host name, then `_` and a random suffix (a restarted container keeps its
    pod's name but is another candidate)."""
    return f"{os.environ.get('POD_NAME', '').strip() or socket.gethostname()}_{uuid.uuid4().hex[:12]}"


def _record(lease: Obj | None) -> dict[str, Any]:
    spec = (lease or {}).get("spec") or {}
    return {key: spec.get(key) for key in RECORD_FIELDS}


class _TimedOut(Exception):
    """A call did not answer before its deadline (or stop was asked for)."""


class _Lost(Exception):
    """While renewing, the Lease was seen held by another identity: stop leading now, not at the deadline."""


class LeaseElector:
    """Campaign for the Lease, lead while renewals succeed, release it on stop. One `run` per elector."""

    def __init__(self, api: LeaseApi, *, namespace: str, name: str, identity: str, lease_duration: float = 15.0,
                 renew_deadline: float = 10.0, retry_period: float = 2.0) -> None:
        if not (lease_duration > renew_deadline > retry_period > 0):
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0 (client-go's rule)")
        if not identity:
            raise ValueError("identity must not be empty")
        self.api = api
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self._lease: Obj | None = None  # the object as last read or written (its resourceVersion makes writes conditional)
        self._observed: dict[str, Any] | None = None  # the record as last observed ...
        self._observed_at = 0.0  # ... and when, by our monotonic clock
        self._leading = threading.Event()
        self._renewed_at = 0.0  # monotonic time the last successful acquire/renew was sent
        self._pending: threading.Thread | None = None  # the helper thread of the last API call (see _call)

    @property
    def is_leader(self) -> bool:
        return self._leading.is_set()

    # -- the loop ----------------------------------------------------------------------------------------------

    def run(self, *, on_started_leading: Callable[[], None], on_stopped_leading: Callable[[], None],
            stop: threading.Event) -> None:
        """Block: acquire, lead, and return when leadership is lost or `stop` is set.

        on_started_leading must return promptly (start threads, do not block): renewals wait for it.
        on_stopped_leading is called once, only after leading, BEFORE the Lease is released on stop, so the
        caller can stop its writers first; after a lost lease the caller should exit (controller-runtime does).
        """
        if not self._acquire(stop):
            return
        self._leading.set()
        log.info("leading", extra={"lease": f"{self.namespace}/{self.name}", "identity": self.identity})
        try:
            on_started_leading()
            self._renew_until_lost(stop)
        finally:
            self._leading.clear()
            if stop.is_set():
                log.info("stopping: releasing the lease", extra={"lease": f"{self.namespace}/{self.name}"})
            else:
                log.error("leadership lost: stopped leading", extra={"lease": f"{self.namespace}/{self.name}"})
            on_stopped_leading()
            if stop.is_set():
                self._release()

    def _acquire(self, stop: threading.Event) -> bool:
        """Try every retry period (with a little jitter below it) until the Lease is ours or stop is set."""
        while not stop.is_set():
            wait = self.retry_period * (1 - 0.2 * random.random())
            started = time.monotonic()
            try:
                if self._call(self._try_acquire_or_renew, self.renew_deadline, stop):
                    self._renewed_at = started
                    return True
            except _TimedOut:
                pass
            except RegcredError as exc:
                log.warning("cannot acquire the lease: %s", exc, extra={"lease": f"{self.namespace}/{self.name}"})
            if self._observed is not None and self._observed.get("holderIdentity"):
                # Wake exactly when the observed lease expires: takeover within lease duration + retry period.
                expiry = self._observed_at + self._duration_of(self._observed) - time.monotonic()
                wait = max(0.0, min(wait, expiry + 0.01))
            stop.wait(wait)
        return False

    def _renew_until_lost(self, stop: threading.Event) -> None:
        """Renew every retry period; return on stop, or when no renew succeeded for the renew deadline.

        The deadline counts from when the last successful write was SENT (others see the Lease renewed no
        earlier than that), not from when it answered or from when on_started_leading returned.
        """
        last_ok = self._renewed_at
        while not stop.wait(max(0.0, last_ok + self.retry_period - time.monotonic())):
            while True:
                remaining = last_ok + self.renew_deadline - time.monotonic()
                if remaining <= 0:
                    return
                started = time.monotonic()
                try:
                    if self._call(self._renew, remaining, stop):
                        last_ok = started
                        break
                except _TimedOut:
                    if stop.is_set():
                        return
                except _Lost:
                    return
                except RegcredError as exc:
                    log.warning("cannot renew the lease: %s", exc, extra={"lease": f"{self.namespace}/{self.name}"})
                if stop.wait(min(self.retry_period, max(0.0, last_ok + self.renew_deadline - time.monotonic()))):
                    return

    def _renew(self) -> bool:
        """The fast path: PUT our last object with a new renewTime; on any failure, read and decide again."""
        if self._lease is not None and self._observed and self._observed.get("holderIdentity") == self.identity:
            try:
                self._write({**_record(self._lease), "renewTime": microtime()})
                return True
            except RegcredError:
                self._lease = None
        if self._try_acquire_or_renew():
            return True
        if (self._observed or {}).get("holderIdentity") not in (None, "", self.identity):
            raise _Lost()
        return False

    # -- one attempt ------------------------------------------------------------------------------------------

    def _try_acquire_or_renew(self) -> bool:
        now = microtime()
        mine = {"holderIdentity": self.identity, "leaseDurationSeconds": max(1, round(self.lease_duration)),
                "acquireTime": now, "renewTime": now, "leaseTransitions": 0}
        try:
            lease = self.api.get("Lease", self.name, self.namespace)
        except KubeNotFound:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace}, "spec": mine}
            try:
                self._remember(self.api.create(body, self.namespace))
            except KubeConflict:  # AlreadyExists: another candidate created it first
                return False
            return True
        self._lease = lease
        record = _record(lease)
        if record != self._observed:
            self._observed, self._observed_at = record, time.monotonic()
        holder = record.get("holderIdentity")
        if holder and holder != self.identity and time.monotonic() < self._observed_at + self._duration_of(record):
            return False  # held by another, and we have not seen it unchanged for a whole lease duration
        transitions = int(record.get("leaseTransitions") or 0)
        if holder == self.identity:
            mine["acquireTime"], mine["leaseTransitions"] = record.get("acquireTime") or now, transitions
        else:
            mine["leaseTransitions"] = transitions + 1
        try:
            self._write(mine)
        except KubeConflict:  # another candidate wrote first (our resourceVersion is stale)
            return False
        return True

    def _write(self, record: dict[str, Any]) -> None:
        """PUT the Lease with the resourceVersion last seen: a conditional write, 409 when someone else wrote."""
        assert self._lease is not None
        spec = {key: value for key, value in record.items() if value is not None}
        self._remember(self.api.replace({**self._lease, "spec": spec}, self.namespace))

    def _remember(self, lease: Obj) -> None:
        self._lease = lease
        self._observed, self._observed_at = _record(lease), time.monotonic()

    def _duration_of(self, record: dict[str, Any]) -> float:
        seconds = record.get("leaseDurationSeconds")
        return float(seconds) if isinstance(seconds, int) and seconds > 0 else self.lease_duration

    def _release(self) -> None:
        """client-go's release: empty holder, leaseDurationSeconds 1; skipped when the Lease is not ours."""
        if self._lease is None or (self._observed or {}).get("holderIdentity") != self.identity:
            return
        now = microtime()
        record = {"holderIdentity": "", "leaseDurationSeconds": 1, "acquireTime": now, "renewTime": now,
                  "leaseTransitions": (self._observed or {}).get("leaseTransitions") or 0}
        try:
            self._call(lambda: self._write(record), self.retry_period * 2, threading.Event())
            log.info("lease released", extra={"lease": f"{self.namespace}/{self.name}"})
        except (_TimedOut, RegcredError) as exc:
            log.warning("cannot release the lease (it expires by itself): %s", exc)

    def _call(self, fn: Callable[[], T], timeout: float, stop: threading.Event) -> T:
        """fn() in a helper thread, given up after `timeout` or on stop: a hung request cannot hold leadership.

        One call at a time: a call given up on may still be running, and the next waits for it (within its own
        timeout), so two attempts never update the elector's state at once.
        """
        deadline = time.monotonic() + timeout
        done = threading.Event()
        box: dict[str, Any] = {}
        previous = self._pending

        def target() -> None:
            try:
                if previous is not None:
                    previous.join()
                box["value"] = fn()
            except BaseException as exc:
                box["error"] = exc
            finally:
                done.set()

        self._pending = threading.Thread(target=target, name="lease-call", daemon=True)
        self._pending.start()
        while not done.wait(min(0.05, max(0.0, deadline - time.monotonic()))):
            if stop.is_set() or time.monotonic() >= deadline:
                raise _TimedOut()
        if "error" in box:
            raise box["error"]
        value: T = box["value"]
        return value
