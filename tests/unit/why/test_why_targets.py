"""Which workload made a Pod that is gone: the SuccessfulCreate Event its controller recorded, else its name."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from regcred.core.why.targets import created_by, likely_owner


def made(kind: str, name: str, note: str, *, v1: bool = True, reason: str = "SuccessfulCreate") -> dict[str, Any]:
    about = {"kind": kind, "name": name}
    return ({"reason": reason, "note": note, "regarding": about} if v1 else
            {"reason": reason, "message": note, "involvedObject": about})


def test_each_controllers_wording_names_its_pod() -> None:
    events = [made("ReplicaSet", "web-7d9f", "Created pod: web-7d9f-x2x4z"),
              made("StatefulSet", "db", "create Pod db-0 in StatefulSet db successful", v1=False),
              made("DaemonSet", "agent", "Created pod: agent-q8v7k", v1=False),
              made("ReplicaSet", "web-7d9f", "Deleted pod: web-7d9f-aaaaa", reason="SuccessfulDelete")]
    assert created_by("web-7d9f-x2x4z", events) == ("ReplicaSet", "web-7d9f")
    assert created_by("db-0", events) == ("StatefulSet", "db")
    assert created_by("agent-q8v7k", events) == ("DaemonSet", "agent")
    assert created_by("web-7d9f-aaaaa", events) is None  # deleted, not created
    assert created_by("web-7d9f-x2x4", events) is None  # a prefix is not the name
    assert created_by("x", [made("Node", "n1", "Created pod: x")]) is None  # not a workload


@given(st.lists(st.dictionaries(st.sampled_from(["reason", "note", "message", "regarding", "involvedObject"]),
                                st.one_of(st.none(), st.text(max_size=30), st.integers(),
                                          st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3)),
                                max_size=5), max_size=5))
def test_any_event_shape_is_an_answer_or_none_never_a_crash(events: list[dict[str, Any]]) -> None:
    found = created_by("web-1", events)
    assert found is None or isinstance(found, tuple)


def test_by_name_the_longest_prefix_wins() -> None:
    workloads = [{"kind": "Deployment", "metadata": {"name": "web"}},
                 {"kind": "ReplicaSet", "metadata": {"name": "web-7d9f"}}]
    found = likely_owner("web-7d9f-x2x4z", workloads)
    assert found is not None and found["metadata"]["name"] == "web-7d9f"
    assert likely_owner("api-1", workloads) is None
