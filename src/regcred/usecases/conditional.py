"""One conditional write: read → plan → write with the read's resourceVersion → on 409 read again and re-plan.

Lists such as `ServiceAccount.imagePullSecrets` are atomic: a write replaces them whole, so a write planned on a
stale read would drop another writer's entry. Every write regcred makes to an existing object therefore carries
the resourceVersion it was planned against; when the server answers 409 (someone wrote in between), the object
is read again and the same pure rules plan again, at most `attempts` times. The ServiceAccount, pull-Secret and
spec-apply use cases go through here (and the controller will).

A plan is a function of the object as last read (None: absent) that returns either `Done(outcome)` (nothing to
write, or nothing may be written) or `Write(send)`, where `send` makes the write and returns the outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from regcred.usecases.kubeapi import Obj

T = TypeVar("T")

WRITE_ATTEMPTS = 5  # writes tried per object before giving up (each after a fresh read and a fresh plan)


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    """The plan needs no write: this is the outcome."""

    outcome: T


@dataclass(frozen=True, slots=True)
class Write(Generic[T]):
    """The plan needs a write: `send` makes it, conditional on the planned-against resourceVersion."""

    send: Callable[[], T]
    creates: bool = False  # a create: a 404 then is about its namespace, never "deleted in between"


class KeptChanging(Exception):
    """Every attempt met a conflict: the object changes faster than regcred can write it."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"kept changing: gave up after {attempts} attempts")
        self.attempts = attempts


def write_conditionally(current: Obj | None, plan: Callable[[Obj | None], Done[T] | Write[T]],
                        read: Callable[[], Obj | None], *, planned: Done[T] | Write[T] | None = None,
                        attempts: int = WRITE_ATTEMPTS, replan_when_deleted: bool = False,
                        invalid_may_be_stale: bool = False) -> T:
    """Plan against `current`, write, and on a conflict read (`read`) and plan again; the outcome of the last plan.

    `planned` is the first step when it was planned earlier (plan, then apply): `plan` is then called only after
    a conflict, with the fresh read.

    - KubeConflict (409, including AlreadyExists on a create) always means: read again, plan again.
    - `replan_when_deleted`: a 404 on a write that is not a create means the object was deleted in between: plan
      again against "absent" (e.g. create it). Otherwise the 404 is the caller's to handle.
    - `invalid_may_be_stale`: some servers answer a failed resourceVersion precondition with 422: read again
      and retry only when the object really changed since the read (else the 422 is real and raised).
    Raises KeptChanging after `attempts` conflicts; any other error propagates unchanged.
    """
    from regcred.shells.kube.errors import KubeConflict, KubeInvalid, KubeNotFound, NamespaceGone

    for attempt in range(attempts):
        step = planned if attempt == 0 and planned is not None else plan(current)
        if isinstance(step, Done):
            return step.outcome
        try:
            return step.send()
        except KubeConflict:
            current = read()
        except KubeInvalid:
            if not invalid_may_be_stale:
                raise
            fresh = read()
            if fresh is None or _version(fresh) == _version(current):
                raise
            current = fresh
        except NamespaceGone:
            raise
        except KubeNotFound:
            if not replan_when_deleted or step.creates:
                raise
            current = None
    raise KeptChanging(attempts)


def _version(obj: Obj | None) -> object:
    return None if obj is None else (obj.get("metadata") or {}).get("resourceVersion")
