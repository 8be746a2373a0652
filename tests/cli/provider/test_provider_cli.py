"""`regcred spec validate` and `regcred render` with a credentialProvider registry (a real plugin process)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

from tests.support.cli import assert_no_secret, run_regcred

PLUGIN = str(Path(__file__).resolve().parents[2] / "support" / "credplugin.py")
TOKEN = "plugin-t0ken-never-printed"


def write_spec(tmp_path: Path, *env: tuple[str, str], namespaces: int = 30) -> Path:
    pairs = [("CREDPLUGIN_CALLS", str(tmp_path / "calls")), ("CREDPLUGIN_PASSWORD", TOKEN), *env]
    spec = {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": "ecr"},
            "spec": {"registries": [{"server": "1.dkr.ecr.eu-west-1.amazonaws.com", "credentialProvider": {
                "command": PLUGIN, "args": [], "timeout": "20s",
                "env": [{"name": k, "value": v} for k, v in pairs]}}]}}
    docs = [spec] + [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{i}"}}
                     for i in range(namespaces)]
    path = tmp_path / "ecr.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def calls(tmp_path: Path) -> list[str]:
    path = tmp_path / "calls"
    return path.read_text().splitlines() if path.exists() else []


def test_validate_does_not_run_the_plugin(tmp_path: Path) -> None:
    result = run_regcred("spec", "validate", "-f", write_spec(tmp_path))
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path) == []


def test_render_asks_the_plugin_once_and_writes_its_credential_in_every_namespace(tmp_path: Path) -> None:
    result = run_regcred("render", "-f", write_spec(tmp_path))
    assert result.returncode == 0, result.stderr
    secrets = [d for d in yaml.safe_load_all(result.stdout) if d and d["kind"] == "Secret"]
    assert len(secrets) == 30
    for secret in secrets:
        payload = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
        assert payload["auths"]["1.dkr.ecr.eu-west-1.amazonaws.com"]["password"] == TOKEN
    assert calls(tmp_path) == ["1.dkr.ecr.eu-west-1.amazonaws.com"]
    assert_no_secret(result.stderr, [TOKEN])


def test_render_with_placeholders_never_runs_the_plugin(tmp_path: Path) -> None:
    result = run_regcred("render", "--no-secrets", "-f", write_spec(tmp_path))
    assert result.returncode == 2
    assert "ecr.yaml: document 1: no registry credentials to write (fromSecret and credentialProvider cannot be " \
           "rendered with placeholders)" in result.stderr
    assert calls(tmp_path) == []


def test_a_failing_plugin_is_one_line_and_exit_2_without_the_token(tmp_path: Path) -> None:
    for mode, message in (("exit", "plugin credplugin.py exited with status 3; its 49-byte stderr is not shown"),
                          ("garbage", "plugin credplugin.py: its output is not JSON"),
                          ("no-match", "no auth entry matching '1.dkr.ecr.eu-west-1.amazonaws.com'")):
        result = run_regcred("render", "-f", write_spec(tmp_path, ("CREDPLUGIN_MODE", mode)))
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert "ecr.yaml: document 1: spec.registries[0].credentialProvider: " in result.stderr
        assert message in result.stderr, result.stderr
        assert result.stdout == ""
        assert_no_secret(result.stdout + result.stderr, [TOKEN])


def test_a_hanging_plugin_is_killed_at_the_spec_timeout(tmp_path: Path) -> None:
    path = write_spec(tmp_path, ("CREDPLUGIN_MODE", "hang"))
    path.write_text(path.read_text().replace("timeout: 20s", "timeout: 300ms"))
    result = run_regcred("render", "-f", path)
    assert result.returncode == 2
    assert "plugin credplugin.py did not answer within 0.3s and was killed" in result.stderr
