"""The whole controller on an API server: informers, queue, workers, reconcile, stop (docs/guides/controller.md).

Runs on the fake API and, with KUBEBUILDER_ASSETS, on a real kube-apiserver (the `kube` fixture).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from regcred.controller.finalizer import FINALIZER
from regcred.controller.manager import Options, run
from tests.kube.controller.test_reconcile import PASSWORD, plan_exit, pulls, spec_doc
from tests.kube.controller.test_status import SPECS, install_crd
from tests.support.waiting import eventually as _eventually

eventually = partial(_eventually, timeout=8.0)



@pytest.fixture(params=[False, True], ids=["single", "leader-elect"])
def controller(kube: Any, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
               ) -> Iterator[threading.Thread]:
    monkeypatch.setenv("REG_PW", PASSWORD)
    install_crd(kube)
    lease_ns = kube.unique_ns("lease")
    kube.create_namespace(lease_ns)
    stop = threading.Event()
    codes: list[int] = []
    options = Options(kubeconfig=str(kube.kubeconfig), metrics_bind_address="127.0.0.1:0",
                      health_probe_bind_address="127.0.0.1:0", workers=2, leader_elect=request.param,
                      leader_election_namespace=lease_ns)
    thread = threading.Thread(target=lambda: codes.append(run(options, stop)), daemon=True)
    thread.start()
    yield thread
    stop.set()
    started = time.monotonic()
    thread.join(timeout=5)
    assert not thread.is_alive() and time.monotonic() - started < 3, "the controller did not stop promptly"
    assert codes == [0]


def covered(kube: Any, ns: str, secret: str) -> bool:
    return kube.get("v1", "Secret", secret, ns) is not None and secret in pulls(kube, ns)


def test_labelled_namespaces_converge_and_plan_is_clean(kube: Any, controller: threading.Thread,
                                                        tmp_path: Path) -> None:
    team = kube.unique_ns("team")
    first, second, other = kube.unique_ns("a"), kube.unique_ns("b"), kube.unique_ns("o")
    kube.create_namespace(first, {"team": team})
    kube.create_namespace(second, {"team": team})
    kube.create_namespace(other)
    name = kube.unique_ns("spec")
    doc = spec_doc([], name=name, selector={"team": team})
    doc["spec"]["namespaces"].pop("include")
    answer = kube.request("POST", SPECS, json={**doc, "metadata": {"name": name}})
    assert answer.status_code == 201, answer.text
    assert eventually(lambda: covered(kube, first, name) and covered(kube, second, name))
    assert kube.get("v1", "Secret", name, other) is None
    assert plan_exit(kube, tmp_path, doc) == 0
    spec = kube.request("GET", f"{SPECS}/{name}").json()
    assert FINALIZER in spec["metadata"]["finalizers"]
    assert eventually(lambda: (kube.request("GET", f"{SPECS}/{name}").json().get("status") or {})
                      .get("secretsInSync") == 2)

    late = kube.unique_ns("late")
    kube.create_namespace(late, {"team": team})
    assert eventually(lambda: covered(kube, late, name))
    assert controller.is_alive()
