"""What a person changes by hand the controller puts back: a deleted or edited managed Secret, a removed entry.

Through the running controller (`manager.run` in a thread), on the fake API and on a real kube-apiserver. Each
edit is checked to have landed before the restore is awaited, so a controller that never noticed would fail.
"""

from __future__ import annotations

import base64
import json

from tests.support.controllerrun import (
    PASSWORD,
    Specs,
    auth_in,
    controller,
    namespaces,
    pulls,
    spec_doc,
    wait_until,
)
from tests.support.kube import KubeBackend

SERVER = "r.example.com"
GOOD = f"u:{PASSWORD}"


def test_deleted_or_edited_secret_and_removed_entry_are_restored(kube: KubeBackend, specs: Specs) -> None:
    first, second = namespaces(kube, "hand", 2)
    name = kube.unique_ns("spec")
    with controller(kube):
        specs.create(spec_doc([first, second], name=name))
        wait_until(lambda: all(auth_in(kube, ns, name, SERVER) == GOOD and name in pulls(kube, ns)
                               for ns in (first, second)), "both namespaces covered")

        # deleted by hand -> created again
        old_uid = kube.get("v1", "Secret", name, first)["metadata"]["uid"]  # type: ignore[index]
        kube.delete("v1", "Secret", name, first)
        wait_until(lambda: (kube.get("v1", "Secret", name, first) or {}).get("metadata", {}).get("uid") not in
                   (None, old_uid), "the deleted Secret restored")
        assert auth_in(kube, first, name, SERVER) == GOOD

        # edited by hand (another credential) -> the spec's content again
        stale = base64.b64encode(b"u:typed-by-hand").decode()
        edited = json.dumps({"auths": {SERVER: {"auth": stale}}})
        written = kube.patch("v1", "Secret", name, {"data": {".dockerconfigjson": base64.b64encode(
            edited.encode()).decode()}}, second)
        wait_until(lambda: auth_in(kube, second, name, SERVER) == GOOD and
                   kube.get("v1", "Secret", name, second)["metadata"]["resourceVersion"] !=  # type: ignore[index]
                   written["metadata"]["resourceVersion"], "the edited Secret restored")

        # regcred's entry removed by hand (another writer's entry added in the same edit) -> added back, both kept
        sa = kube.get("v1", "ServiceAccount", "default", first) or {}
        sa["imagePullSecrets"] = [{"name": "theirs"}]
        kube.replace(sa)
        wait_until(lambda: sorted(pulls(kube, first)) == sorted(["theirs", name]), "the entry restored")
        assert pulls(kube, first).count(name) == 1
        assert pulls(kube, second) == [name]  # the other namespace was not touched by the edits
