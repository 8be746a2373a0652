"""The running controller's status, finalizer, gauges and `kubectl get` columns (docs/guides/controller.md).

Runs on the fake API and, with KUBEBUILDER_ASSETS, on a real kube-apiserver (the `kube` fixture); the checks
that count requests by the fake's request log are skipped on the real one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from regcred.controller.manager import Manager, Options, run
from regcred.core.controller.conditions import NamespaceOutcome, desired_status
from regcred.core.spec.schema import PRINTER_COLUMNS
from tests.kube.controller.test_reconcile import PASSWORD, pulls, spec_doc
from tests.kube.controller.test_status import SPECS, install_crd
from tests.support.envtest import free_port
from tests.support.fakekube.table import jsonpath
from tests.support.waiting import eventually as _eventually

eventually = partial(_eventually, timeout=30.0)



@dataclass
class Running:
    manager: Manager
    metrics_port: int
    codes: list[int] = field(default_factory=list)

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}


@contextlib.contextmanager
def running(kube: Any, **options: Any) -> Iterator[Running]:
    """The controller on its own thread until the block ends; it must stop promptly and cleanly."""
    install_crd(kube)
    stop = threading.Event()
    ready: list[Manager] = []
    port = free_port()
    codes: list[int] = []
    kubeconfig = options.pop("kubeconfig_override", None) or str(kube.kubeconfig)
    opts = Options(kubeconfig=kubeconfig, metrics_bind_address=f"127.0.0.1:{port}",
                   health_probe_bind_address="0", workers=2, **options)
    thread = threading.Thread(target=lambda: codes.append(run(opts, stop, on_ready=ready.append)), daemon=True)
    thread.start()
    try:
        assert eventually(lambda: bool(ready) or not thread.is_alive()), "the controller never became ready"
        assert ready, f"the controller ended: {codes}"
        yield Running(ready[0], port, codes)
        assert thread.is_alive(), "the controller stopped by itself"
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive() and codes == [0]


def status(kube: Any, name: str) -> dict[str, Any]:
    answer = kube.request("GET", f"{SPECS}/{name}")
    return (answer.json().get("status") or {}) if answer.status_code == 200 else {}


def condition(st: dict[str, Any], type_: str) -> str | None:
    return next((c["status"] for c in st.get("conditions") or [] if c.get("type") == type_), None)


def create_spec(kube: Any, name: str, *, include: list[str] | None = None,
                selector: dict[str, str] | None = None) -> dict[str, Any]:
    doc = spec_doc(include or [], name=name, selector=selector)
    if include is None:
        doc["spec"]["namespaces"].pop("include")
    answer = kube.request("POST", SPECS, json={**doc, "metadata": {"name": name}})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def history(kube: Any, name: str, since: str) -> list[dict[str, Any]]:
    """Every version of the spec stored after resourceVersion `since` (a watch replays them, then ends)."""
    params = {"watch": "1", "resourceVersion": since, "timeoutSeconds": "2",
              "fieldSelector": f"metadata.name={name}"}
    with kube.http.stream("GET", SPECS, params=params, timeout=30) as response:
        assert response.status_code == 200
        return [json.loads(line)["object"] for line in response.iter_lines() if line]


def test_status_is_batched_and_ready_only_after_every_targeted_namespace(kube: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REG_PW", PASSWORD)
    team = kube.unique_ns("team")
    names = [kube.unique_ns("b") for _ in range(50)]
    for ns in names:
        kube.create_namespace(ns, {"team": team})
    with running(kube, namespaces=tuple(names)) as ctl:
        if kube.supports_hooks:
            kube.request_log.clear()
        name = kube.unique_ns("spec")
        started = time.monotonic()
        created = create_spec(kube, name, selector={"team": team})
        assert eventually(lambda: condition(status(kube, name), "Ready") == "True", timeout=120)
        elapsed = time.monotonic() - started
        interval = ctl.manager.status_interval
    final = status(kube, name)
    assert (final["namespacesTargeted"], final["secretsInSync"], final["serviceAccountsCovered"]) == (50, 50, 50)
    assert all(name in pulls(kube, ns) for ns in names)
    versions = [v.get("status") for v in history(kube, name, created["metadata"]["resourceVersion"])]
    statuses = [s for i, s in enumerate(versions) if s and s != (versions[i - 1] if i else None)]
    for st in statuses:  # never Ready before the whole pass
        if condition(st, "Ready") == "True":
            assert (st["namespacesTargeted"], st["secretsInSync"]) == (50, 50), st
        else:
            assert condition(st, "Progressing") == "True" or condition(st, "Degraded") == "True", st
    # at most one status write per interval (and one more for the last), not one per namespace
    bound = math.ceil(elapsed / interval) + 2
    assert 1 <= len(statuses) <= bound, (len(statuses), elapsed)
    if kube.supports_hooks:
        writes = kube.request_log.count(method="PATCH", path=r"/registrycredentials/[^/]+/status$")
        assert writes == len(statuses), (writes, len(statuses))


def test_gauges_count_managed_objects_and_uncovered_namespaces(kube: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REG_PW", PASSWORD)
    first, second, bare = kube.unique_ns("g"), kube.unique_ns("g"), kube.unique_ns("bare")
    kube.create_namespace(first)
    kube.create_namespace(second)
    kube.create_namespace(bare, default_sa=False)  # no `default` ServiceAccount: cannot be covered yet
    with running(kube, namespaces=(first, second, bare)) as ctl:
        name = kube.unique_ns("spec")
        create_spec(kube, name, include=[first, second, bare])

        def gauges() -> tuple[float | None, ...]:
            samples = ctl.scrape()
            return (samples.get(("regcred_managed_objects", (("kind", "Secret"),))),
                    samples.get(("regcred_managed_objects", (("kind", "ServiceAccount"),))),
                    samples.get(("regcred_uncovered_namespaces", (("spec", name),))))

        assert eventually(lambda: gauges() == (3, 2, 1)), gauges()  # the Secret is there, not the entry
        kube.ensure_default_sa(bare)
        assert eventually(lambda: gauges() == (3, 3, 0)), gauges()
        assert eventually(lambda: condition(status(kube, name), "Ready") == "True")
        version = kube.request("GET", f"{SPECS}/{name}").json()["metadata"]["resourceVersion"]
        ctl.manager.leading.clear()  # workers and the status thread pause (as a follower's would)
        time.sleep(0.5)
        ctl.manager.resync()  # every key again: a converged spec's status is not written (nor flips) ...
        assert ctl.manager.queue.outstanding()
        ctl.manager.flush()  # ... even by a flush while the resync's keys are still queued
        ctl.manager.leading.set()
        assert eventually(lambda: not ctl.manager.queue.outstanding())
        time.sleep(2.5 * ctl.manager.status_interval)
        assert kube.request("GET", f"{SPECS}/{name}").json()["metadata"]["resourceVersion"] == version
        samples = ctl.scrape()
        assert samples[("regcred_managed_objects", (("kind", "Deployment"),))] == 0
        assert samples[("regcred_api_requests_total", (("code", "200"), ("verb", "watch")))] >= 9  # one per informer


def test_a_restarted_controller_leaves_a_converged_status_alone(kube: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new leader (or a restart) knows no result yet: it must not write Progressing and partial counts."""
    monkeypatch.setenv("REG_PW", PASSWORD)
    names = [kube.unique_ns("r") for _ in range(8)]
    for ns in names:
        kube.create_namespace(ns)
    name = kube.unique_ns("spec")
    with running(kube, namespaces=tuple(names)):
        create_spec(kube, name, include=names)
        assert eventually(lambda: condition(status(kube, name), "Ready") == "True")
    version = kube.request("GET", f"{SPECS}/{name}").json()["metadata"]["resourceVersion"]
    with running(kube, namespaces=tuple(names)) as ctl:
        ctl.manager.leading.clear()  # the state of a replica that just became leader: caches, no result yet
        time.sleep(0.5)
        with ctl.manager.lock:
            ctl.manager.results.clear()
        ctl.manager.resync()
        ctl.manager.flush()  # a flush before the first key ran
        ctl.manager.leading.set()
        assert eventually(lambda: len(ctl.manager.results.get(name, {})) == len(names)
                          and not ctl.manager.queue.outstanding())
        time.sleep(2.5 * ctl.manager.status_interval)
        assert ctl.scrape()[("regcred_uncovered_namespaces", (("spec", name),))] == 0
    changes = history(kube, name, version)
    assert changes == [], [c.get("status") for c in changes]


