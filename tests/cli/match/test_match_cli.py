"""`regcred match`: the kubelet's choice of credentials, from node files and pull Secret manifests."""

import base64
import json
from pathlib import Path

import pytest

from tests.support.cli import assert_clean_error, run_regcred


def write_config(path: Path, auths: dict) -> Path:
    path.write_text(json.dumps({"auths": auths}))
    return path


def secret_yaml(name: str, payload: str, secret_type: str = "kubernetes.io/dockerconfigjson",
                key: str = ".dockerconfigjson") -> str:
    data = base64.b64encode(payload.encode()).decode()
    return f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: team\ntype: {secret_type}\ndata:\n  {key}: {data}\n"


def match_json(*args: str | Path) -> dict:
    result = run_regcred("match", *args, "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_node_file_match_and_json_contract(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config.json", {"reg.io:5000": {"auth": "YWxpY2U6cHc="}, "other.io": {}})
    out = match_json("reg.io:5000/team/app:v1", "--file", cfg)
    assert out == {
        "image": "reg.io:5000/team/app:v1",
        "repository": "reg.io:5000/team/app",
        "credentials": [{"key": "reg.io:5000", "source": str(cfg), "username": "alice"}],
        "anonymous": False,
    }
    assert "pw" not in json.dumps(out["credentials"])


def test_anonymous_when_nothing_matches(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config.json", {"reg.io": {"auth": "YTpi"}})
    out = match_json("nginx", "--file", cfg)
    assert out["anonymous"] is True and out["credentials"] == [] and out["repository"] == "docker.io/library/nginx"
    table = run_regcred("match", "nginx", "--file", cfg)
    assert "anonymous" in table.stdout


def test_first_file_wins_even_if_empty(tmp_path: Path) -> None:
    empty = tmp_path / "a.json"
    empty.write_text('{"credsStore": "desktop"}')
    real = write_config(tmp_path / "b.json", {"reg.io": {"auth": "YTpi"}})
    result = run_regcred("match", "reg.io/x", "--file", empty, "--file", real, "-o", "json")
    assert json.loads(result.stdout)["anonymous"] is True
    assert "shadowed" in result.stderr


def test_secrets_first_then_node(tmp_path: Path) -> None:
    manifest = tmp_path / "secrets.yaml"
    manifest.write_text(
        secret_yaml("pull", '{"auths":{"reg.io":{"username":"pod","password":"x"}}}')
        + "---\n"
        + secret_yaml("opaque", '{"auths":{"reg.io":{"username":"ignored","password":"x"}}}', "Opaque")
    )
    node = write_config(tmp_path / "config.json", {"https://reg.io/v1/": {"auth": "bm9kZTpwdw=="}})
    out = match_json("reg.io/team/app", "--secret-file", manifest, "--file", node)
    assert [(c["username"], c["source"], c["key"]) for c in out["credentials"]] == [
        ("pod", "secret team/pull", "reg.io"),
        ("node", str(node), "https://reg.io/v1/"),
    ]


def test_repository_flag_takes_the_string_verbatim(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config.json", {"https://index.docker.io/v1/": {"auth": "YTpi"}})
    out = match_json("jenkins", "--repository", "--file", cfg)
    assert out["repository"] == "jenkins" and out["credentials"][0]["username"] == "a"


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ('{"auths":{"reg.io":{"auth":"cGFudHM="}}}', "cannot be decoded"),
        ('{"auths":[]}', "must be a JSON object"),
        ("not json", "not valid JSON"),
    ],
)
def test_a_secret_the_kubelet_fails_on_is_an_error(tmp_path: Path, payload: str, needle: str) -> None:
    manifest = tmp_path / "s.yaml"
    manifest.write_text(secret_yaml("broken", payload))
    line = assert_clean_error(run_regcred("match", "reg.io/x", "--secret-file", manifest), 2, "secret team/broken", needle)
    assert str(manifest) in line


def test_invalid_inputs(tmp_path: Path) -> None:
    assert_clean_error(run_regcred("match", "Bad:Image:ref"), 2, "invalid image reference")
    assert_clean_error(run_regcred("match", "nginx", "--file", tmp_path / "missing.json"), 2, "missing.json")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("kind: Secret\n---\nmetadata: [unclosed\n")
    assert_clean_error(run_regcred("match", "nginx", "--secret-file", bad_yaml), 2, "document 2", "line")
