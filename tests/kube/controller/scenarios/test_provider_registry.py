"""A plugin's short-lived credential through the running controller, checked on the real docker-registry with
token auth: every copy is refreshed before expiry and the registry takes the current copy while it refuses one
taken before a refresh once that expired; with verifyBeforeRollout a refused credential replaces no copy
(Degraded says why) and a good one is rolled out again.

The plugin (tests/support/credplugin.py) buys a password from the token API (tests/support/tokenapi.py), which the
token server takes for its lifetime only; `bad-password` mode spoils what it bought.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from regcred.localregistry.registry import RegistryServer
from tests.support.controllerrun import (
    Specs,
    auth_in,
    condition,
    controller,
    events_about,
    namespaces,
    spec_doc,
    wait_until,
)
from tests.support.fixtures import IMAGE_REPO, IMAGE_TAG, TOKEN_PASSWORDS, SkopeoInspect
from tests.support.kube import KubeBackend
from tests.support.tokenapi import TokenApi
from tests.support.tokenserver import TokenServer

PLUGIN = str(Path(__file__).resolve().parents[3] / "support" / "credplugin.py")


def bought_spec(kube: KubeBackend, targets: list[str], host: str, url: str, mode: Path, **env: str) -> dict[str, Any]:
    doc: dict[str, Any] = spec_doc(targets, name=kube.unique_ns("bought"))
    env = {"CREDPLUGIN_TOKEN_URL": url, "CREDPLUGIN_USER": "reader", "CREDPLUGIN_PASSWORD": TOKEN_PASSWORDS["reader"],
           "CREDPLUGIN_MODE_FILE": str(mode), **env}
    doc["spec"]["registries"] = [{"server": host, "credentialProvider": {
        "command": PLUGIN, "image": f"{host}/{IMAGE_REPO}", "env": [{"name": k, "value": v} for k, v in env.items()]}}]
    return doc


def copies(kube: KubeBackend, targets: list[str], name: str, host: str) -> set[str | None]:
    return {auth_in(kube, ns, name, host) for ns in targets}


def one(found: set[str | None]) -> str | None:
    """The credential every namespace holds, or None while they differ (or one has none)."""
    return next(iter(found)) if len(found) == 1 else None


def authfile(path: Path, host: str, auth: str) -> Path:
    path.write_text(json.dumps({"auths": {host: {"auth": base64.b64encode(auth.encode()).decode()}}}))
    return path


def test_every_copy_is_refreshed_and_the_registry_refuses_a_copy_taken_before_once_it_expired(
    kube: KubeBackend, specs: Specs, registry_token: RegistryServer, token_api: TokenApi,
    skopeo_inspect: SkopeoInspect, tmp_path: Path
) -> None:
    host, lifetime = registry_token.host, 6.0  # cacheDuration 6 s: the controller refreshes at 4.8 s
    ref = f"{host}/{IMAGE_REPO}:{IMAGE_TAG}"
    targets = namespaces(kube, "exp", 3)
    doc = bought_spec(kube, targets, host, f"{token_api.url}?lifetime={lifetime:g}", tmp_path / "mode")
    name = doc["metadata"]["name"]
    with controller(kube):
        specs.create(doc)
        first = wait_until(lambda: one(copies(kube, targets, name, host)), "every copy with the bought credential")
        first_seen = time.time()  # the credential was bought before: it expires before first_seen + lifetime
        old = authfile(tmp_path / "old.json", host, first)
        current = wait_until(lambda: (c := one(copies(kube, targets, name, host))) not in (None, first) and c,
                             "every copy refreshed with a newly bought credential", 20)
        accepted = skopeo_inspect(ref, authfile(tmp_path / "current.json", host, current))
        assert accepted.returncode == 0, accepted.stderr
        time.sleep(max(0.0, first_seen + lifetime + 0.3 - time.time()))
        refused = skopeo_inspect(ref, old)
        assert refused.returncode != 0 and "unauthorized" in refused.stderr.lower(), refused.stderr


def test_verify_before_rollout_keeps_the_copies_while_the_registry_refuses_and_rolls_out_once_it_accepts(
    kube: KubeBackend, specs: Specs, registry_token: RegistryServer, token_server: TokenServer, token_api: TokenApi,
    tmp_path: Path
) -> None:
    host, mode = registry_token.host, tmp_path / "mode"
    targets = namespaces(kube, "vbr", 3)
    doc = bought_spec(kube, targets, host, token_api.url, mode, CREDPLUGIN_DURATION="2s")  # refreshed every 1.6 s
    doc["spec"]["verifyBeforeRollout"] = True
    name = doc["metadata"]["name"]
    with controller(kube, registry_insecure_http=True):
        specs.create(doc)
        first = wait_until(lambda: one(copies(kube, targets, name, host)), "every copy with the bought credential")
        mode.write_text("bad-password")
        token_server.clear_requests()
        bought = token_api.issued
        degraded = wait_until(lambda: condition(kube, name, "Degraded").get("status") == "True" and
                              condition(kube, name, "Degraded"), "Degraded once the registry refuses", 20)
        assert f"not replaced: the registry refused the new credentials for {host} (token request: 401 " \
               "unauthorized" in degraded["message"]
        assert "the copy in place is kept (verifyBeforeRollout)" in degraded["message"]
        time.sleep(2)  # a few refreshes more, all refused
        assert copies(kube, targets, name, host) == {first}  # the working copy stays everywhere
        held = [e for e in events_about(kube, name) if e.get("reason") == "RolloutHeld"]
        assert held and all(e["type"] == "Warning" and e["note"].startswith("not replaced: ") for e in held)
        assert len(held) == len({e["note"] for e in held})  # one Event per line: the repeats go to its series
        refusals = [r for r in token_server.requests if r.status == 401]
        assert 1 <= len(refusals) <= token_api.issued - bought  # one check per bought credential, not per namespace

        mode.write_text("ok")
        wait_until(lambda: one(copies(kube, targets, name, host)) not in (None, first), "rolled out once accepted", 40)
        wait_until(lambda: condition(kube, name, "Degraded").get("status") == "False", "no longer Degraded", 20)
