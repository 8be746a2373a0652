"""`regcred plan`/`apply` with a credential-provider plugin against an API server (the fake, and envtest).

The plugin (tests/support/credplugin.py) answers token-<n> on its n-th call: each run is one call whatever the
number of namespaces, a new token reaches every namespace, and a failing plugin leaves the good copies in place.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import yaml

from tests.support.cli import run_regcred_kube

PLUGIN = str(Path(__file__).resolve().parents[2] / "support" / "credplugin.py")
SERVER = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
TOKENS = tuple(f"token-{n}" for n in range(1, 5))


def write_spec(tmp_path: Path, include: list[str], mode: str = "ok") -> Path:
    env = {"CREDPLUGIN_CALLS": str(tmp_path / "calls"), "CREDPLUGIN_MODE": mode, "CREDPLUGIN_DURATION": "5s"}
    spec = {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": "ecr"},
            "spec": {"registries": [{"server": SERVER, "credentialProvider": {
                "command": PLUGIN, "env": [{"name": k, "value": v} for k, v in env.items()]}}],
                "namespaces": {"include": include}}}
    path = tmp_path / "ecr.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def calls(tmp_path: Path) -> int:
    path = tmp_path / "calls"
    return len(path.read_text().splitlines()) if path.exists() else 0


def password(kube: Any, ns: str) -> str:
    secret = kube.get("v1", "Secret", "ecr", ns)
    return str(json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"][SERVER]["password"])


def test_one_plugin_call_per_run_reaches_every_namespace_and_a_failure_keeps_the_good_copy(
    kube: Any, tmp_path: Path
) -> None:
    names = [kube.unique_ns("cp") for _ in range(12)]
    for name in names:
        kube.create_namespace(name)
    spec = write_spec(tmp_path, names)
    applied = run_regcred_kube(kube, "apply", "-f", spec, "-o", "json", secrets=TOKENS)
    assert applied.returncode == 0, applied.stderr
    assert calls(tmp_path) == 1 and {password(kube, ns) for ns in names} == {"token-1"}

    planned = run_regcred_kube(kube, "plan", "-f", spec, "-o", "json", secrets=TOKENS)  # the plugin answers token-2
    assert planned.returncode == 1, planned.stderr
    assert {(c["namespace"], c["action"]) for c in json.loads(planned.stdout)["changes"]} == {
        (ns, "update") for ns in names}
    assert calls(tmp_path) == 2

    rotated = run_regcred_kube(kube, "apply", "-f", spec, secrets=TOKENS)
    assert rotated.returncode == 0, rotated.stderr
    assert calls(tmp_path) == 3 and {password(kube, ns) for ns in names} == {"token-3"}

    failing = write_spec(tmp_path, names, mode="exit")
    refused = run_regcred_kube(kube, "apply", "-f", failing, secrets=TOKENS)
    assert refused.returncode == 2
    assert "spec.registries[0].credentialProvider: plugin credplugin.py exited with status 3" in refused.stderr
    assert calls(tmp_path) == 4 and {password(kube, ns) for ns in names} == {"token-3"}