def test_deleted_specs_release_their_finalizer_after_cleanup_even_with_no_namespace(
        kube: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REG_PW", PASSWORD)
    team = kube.unique_ns("team")
    targets = [kube.unique_ns("d") for _ in range(6)]
    for ns in targets:
        kube.create_namespace(ns, {"team": team})
    with running(kube, namespaces=tuple(targets)) as ctl:
        many, none = kube.unique_ns("many"), kube.unique_ns("none")
        create_spec(kube, many, selector={"team": team})
        create_spec(kube, none, selector={"team": "no-such-team"})
        assert eventually(lambda: status(kube, many).get("secretsInSync") == 6)
        assert eventually(lambda: condition(status(kube, none), "Ready") == "True")
        assert ctl.manager.results.get(none) is not None
        for name in (many, none):
            assert kube.request("DELETE", f"{SPECS}/{name}").status_code == 200
        for name in (many, none):
            assert eventually(lambda n=name: kube.request("GET", f"{SPECS}/{n}").status_code == 404), name
        # the finalizer went only after the cleanup of every namespace
        assert all(kube.get("v1", "Secret", many, ns) is None and many not in pulls(kube, ns) for ns in targets)


def test_a_deleted_spec_whose_namespaces_are_gone_is_released(kube: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REG_PW", PASSWORD)
    ns = kube.unique_ns("gone")
    kube.create_namespace(ns)
    with running(kube, namespaces=(ns,)):
        name = kube.unique_ns("spec")
        create_spec(kube, name, include=[ns])
        assert eventually(lambda: status(kube, name).get("secretsInSync") == 1)
        kube.terminate_namespace(ns)
        kube.finish_namespace_deletion(ns)
        assert eventually(lambda: kube.request("GET", f"/api/v1/namespaces/{ns}").status_code == 404)
        assert eventually(lambda: status(kube, name).get("namespacesTargeted") == 0)
        assert kube.request("DELETE", f"{SPECS}/{name}").status_code == 200
        assert eventually(lambda: kube.request("GET", f"{SPECS}/{name}").status_code == 404)


def test_a_cleanup_refused_by_rbac_keeps_the_finalizer_and_says_why(kube: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from regcred.controller.finalizer import FINALIZER
    from regcred.core.controller.rbac import policy_rules

    monkeypatch.setenv("REG_PW", PASSWORD)
    ns = kube.unique_ns("rbac")
    kube.create_namespace(ns)
    rules = [{**r, "verbs": [v for v in r["verbs"] if not (r["resources"] == ["secrets"] and v == "delete")]}
             for r in policy_rules("cluster")]
    assert rules != policy_rules("cluster")
    limited = kube.kubeconfig_for(rules)
    name = kube.unique_ns("spec")
    install_crd(kube)
    with running(kube, namespaces=(ns,), kubeconfig_override=str(limited)):
        create_spec(kube, name, include=[ns])
        assert eventually(lambda: condition(status(kube, name), "Ready") == "True")
        assert kube.request("DELETE", f"{SPECS}/{name}").status_code == 200
        assert eventually(lambda: condition(status(kube, name), "Degraded") == "True")
        st = status(kube, name)
        assert f"cannot delete secrets in namespace {ns}" in st["firstFailures"], st
        assert condition(st, "Ready") == "False"
        assert FINALIZER in kube.request("GET", f"{SPECS}/{name}").json()["metadata"]["finalizers"]
    kube.request("PATCH", f"{SPECS}/{name}", content=json.dumps({"metadata": {"finalizers": None}}),
                 content_type="application/merge-patch+json")


def test_printer_columns_show_the_status_the_controller_wrote(kube: Any, monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    monkeypatch.setenv("REG_PW", PASSWORD)
    first, second = kube.unique_ns("p"), kube.unique_ns("p")
    kube.create_namespace(first)
    kube.create_namespace(second)
    with running(kube, namespaces=(first, second)):
        name = kube.unique_ns("spec")
        create_spec(kube, name, include=[first, second])
        assert eventually(lambda: condition(status(kube, name), "Ready") == "True")
    obj = kube.request("GET", f"{SPECS}/{name}").json()
    cells = {c["name"]: jsonpath(obj, c["jsonPath"]) for c in PRINTER_COLUMNS}
    assert cells["Ready"] == "True" and cells["Reason"] == "Converged"
    assert (cells["Targeted"], cells["Synced"], cells["Failures"]) == (2, 2, 0)
    assert all(cells[c["name"]] is not None for c in PRINTER_COLUMNS if c["jsonPath"].startswith(".status")), cells
    assert cells["Secret"] == name  # secretName left to default: the spec's name, from the status
    if not any(os.access(os.path.join(d, "kubectl"), os.X_OK) for d in ("/usr/bin", "/usr/local/bin")):
        pytest.skip("kubectl is not installed: the columns were checked by their JSONPaths only")
    out = subprocess.run(["kubectl", "--kubeconfig", str(kube.kubeconfig), "get", "regcred", name, "-o", "wide"],
                         capture_output=True, text=True, timeout=60,
                         env={"HOME": str(tmp_path), "PATH": "/usr/local/bin:/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.splitlines()
    assert header.split() == ["NAME", "SECRET", "READY", "TARGETED", "SYNCED", "REASON", "FAILURES", "NODES",
                              "WORKLOADS", "AGE"]
    assert row.split()[:6] == [name, name, "True", "2", "2", "Converged"]


def test_a_terminating_namespace_is_not_waited_for(kube: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REG_PW", PASSWORD)
    live, ending = kube.unique_ns("live"), kube.unique_ns("ending")
    kube.create_namespace(live)
    kube.create_namespace(ending)
    kube.terminate_namespace(ending)  # stays Terminating: no namespace controller empties it
    with running(kube, namespaces=(live, ending)) as ctl:
        name = kube.unique_ns("spec")
        create_spec(kube, name, include=[live, ending])
        assert eventually(lambda: condition(status(kube, name), "Ready") == "True")
        st = status(kube, name)
        assert (st["namespacesTargeted"], st["secretsInSync"], st["failures"]) == (1, 1, 0)
        assert ctl.manager.results[name][ending].result.skipped == "namespace is being terminated"
    assert kube.get("v1", "Secret", name, ending) is None


def test_a_409_on_a_status_write_is_retried_not_lost(fake_kube: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REG_PW", PASSWORD)
    ns = fake_kube.unique_ns("c")
    fake_kube.create_namespace(ns)
    fake_kube.fail_next("PATCH", r"/registrycredentials/[^/]+/status$", 409, times=2)
    with running(fake_kube, namespaces=(ns,)):
        name = fake_kube.unique_ns("spec")
        create_spec(fake_kube, name, include=[ns])
        assert eventually(lambda: condition(status(fake_kube, name), "Ready") == "True")
    statuses = [r.status for r in fake_kube.request_log.filter(method="PATCH", path=r"/status$")]
    assert statuses[:2] == [409, 409] and statuses[-1] == 200, statuses


def test_crd_columns_read_only_fields_the_status_has() -> None:
    crd = yaml.safe_load((Path(__file__).parents[3] / "deploy" / "crd" / "registrycredential.yaml").read_text())
    assert crd["spec"]["versions"][0]["additionalPrinterColumns"] == list(PRINTER_COLUMNS)
    written = desired_status(None, [NamespaceOutcome("a", secret_in_sync=True)], generation=1, pending=0,
                             now="2026-01-01T00:00:00Z", secret_name="harbor")
    for column in PRINTER_COLUMNS:
        path = column["jsonPath"]
        if path.startswith(".status."):
            assert jsonpath({"status": written}, path) is not None, path
