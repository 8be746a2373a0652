"""A spec deleted: exactly its Secrets and entries go, then its finalizer; nothing of anyone else's, ever.

Through the running controller (`manager.run` in a thread), on the fake API and on a real kube-apiserver. Around
the spec: another tool's Secret and entry, a second regcred spec writing its own Secret in the same namespaces,
and a Secret of the spec's name that regcred does not own (it must never be written, attached or deleted; the
status and an Event say so while the spec lives).
"""

from __future__ import annotations

from regcred.controller.finalizer import FINALIZER
from tests.support.controllerrun import (
    SPECS,
    Specs,
    condition,
    controller,
    events_about,
    get_spec,
    namespaces,
    pulls,
    spec_doc,
    wait_until,
)
from tests.support.kube import KubeBackend


def test_deleting_a_spec_removes_exactly_its_objects(kube: KubeBackend, specs: Specs) -> None:
    mine, theirs = namespaces(kube, "del", 2)
    name, keeper = kube.unique_ns("spec"), kube.unique_ns("keeper")
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "other", "namespace": mine},
                 "type": "Opaque", "stringData": {"k": "v"}})
    kube.patch("v1", "ServiceAccount", "default", {"imagePullSecrets": [{"name": "other"}]}, mine)
    foreign = kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": theirs},
                           "type": "Opaque", "stringData": {"k": "not regcred's"}})
    with controller(kube):
        specs.create(spec_doc([mine, theirs], name=keeper))
        specs.create(spec_doc([mine, theirs], name=name))
        wait_until(lambda: {name, keeper, "other"} <= set(pulls(kube, mine)) and keeper in pulls(kube, theirs),
                   "both specs converged where they can")
        degraded = wait_until(lambda: condition(kube, name, "Degraded").get("reason") == "SecretNotOwned" and
                              condition(kube, name, "Degraded"), "Degraded: SecretNotOwned")
        assert degraded["status"] == "True" and theirs in degraded["message"], degraded
        assert condition(kube, name, "Ready")["status"] == "False"
        notes = wait_until(lambda: [e["note"] for e in events_about(kube, name) if e["reason"] == "SecretNotOwned"],
                           "a SecretNotOwned Event")
        assert f"{theirs}/{name}" in notes[0] and all(e["type"] == "Warning" for e in events_about(kube, name)
                                                       if e["reason"] == "SecretNotOwned")
        assert name not in pulls(kube, theirs), "attached to a Secret regcred does not own"
        assert FINALIZER in (get_spec(kube, name) or {})["metadata"]["finalizers"]

        assert kube.request("DELETE", f"{SPECS}/{name}").status_code == 200
        wait_until(lambda: get_spec(kube, name) is None, "the finalizer released and the spec gone", 15)
        assert kube.get("v1", "Secret", name, mine) is None
        assert sorted(pulls(kube, mine)) == sorted(["other", keeper])
        assert pulls(kube, theirs) == [keeper]
        assert kube.get("v1", "Secret", "other", mine) is not None
        for ns in (mine, theirs):
            assert kube.get("v1", "Secret", keeper, ns) is not None, "the other spec's Secret went too"
        left = kube.get("v1", "Secret", name, theirs) or {}
        assert left.get("metadata", {}).get("resourceVersion") == foreign["metadata"]["resourceVersion"], \
            "the Secret regcred does not own was written or deleted"
    if kube.supports_hooks:  # the whole history, not just the end: no write ever reached that Secret
        writes = [r for r in kube.request_log.filter(resource="secrets", namespace=theirs)
                  if r.name == name and r.method in ("PUT", "PATCH", "DELETE")]
        assert writes == [], writes
