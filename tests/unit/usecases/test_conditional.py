"""The one conditional-write helper: read -> plan -> write -> on 409 read again and re-plan, bounded."""

from __future__ import annotations

from typing import Any

import pytest

from regcred.shells.kube import KubeConflict, KubeInvalid, KubeNotFound, NamespaceGone
from regcred.usecases.conditional import WRITE_ATTEMPTS, Done, KeptChanging, Write, write_conditionally


def obj(version: str, names: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": version}, "names": list(names)}


class Server:
    """One object; a write carrying a stale resourceVersion gets 409, as the API server answers."""

    def __init__(self, current: dict[str, Any] | None) -> None:
        self.current = current
        self.reads = 0
        self.writes: list[dict[str, Any]] = []

    def read(self) -> dict[str, Any] | None:
        self.reads += 1
        return self.current

    def write(self, planned_on: dict[str, Any] | None, new: dict[str, Any]) -> str:
        self.writes.append(new)
        if planned_on is not None and self.current is not None and \
                planned_on["metadata"]["resourceVersion"] != self.current["metadata"]["resourceVersion"]:
            raise KubeConflict("conflict", status=409)
        self.current = new
        return "written"


def add_name(server: Server, name: str) -> Any:
    """A plan that appends `name` (keeping everyone else's) unless it is there already."""

    def plan(current: dict[str, Any] | None) -> Done[str] | Write[str]:
        assert current is not None
        if name in current["names"]:
            return Done("unchanged")
        new = obj(str(int(current["metadata"]["resourceVersion"]) + 1), (*current["names"], name))
        return Write(lambda: server.write(current, new))

    return plan


def test_conflict_then_success_keeps_the_other_writers_entry() -> None:
    stale = obj("1", ("a",))
    server = Server(obj("2", ("a", "theirs")))  # someone wrote after our read
    outcome = write_conditionally(stale, add_name(server, "ours"), server.read)
    assert outcome == "written"
    assert server.reads == 1 and len(server.writes) == 2  # 409, fresh read, conditional retry
    assert server.current is not None and server.current["names"] == ["a", "theirs", "ours"]


def test_attempts_exhausted_raises_kept_changing() -> None:
    calls: list[int] = []

    def plan(current: dict[str, Any] | None) -> Write[str]:
        def send() -> str:
            calls.append(1)
            raise KubeConflict("conflict", status=409)
        return Write(send)

    with pytest.raises(KeptChanging) as caught:
        write_conditionally(obj("1"), plan, lambda: obj("2"), attempts=3)
    assert caught.value.attempts == 3 and len(calls) == 3
    assert str(caught.value) == "kept changing: gave up after 3 attempts"
    assert WRITE_ATTEMPTS == 5


def test_nothing_to_do_means_no_write_and_no_read() -> None:
    server = Server(obj("1", ("ours",)))
    assert write_conditionally(server.current, add_name(server, "ours"), server.read) == "unchanged"
    assert server.writes == [] and server.reads == 0


def test_conflict_after_which_nothing_is_left_to_do_stops_without_writing_again() -> None:
    server = Server(obj("2", ("ours",)))  # another writer added the same entry meanwhile
    assert write_conditionally(obj("1"), add_name(server, "ours"), server.read) == "unchanged"
    assert len(server.writes) == 1 and server.reads == 1


def test_planned_step_is_used_first_and_plan_only_after_a_conflict() -> None:
    """Plan, then apply: the write planned earlier goes first; `plan` sees only the fresh read."""
    server = Server(obj("2", ("theirs",)))
    stale = obj("1")
    planned = Write(lambda: server.write(stale, obj("2", ("ours",))))
    seen: list[Any] = []

    def plan(current: dict[str, Any] | None) -> Done[str] | Write[str]:
        seen.append(current)
        return add_name(server, "ours")(current)

    assert write_conditionally(None, plan, server.read, planned=planned) == "written"
    assert seen == [obj("2", ("theirs",))]
    assert server.current is not None and server.current["names"] == ["theirs", "ours"]


def test_deleted_in_between_is_planned_again_as_absent_only_when_asked() -> None:
    plans: list[Any] = []

    def plan(current: dict[str, Any] | None) -> Done[str] | Write[str]:
        plans.append(current)
        if current is None:
            return Done("would create")

        def send() -> str:
            raise KubeNotFound("gone", status=404)
        return Write(send)

    assert write_conditionally(obj("1"), plan, lambda: None, replan_when_deleted=True) == "would create"
    assert plans == [obj("1"), None]
    with pytest.raises(KubeNotFound):
        write_conditionally(obj("1"), plan, lambda: None)


def test_a_create_that_gets_404_is_never_replanned() -> None:
    def plan(current: dict[str, Any] | None) -> Write[str]:
        def send() -> str:
            raise KubeNotFound("no such resource", status=404)
        return Write(send, creates=True)

    with pytest.raises(KubeNotFound):
        write_conditionally(None, plan, lambda: None, replan_when_deleted=True)

    def into_gone_namespace(current: dict[str, Any] | None) -> Write[str]:
        def send() -> str:
            raise NamespaceGone("namespace gone", status=404)
        return Write(send)

    with pytest.raises(NamespaceGone):
        write_conditionally(obj("1"), into_gone_namespace, lambda: None, replan_when_deleted=True)


def test_422_is_a_conflict_only_when_asked_and_when_the_object_really_changed() -> None:
    def plan(current: dict[str, Any] | None) -> Write[str]:
        def send() -> str:
            raise KubeInvalid("invalid", status=422)
        return Write(send)

    with pytest.raises(KubeInvalid):  # not asked: a 422 is the caller's
        write_conditionally(obj("1"), plan, lambda: obj("2"))
    with pytest.raises(KubeInvalid):  # asked, but the object did not change: a real 422
        write_conditionally(obj("1"), plan, lambda: obj("1"), invalid_may_be_stale=True)
    versions = iter(range(2, 100))
    with pytest.raises(KeptChanging):  # it changed every time: retried up to the bound
        write_conditionally(obj("1"), plan, lambda: obj(str(next(versions))), attempts=2, invalid_may_be_stale=True)
