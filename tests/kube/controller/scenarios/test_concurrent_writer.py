"""Another writer editing the same ServiceAccounts 100 times while the controller runs: no update is lost.

Through the running controller (`manager.run` in a thread), on the fake API and on a real kube-apiserver.
`imagePullSecrets` is an atomic list, so a blind write by either side would drop the other's entries. The other
writer behaves as careful tools do: half of its edits read, modify and write with the resourceVersion (again on
409), half are JSON-patch appends the server applies to whatever is current. regcred must not lose either. The
edits start together with the spec, so the controller's first writes race with them.
"""

from __future__ import annotations

import threading

from regcred.core.cluster.serviceaccounts import ADDED_ANNOTATION
from tests.support.controllerrun import Specs, controller, namespaces, pulls, spec_doc, wait_until
from tests.support.kube import KubeBackend, KubeError

WRITERS, EDITS = 4, 25  # 100 edits, spread over the namespaces


def edit(kube: KubeBackend, ns: str, entry: str, *, append: bool) -> int:
    """Add one entry and one annotation (a conditional update, or a JSON-patch append); the 409s it met."""
    if append:
        kube.patch("v1", "ServiceAccount", "default", [
            {"op": "add", "path": "/imagePullSecrets/-", "value": {"name": entry}},
            {"op": "add", "path": f"/metadata/annotations/writer.example~1{entry}", "value": "mine"}],
            ns, patch_type="json")
        return 0
    conflicts = 0
    while True:
        sa = kube.get("v1", "ServiceAccount", "default", ns) or {}
        sa["imagePullSecrets"] = [*(sa.get("imagePullSecrets") or []), {"name": entry}]
        sa["metadata"].setdefault("annotations", {})[f"writer.example/{entry}"] = "mine"
        try:
            kube.replace(sa)  # carries the resourceVersion read above
            return conflicts
        except KubeError as exc:
            if exc.status != 409:
                raise
            conflicts += 1


def test_another_writers_entries_survive_100_concurrent_edits(kube: KubeBackend, specs: Specs) -> None:
    targets = namespaces(kube, "busy", 2)
    for ns in targets:  # the other writer was there first (and a JSON-patch append needs the list)
        kube.patch("v1", "ServiceAccount", "default", {"imagePullSecrets": [{"name": "seed"}],
                                                       "metadata": {"annotations": {"writer.example/seed": "mine"}}}, ns)
    seeded = len(kube.request_log) if kube.supports_hooks else 0
    name = kube.unique_ns("spec")
    expected = {ns: {"seed"} | {f"w{w}-{i}" for w in range(WRITERS) for i in range(EDITS) if (w + i) % 2 == t}
                for t, ns in enumerate(targets)}
    conflicts: list[int] = []
    failures: list[BaseException] = []
    start = threading.Barrier(WRITERS + 1)

    def writer(w: int) -> None:
        try:
            start.wait(timeout=10)
            for i in range(EDITS):
                conflicts.append(edit(kube, targets[(w + i) % 2], f"w{w}-{i}", append=w % 2 == 1))
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    with controller(kube):
        threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(WRITERS)]
        for t in threads:
            t.start()
        start.wait(timeout=10)
        specs.create(spec_doc(targets, name=name))
        for t in threads:
            t.join(timeout=60)
        assert not failures, failures
        assert len(conflicts) == WRITERS * EDITS
        wait_until(lambda: all(name in pulls(kube, ns) for ns in targets), "regcred's entry everywhere")
        for ns in targets:
            entries = pulls(kube, ns)
            assert entries.count(name) == 1, entries
            assert set(entries) - {name} == expected[ns], "another writer's entry was lost"
            assert len(entries) == len(expected[ns]) + 1, "an entry is duplicated"
            notes = (kube.get("v1", "ServiceAccount", "default", ns) or {})["metadata"]["annotations"]
            assert {k for k in notes if k.startswith("writer.example/")} == \
                {f"writer.example/{e}" for e in expected[ns]}, "another writer's annotation was lost"
            assert notes[ADDED_ANNOTATION] == name
    if kube.supports_hooks:  # the fake's request log: regcred's own patch really landed amid the edits
        for ns in targets:
            mine = "application/merge-patch+json"  # regcred's patches; the other writer's are PUTs and JSON patches
            order = [r.content_type == mine for r in list(kube.request_log)[seeded:] if r.namespace == ns and
                     r.resource == "serviceaccounts" and r.method in ("PUT", "PATCH") and r.status == 200]
            assert True in order and False in order[:order.index(True)] and False in order[order.index(True):], order
