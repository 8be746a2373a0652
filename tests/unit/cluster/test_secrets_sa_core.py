"""Pure planning for ServiceAccount lists and pull Secrets: other writers' entries survive, nothing duplicates."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from regcred.core.cluster.secretsync import plan_secret
from regcred.core.cluster.serviceaccounts import (
    ADDED_ANNOTATION,
    change_patch,
    new_service_account,
    plan_attach,
    plan_detach,
    recorded_names,
)
from regcred.core.credentials.pullsecret import dockerconfigjson_payload, secret_manifest
from tests.support.cli import assert_no_secret


def account(*names: str, recorded: str | None = None, rv: str = "7") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "default", "namespace": "ns", "resourceVersion": rv}
    if recorded is not None:
        meta["annotations"] = {ADDED_ANNOTATION: recorded, "other/keep": "x"}
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}
    if names:
        obj["imagePullSecrets"] = [{"name": n} for n in names]
    return obj


def test_attach_appends_once_and_records() -> None:
    change = plan_attach(account("theirs"), "mine")
    assert change.changed and change.status == "attached"
    assert change.image_pull_secrets == [{"name": "theirs"}, {"name": "mine"}]
    assert change.recorded == ("mine",)
    patch = change_patch(account("theirs"), change)
    assert patch == {"metadata": {"annotations": {ADDED_ANNOTATION: "mine"}, "resourceVersion": "7"},
                     "imagePullSecrets": [{"name": "theirs"}, {"name": "mine"}]}


def test_attach_when_field_absent() -> None:
    change = plan_attach(account(), "mine")
    assert change.image_pull_secrets == [{"name": "mine"}]


def test_attach_twice_is_a_no_op() -> None:
    assert not plan_attach(account("mine", recorded="mine"), "mine").changed


def test_attach_does_not_claim_another_writers_entry() -> None:
    change = plan_attach(account("mine"), "mine")
    assert not change.changed and "another writer" in change.reason and change.recorded == ()


def test_detach_removes_only_what_regcred_added() -> None:
    sa = account("a", "mine", "b", recorded="mine,other")
    change = plan_detach(sa, "mine")
    assert change.changed and change.image_pull_secrets == [{"name": "a"}, {"name": "b"}]
    assert change.recorded == ("other",)
    assert change_patch(sa, change)["metadata"]["annotations"] == {ADDED_ANNOTATION: "other"}


def test_detach_leaves_a_name_regcred_did_not_add() -> None:
    change = plan_detach(account("a", "mine"), "mine")
    assert not change.changed and change.status == "not-ours"
    assert plan_detach(account("a", "mine"), "mine", force=True).image_pull_secrets == [{"name": "a"}]


def test_detach_removes_exactly_one_entry_and_leaves_another_writers_duplicate() -> None:
    """regcred appended its entry once: detach removes that one (the last occurrence), not a duplicate
    another writer added; --force removes every occurrence."""
    sa = account("mine", "a", "mine", "b", recorded="mine")
    change = plan_detach(sa, "mine")
    assert change.changed and change.status == "detached"
    assert change.image_pull_secrets == [{"name": "mine"}, {"name": "a"}, {"name": "b"}]
    assert change.recorded == () and "1 other entry(ies) of that name kept" in change.reason
    assert plan_detach(change_patch_applied(sa, change), "mine").status == "not-ours"  # the rest is theirs
    assert plan_detach(sa, "mine", force=True).image_pull_secrets == [{"name": "a"}, {"name": "b"}]


def change_patch_applied(sa: dict[str, Any], change: Any) -> dict[str, Any]:
    return {**sa, "metadata": {**sa["metadata"], "annotations": {}}, "imagePullSecrets": change.image_pull_secrets}


def test_detach_last_entry_removes_field_and_annotation() -> None:
    sa = account("mine", recorded="mine")
    patch = change_patch(sa, plan_detach(sa, "mine"))
    assert patch["imagePullSecrets"] is None  # merge patch: null deletes the field
    assert patch["metadata"]["annotations"] == {ADDED_ANNOTATION: None}


def test_detach_of_something_already_gone_forgets_the_record() -> None:
    change = plan_detach(account("a", recorded="mine"), "mine")
    assert change.changed and change.image_pull_secrets == [{"name": "a"}] and change.recorded == ()


def test_recorded_names_tolerates_spaces_and_junk() -> None:
    sa = account(recorded=" b, a ,,a")
    assert recorded_names(sa) == ("a", "b")


def test_new_service_account() -> None:
    sa = new_service_account("service1", "team", "pull")
    assert sa["imagePullSecrets"] == [{"name": "pull"}]
    assert sa["metadata"]["annotations"] == {ADDED_ANNOTATION: "pull"}


PAYLOAD = dockerconfigjson_payload("r.io", "u", "p")


def existing(payload: bytes = PAYLOAD, managed: bool = True, type_: str = "kubernetes.io/dockerconfigjson",
             raw: str | None = None) -> dict[str, Any]:
    obj = secret_manifest("pull", payload, namespace="ns", labels={"app.kubernetes.io/managed-by": "regcred"}
                          if managed else None, creation_timestamp_null=False)
    obj["metadata"]["resourceVersion"] = "3"
    obj["type"] = type_
    if raw is not None:
        obj["data"][".dockerconfigjson"] = raw
    return obj


def test_secret_plans() -> None:
    assert plan_secret(None, PAYLOAD).action == "create"
    assert plan_secret(existing(), PAYLOAD).action == "unchanged"
    update = plan_secret(existing(dockerconfigjson_payload("r.io", "u", "old")), PAYLOAD)
    assert update.action == "update" and update.patch is not None
    assert base64.b64decode(update.patch["data"][".dockerconfigjson"]) == PAYLOAD
    assert update.patch["metadata"]["resourceVersion"] == "3"


def test_secret_not_managed_is_refused_unless_overwrite() -> None:
    theirs = existing(dockerconfigjson_payload("r.io", "u", "old"), managed=False)
    refused = plan_secret(theirs, PAYLOAD)
    assert refused.action == "refuse" and "--overwrite" in refused.reason
    assert plan_secret(theirs, PAYLOAD, overwrite=True).action == "update"
    # same payload but no label: still not ours
    assert plan_secret(existing(managed=False), PAYLOAD).action == "refuse"


MALFORMED_PW = "Mq4-malformed-s3cret"  # distinctive: found in a reason only if a password leaked into it


@pytest.mark.parametrize("doc", [
    "{}",
    '{"auths":[]}',
    '{"auths": {"r.io": {"password": "' + MALFORMED_PW + '", "username": 1}}}',  # the password next to the fault
], ids=["no-auths", "auths-a-list", "wrong-type-after-the-password"])
def test_malformed_payload_in_cluster_is_reported(doc: str) -> None:
    raw = base64.b64encode(doc.encode()).decode()
    desired = dockerconfigjson_payload("r.io", "u", MALFORMED_PW)
    refused = plan_secret(existing(managed=False, raw=raw), desired)
    assert refused.action == "refuse" and "malformed" in refused.reason
    repaired = plan_secret(existing(managed=True, raw=raw), desired)
    assert repaired.action == "update" and "malformed" in repaired.reason
    for reason in (refused.reason, repaired.reason):  # no secret in either reason
        assert_no_secret(reason, [MALFORMED_PW])


def test_type_change_is_refused() -> None:
    assert "type cannot change" in plan_secret(existing(type_="Opaque"), PAYLOAD).reason


def test_token_bucket_allows_a_burst_then_paces(monkeypatch: pytest.MonkeyPatch) -> None:
    from regcred.shells.kube import ratelimit

    clock = [100.0]
    waits: list[float] = []
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(ratelimit.time, "sleep", waits.append)
    bucket = ratelimit.TokenBucket(qps=10, burst=3)
    for _ in range(3):
        bucket.acquire()
    assert waits == []
    bucket.acquire()
    bucket.acquire()
    assert waits == pytest.approx([0.1, 0.2])  # the 4th waits one interval, the 5th two
    clock[0] += 10  # idle: refills up to the burst, no more
    waits.clear()
    for _ in range(3):
        bucket.acquire()
    assert waits == []
    unlimited = ratelimit.TokenBucket(qps=0, burst=1)
    for _ in range(100):
        unlimited.acquire()
    assert waits == []
