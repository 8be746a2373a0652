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
    coverage,
    events_about,
    get_spec,
    namespaces,
    pulls,
    spec_doc,
    wait_until,
)
from tests.support.kube import KubeBackend


def test_deleting_a_spec_removes_exactly_its_objects(kube: KubeBackend, specs: Specs) -> None:
    *mine, theirs = namespaces(kube, "del", 9)  # several: none may be left behind once the finalizer goes
    name, keeper = kube.unique_ns("spec"), kube.unique_ns("keeper")
    for ns in mine:
        kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "other", "namespace": ns},
                     "type": "Opaque", "stringData": {"k": "v"}})
        kube.patch("v1", "ServiceAccount", "default", {"imagePullSecrets": [{"name": "other"}]}, ns)
    foreign = kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": theirs},
                           "type": "Opaque", "stringData": {"k": "not regcred's"}})
    with controller(kube):
        specs.create(spec_doc([*mine, theirs], name=keeper))
        specs.create(spec_doc([*mine, theirs], name=name))
        wait_until(lambda: all({name, keeper, "other"} <= set(pulls(kube, ns)) for ns in mine) and
                   keeper in pulls(kube, theirs), "both specs converged where they can")
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
        # gone means done: the finalizer was released only after every namespace was cleaned
        assert [ns for ns in mine if kube.get("v1", "Secret", name, ns) is not None] == [], "left behind"
        for ns in mine:
            assert sorted(pulls(kube, ns)) == sorted(["other", keeper])
            assert kube.get("v1", "Secret", "other", ns) is not None
        assert pulls(kube, theirs) == [keeper]
        for ns in (*mine, theirs):
            assert kube.get("v1", "Secret", keeper, ns) is not None, "the other spec's Secret went too"
        left = kube.get("v1", "Secret", name, theirs) or {}
        assert left.get("metadata", {}).get("resourceVersion") == foreign["metadata"]["resourceVersion"], \
            "the Secret regcred does not own was written or deleted"
    if kube.supports_hooks:  # the whole history, not just the end: no write ever reached that Secret
        writes = [r for r in kube.request_log.filter(resource="secrets", namespace=theirs)
                  if r.name == name and r.method in ("PUT", "PATCH", "DELETE")]
        assert writes == [], writes


def test_the_finalizer_goes_only_after_every_namespace_is_clean(kube: KubeBackend, specs: Specs) -> None:
    """Nothing failing before the deletion: the first cleanup must not stand for all of them."""
    targets = namespaces(kube, "fin", 10)
    name = kube.unique_ns("spec")
    with controller(kube):
        specs.create(spec_doc(targets, name=name))
        wait_until(lambda: coverage(kube, name).complete(targets), "converged")
        assert kube.request("DELETE", f"{SPECS}/{name}").status_code == 200
        wait_until(lambda: get_spec(kube, name) is None, "the finalizer released and the spec gone", 15)
        left = coverage(kube, name)
        assert (sorted(left.secrets), sorted(left.entries)) == ([], []), "left behind"
