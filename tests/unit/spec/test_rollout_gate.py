"""usecases.rollout's gate: which credentials it checks, what it calls a refusal, and what it remembers for how long.

The check itself is `regcred verify`'s (tested against real registries in tests/real/verify); here a scripted
checker answers with verify's own row shape (`result_json`) and counts the checks.
"""

from __future__ import annotations

import threading
from typing import Any

from regcred.core.spec.model import parse_document
from regcred.core.spec.planner import DesiredCredential, payload_from_entries
from regcred.core.verify.plan import CheckRequest
from regcred.core.verify.results import CheckResult, result_json, status_reason
from regcred.usecases.rollout import RolloutGate
from regcred.usecases.verification import CheckOptions

SERVER = "registry.example.com:5000"
PASSWORD = "n3w-pa55word"


def desired(*, verify: bool = True, image: str | None = None, password: str = PASSWORD) -> DesiredCredential:
    registry: dict[str, Any] = {"server": SERVER, "username": "robot", "passwordFrom": {"env": "PW"}}
    if image is not None:
        registry = {"server": SERVER, "credentialProvider": {"command": "/bin/plugin", "image": image}}
    doc = {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": "pull"},
           "spec": {"registries": [registry], "verifyBeforeRollout": verify}}
    entries = [(SERVER, {"username": "robot", "password": password}), ("other.example.com", {"username": "u",
                                                                                              "password": "p"})]
    return DesiredCredential.build(parse_document(doc, "test"), payload_from_entries(entries))


class Registry:
    """A checker answering every request with one result; it records the requests (thread-safe)."""

    def __init__(self, result: CheckResult) -> None:
        self.result, self.lock = result, threading.Lock()
        self.requests: list[CheckRequest] = []

    def __call__(self, requests: list[CheckRequest], options: CheckOptions) -> list[dict[str, Any]]:
        with self.lock:
            self.requests += requests
        return [result_json(r.credential.key, self.result) for r in requests]


def accepting() -> Registry:
    return Registry(CheckResult(SERVER, reachable=True, login=True))


def refusing() -> Registry:
    return Registry(CheckResult(SERVER, reachable=True, errors=[status_reason(401, what="token request")]))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_spec_without_verify_before_rollout_is_never_checked() -> None:
    registry = accepting()
    assert RolloutGate(check=registry).refusal(desired(verify=False), [SERVER]) is None
    assert registry.requests == []


def test_only_the_credentials_the_update_brings_in_are_checked() -> None:
    registry = accepting()
    gate = RolloutGate(check=registry)
    assert gate.refusal(desired(), [SERVER]) is None
    assert [r.credential.key for r in registry.requests] == [SERVER]
    assert gate.refusal(desired(), []) is None and len(registry.requests) == 1  # nothing renewed: no check


def test_a_refusal_is_one_line_naming_the_registry_and_the_reason_and_never_the_password() -> None:
    line = RolloutGate(check=refusing()).refusal(desired(), [SERVER])
    assert line == (f"not replaced: the registry refused the new credentials for {SERVER} (token request: 401 "
                    "unauthorized: the registry rejected the credentials); the copy in place is kept "
                    "(verifyBeforeRollout)")
    assert PASSWORD not in line and "\n" not in line


def test_one_check_serves_a_thousand_namespaces_even_concurrently() -> None:
    registry = accepting()
    gate = RolloutGate(check=registry)
    verdicts: list[str | None] = []
    threads = [threading.Thread(target=lambda: verdicts.extend(gate.refusal(desired(), [SERVER])
                                                               for _ in range(125))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert verdicts == [None] * 1000 and len(registry.requests) == 1 and gate.checks == 1


def test_a_refusal_is_remembered_briefly_an_acceptance_longer_and_a_new_password_is_checked_at_once() -> None:
    clock, registry = Clock(), refusing()
    gate = RolloutGate(check=registry, clock=clock, refused_for=10, accepted_for=300)
    assert gate.refusal(desired(), [SERVER]) is not None
    clock.now += 9
    assert gate.refusal(desired(), [SERVER]) is not None and len(registry.requests) == 1
    registry.result = CheckResult(SERVER, reachable=True, login=True)  # the registry takes it now
    clock.now += 1
    assert gate.refusal(desired(), [SERVER]) is None and len(registry.requests) == 2
    clock.now += 299
    assert gate.refusal(desired(), [SERVER]) is None and len(registry.requests) == 2
    assert gate.refusal(desired(password="another"), [SERVER]) is None and len(registry.requests) == 3
    clock.now += 1
    assert gate.refusal(desired(), [SERVER]) is None and len(registry.requests) == 4


def test_the_provider_image_is_pulled_and_a_missing_tag_is_no_refusal() -> None:
    label = "team/app:latest"  # the kubelet asks a plugin for the repository: its tag is not known
    registry = Registry(CheckResult(SERVER, reachable=True, login=True, pull={label: False},
                                    errors=[status_reason(404, what=f"pull {label}")]))
    assert RolloutGate(check=registry).refusal(desired(image=f"{SERVER}/team/app:v1"), [SERVER]) is None
    assert [r.label for r in registry.requests[0].repositories] == [label]


def test_a_denied_pull_refuses_and_push_rights_do_not() -> None:
    label = "team/app:latest"
    denied = Registry(CheckResult(SERVER, reachable=True, login=True, pull={label: False},
                                  errors=[status_reason(403, what=f"pull {label}")]))
    line = RolloutGate(check=denied).refusal(desired(image=f"{SERVER}/{label}"), [SERVER])
    assert line is not None and f"pull {label}: 403 denied" in line
    pushing = Registry(CheckResult(SERVER, reachable=True, login=True, pull={label: True}, push_granted=True))
    assert RolloutGate(check=pushing).refusal(desired(image=f"{SERVER}/{label}"), [SERVER]) is None


def test_an_unreachable_registry_holds_the_rollout_and_says_it_could_not_check() -> None:
    registry = Registry(CheckResult(SERVER, reachable=False, errors=["cannot connect: connection refused"]))
    line = RolloutGate(check=registry).refusal(desired(), [SERVER])
    assert line is not None and f"could not be checked ({'cannot connect: connection refused'})" in line


def test_a_glob_server_names_no_registry_to_ask_and_is_not_held() -> None:
    registry = refusing()
    glob = DesiredCredential.build(desired().spec, payload_from_entries([("*.example.com", {"username": "u",
                                                                                           "password": "p"})]))
    assert RolloutGate(check=registry).refusal(glob, ["*.example.com"]) is None and registry.requests == []
