"""A namespace whose label no longer matches loses regcred's Secret and entry there, and nothing else.

Through the running controller (`manager.run` in a thread), on the fake API and on a real kube-apiserver.
"""

from __future__ import annotations

from typing import Any

from regcred.core.cluster.serviceaccounts import ADDED_ANNOTATION
from tests.support.controllerrun import Specs, controller, namespaces, pulls, spec_doc, wait_until
from tests.support.kube import KubeBackend


def other_writer(kube: KubeBackend, ns: str) -> None:
    """Another tool's pull Secret and its entry on the `default` ServiceAccount, there before regcred."""
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "other", "namespace": ns},
                 "type": "Opaque", "stringData": {"k": "theirs"}})
    kube.patch("v1", "ServiceAccount", "default", {"imagePullSecrets": [{"name": "other"}]}, ns)


def covered(kube: KubeBackend, ns: str, name: str) -> bool:
    return kube.get("v1", "Secret", name, ns) is not None and name in pulls(kube, ns)


def test_label_removed_removes_only_regcreds_objects_there(kube: KubeBackend, specs: Specs) -> None:
    team = kube.unique_ns("team")
    leaving, staying = namespaces(kube, "leave", 2, {"team": team})
    for ns in (leaving, staying):
        other_writer(kube, ns)
    name = kube.unique_ns("spec")
    doc: dict[str, Any] = spec_doc([], name=name, selector={"team": team})
    del doc["spec"]["namespaces"]["include"]
    with controller(kube):
        specs.create(doc)
        wait_until(lambda: covered(kube, leaving, name) and covered(kube, staying, name), "both namespaces covered")
        assert sorted(pulls(kube, leaving)) == sorted(["other", name])
        kept = kube.get("v1", "Secret", name, staying) or {}

        kube.patch("v1", "Namespace", leaving, {"metadata": {"labels": {"team": None}}})
        wait_until(lambda: kube.get("v1", "Secret", name, leaving) is None and name not in pulls(kube, leaving),
                   "regcred's Secret and entry removed from the namespace that left")
        assert pulls(kube, leaving) == ["other"]
        assert kube.get("v1", "Secret", "other", leaving) is not None
        sa = kube.get("v1", "ServiceAccount", "default", leaving) or {}
        assert name not in (sa["metadata"].get("annotations") or {}).get(ADDED_ANNOTATION, "")  # its record too
        # the namespace still selected is untouched
        assert sorted(pulls(kube, staying)) == sorted(["other", name])
        assert (kube.get("v1", "Secret", name, staying) or {})["metadata"]["resourceVersion"] == \
            kept["metadata"]["resourceVersion"]
