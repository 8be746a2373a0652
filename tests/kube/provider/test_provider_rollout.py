"""`regcred apply` with verifyBeforeRollout on an API server (the fake, and envtest) and the real docker-registry
with token auth: a refused new credential replaces no copy (exit 1, one line), an accepted one reaches every
namespace, one check serves every namespace, and creating a missing copy is never held.

The plugin (tests/support/credplugin.py) buys a short-lived password from the token API (tests/support/tokenapi.py)
as ecr-credential-provider does; `bad-password` mode spoils it, as a revoked or mistyped credential would be.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from regcred.localregistry.registry import RegistryServer
from tests.support.cli import run_regcred_kube
from tests.support.controllerrun import auth_in, pulls
from tests.support.fixtures import IMAGE_REPO, TOKEN_PASSWORDS
from tests.support.tokenapi import TokenApi
from tests.support.tokenserver import TokenServer

PLUGIN = str(Path(__file__).resolve().parents[2] / "support" / "credplugin.py")


def write_spec(tmp_path: Path, host: str, api: TokenApi, include: list[str]) -> Path:
    env = {"CREDPLUGIN_TOKEN_URL": api.url, "CREDPLUGIN_USER": "reader", "CREDPLUGIN_PASSWORD": TOKEN_PASSWORDS["reader"],
           "CREDPLUGIN_MODE_FILE": str(tmp_path / "mode")}
    spec = {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": "bought"},
            "spec": {"registries": [{"server": host, "credentialProvider": {
                "command": PLUGIN, "image": f"{host}/{IMAGE_REPO}",
                "env": [{"name": k, "value": v} for k, v in env.items()]}}],
                "namespaces": {"include": include}, "verifyBeforeRollout": True}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_a_refused_credential_replaces_no_copy_and_an_accepted_one_reaches_every_namespace(
    kube: Any, registry_token: RegistryServer, token_server: TokenServer, token_api: TokenApi, tmp_path: Path
) -> None:
    host = registry_token.host
    names = [kube.unique_ns("vr") for _ in range(12)]
    for name in names:
        kube.create_namespace(name)
    spec = write_spec(tmp_path, host, token_api, names)
    apply = ("apply", "-f", spec, "--insecure-http", "-o", "json")
    token_server.clear_requests()
    created = run_regcred_kube(kube, *apply, secrets=[TOKEN_PASSWORDS["reader"]])
    assert created.returncode == 0, created.stderr
    assert token_server.requests == []  # creating a missing copy is never held: nothing to lose
    first = {ns: auth_in(kube, ns, "bought", host) for ns in names}
    assert len(set(first.values())) == 1 and None not in first.values()
    never_shown = [TOKEN_PASSWORDS["reader"], str(first[names[0]]).partition(":")[2]]  # the account's, the bought

    (tmp_path / "mode").write_text("bad-password")
    late = kube.unique_ns("vr")  # a namespace without a copy: created and attached while the others are held
    kube.create_namespace(late)
    spec = write_spec(tmp_path, host, token_api, [*names, late])
    before = {ns: kube.get("v1", "Secret", "bought", ns)["metadata"]["resourceVersion"] for ns in names}
    token_server.clear_requests()
    refused = run_regcred_kube(kube, *apply, secrets=never_shown)
    assert refused.returncode == 1, refused.stderr
    rows = {r["namespace"]: r for r in json.loads(refused.stdout)["results"] if r["name"] == "Secret/bought"}
    assert {ns for ns, r in rows.items() if r["status"] == "failed"} == set(names)
    assert rows[names[0]]["message"].startswith(
        f"not replaced: the registry refused the new credentials for {host} (token request: 401 unauthorized")
    assert rows[names[0]]["message"].endswith("the copy in place is kept (verifyBeforeRollout)")
    assert {ns: kube.get("v1", "Secret", "bought", ns)["metadata"]["resourceVersion"] for ns in names} == before
    assert {ns: auth_in(kube, ns, "bought", host) for ns in names} == first
    assert auth_in(kube, late, "bought", host) is not None and pulls(kube, late) == ["bought"]
    assert [r.status for r in token_server.requests] == [401]  # one check for 12 namespaces

    (tmp_path / "mode").write_text("ok")
    token_server.clear_requests()
    rotated = run_regcred_kube(kube, *apply, secrets=never_shown)
    assert rotated.returncode == 0, rotated.stderr
    now = {ns: auth_in(kube, ns, "bought", host) for ns in [*names, late]}
    assert len(set(now.values())) == 1 and set(now.values()) != set(first.values())
    logins = [r for r in token_server.requests if not r.scopes]
    assert len(logins) == 1 and all(r.status == 200 for r in token_server.requests)  # one check for 13
