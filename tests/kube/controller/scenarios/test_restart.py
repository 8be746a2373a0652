"""`regcred controller` SIGKILLed in the middle of converging many namespaces, then started again.

Real processes on the fake API and on a real kube-apiserver. The second run must finish the job without writing
again what the first run had already written: every Secret and entry in place at the kill keeps its
resourceVersion (both backends); on the fake the request log also shows at most one successful create per Secret,
at most one ServiceAccount patch per namespace over both runs, and no 409 at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.controllerrun import (
    ControllerProcess,
    Specs,
    condition,
    coverage,
    namespaces,
    rewritten,
    spec_doc,
    wait_until,
    written_twice,
)
from tests.support.kube import KubeBackend

COUNT = 40


def test_a_restart_mid_convergence_finishes_without_duplicate_writes(kube: KubeBackend, specs: Specs,
                                                                     tmp_path: Path) -> None:
    team = kube.unique_ns("team")
    targets = namespaces(kube, "rs", COUNT, {"team": team})
    name = kube.unique_ns("spec")
    doc: dict[str, Any] = spec_doc([], name=name, selector={"team": team})
    del doc["spec"]["namespaces"]["include"]
    specs.create(doc)
    first = ControllerProcess(kube.kubeconfig, tmp_path / "first.log")
    try:
        wait_until(lambda: len(coverage(kube, name).secrets) >= COUNT // 4, "a quarter of the first run", 30)
        first.kill()
    finally:
        first.end()
    at_kill = coverage(kube, name)
    assert not at_kill.complete(targets), "the first run finished before the kill: nothing was interrupted"

    second = ControllerProcess(kube.kubeconfig, tmp_path / "second.log")
    try:
        wait_until(lambda: coverage(kube, name).complete(targets), "convergence after the restart", 60)
        wait_until(lambda: condition(kube, name, "Ready").get("status") == "True", "Ready after the restart")
    finally:
        assert second.end() == 0, second.tail()
    assert rewritten(at_kill, coverage(kube, name)) == [], "written again after the restart"
    print(f"at the kill: {len(at_kill.secrets)} Secrets, {len(at_kill.entries)} entries of {COUNT}")

    if kube.supports_hooks:
        assert written_twice(kube, targets) == []
