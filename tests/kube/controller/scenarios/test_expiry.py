"""A static credential that expires, known from its source Secret's `regcred.dev/expires-at` annotation, through
the running controller: a week ahead the spec is Degraded/CredentialExpiring (Ready stays True), one Warning
Event says which credential and from where, the expiry metric has a series per registry; the annotation moved
on clears the warning, and a deleted spec takes its series with it.
"""

from __future__ import annotations

import time
from typing import Any

from regcred.controller.manager import Manager
from regcred.core.spec.expiry import EXPIRES_AT_ANNOTATION, rfc3339
from tests.support.controllerrun import (
    SPECS,
    Specs,
    condition,
    controller,
    dockerconfig,
    events_about,
    get_spec,
    namespaces,
    spec_doc,
    wait_until,
)
from tests.support.kube import KubeBackend

PASSWORD_SERVER, COPIED_SERVER = "harbor.example.com", "copied.example.com"
DAY = 24 * 3600
METRIC = "regcred_credential_expiry_timestamp_seconds"


def expiry_series(manager: Manager, spec: str) -> dict[str, float]:
    """The metric's value per registry for one spec, as /metrics would show it."""
    return {s.labels["registry"]: s.value for family in manager.metrics.registry.collect() if family.name == METRIC
            for s in family.samples if s.labels.get("spec") == spec}


def test_an_annotated_expiry_warns_a_week_ahead_once_and_its_series_goes_with_the_spec(
        kube: KubeBackend, specs: Specs) -> None:
    vault = namespaces(kube, "vault", 1)[0]
    targets = namespaces(kube, "exp", 2)
    soon, later = int(time.time()) + 3 * DAY, int(time.time()) + 30 * DAY
    kube.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "stringData": {"password": "robot-pw"},
                 "metadata": {"name": "pw", "namespace": vault, "annotations": {EXPIRES_AT_ANNOTATION: rfc3339(soon)}}})
    kube.create({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                 "stringData": {".dockerconfigjson": dockerconfig(COPIED_SERVER, "robot", "expiry-scenario-token-7f3a")},
                 "metadata": {"name": "cfg", "namespace": vault, "annotations": {EXPIRES_AT_ANNOTATION: rfc3339(later)}}})
    name = kube.unique_ns("expiring")
    doc: dict[str, Any] = spec_doc(targets, name=name)
    doc["spec"]["registries"] = [
        {"server": PASSWORD_SERVER, "username": "robot$ci",
         "passwordFrom": {"secretKeyRef": {"namespace": vault, "name": "pw", "key": "password"}}},
        {"fromSecret": {"namespace": vault, "name": "cfg"}}]
    origin = f"annotation {EXPIRES_AT_ANNOTATION} of Secret {vault}/pw"

    def warnings() -> list[dict[str, Any]]:
        return [e for e in events_about(kube, name) if e.get("reason") == "CredentialExpiring"]

    with controller(kube) as running:
        specs.create(doc)
        degraded = wait_until(lambda: condition(kube, name, "Degraded").get("reason") == "CredentialExpiring" and
                              condition(kube, name, "Degraded"), "Degraded/CredentialExpiring", 20)
        assert degraded["message"] == (f"the credential for {PASSWORD_SERVER} expires at {rfc3339(soon)} "
                                       f"({origin}): replace it, and its expiry date, in time")
        wait_until(lambda: condition(kube, name, "Ready").get("status") == "True", "Ready all the same")
        event = wait_until(warnings, "a CredentialExpiring Event")
        assert len(event) == 1 and event[0]["type"] == "Warning" and event[0]["note"] == degraded["message"]
        assert expiry_series(running.manager, name) == {PASSWORD_SERVER: soon, COPIED_SERVER: later}

        running.manager.resync(quiet=False)  # every key again: the same warning, no second Event
        time.sleep(2.5)
        assert len(warnings()) == 1 and "series" not in warnings()[0]

        renewed = int(time.time()) + 90 * DAY  # the robot account renewed, the annotation moved with it
        kube.patch("v1", "Secret", "pw", {"metadata": {"annotations": {EXPIRES_AT_ANNOTATION: rfc3339(renewed)}}},
                   vault)
        wait_until(lambda: condition(kube, name, "Degraded").get("status") == "False", "the warning cleared", 20)
        wait_until(lambda: expiry_series(running.manager, name) == {PASSWORD_SERVER: renewed, COPIED_SERVER: later},
                   "the metric moved with the annotation")

        kube.request("DELETE", f"{SPECS}/{name}")
        wait_until(lambda: get_spec(kube, name) is None, "the spec deleted (finalizer released)", 20)
        wait_until(lambda: expiry_series(running.manager, name) == {}, "its expiry series removed")
