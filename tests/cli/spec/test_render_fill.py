"""The documented ways to fill a credential-free render give exactly the password, whatever it is.

Before the fix the documented `envsubst < file` turned `robot$ci` into `robot`, a `'` broke the YAML, a `"`
the JSON, a `\\` silently changed the password, and the node DaemonSet's `$rt` was emptied. Here the commands
regcred prints are run as printed, with the real `envsubst` (Debian gettext-base) and bash, over arbitrary user
names and passwords; the Secret is then read with regcred's kubelet rules. The ExternalSecret's template is run
by a Go text/template evaluator of the subset it uses (tests/support/gotemplate.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regcred.cli.main import main
from regcred.core.credentials.dockerconfig import parse_config_json
from regcred.core.credentials.pullsecret import read_pull_secret
from tests.support import gotemplate
from tests.support.fixtures import require_binaries


@pytest.fixture(autouse=True)
def _real_envsubst() -> None:
    """The real envsubst (Debian gettext-base): skipped without it, a failure under REGCRED_REQUIRE_REAL."""
    require_binaries("envsubst")

# a user name the spec file (YAML) can carry as is, and the kubelet can split from `auth` (no colon)
USERNAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co", "Zl", "Zp"),
                                  blacklist_characters=":\ufeff"), min_size=1, max_size=20)
PASSWORDS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
                    max_size=40)
ODD = ["robot$ci", "it's", 'say "hi"', "back\\slash", "${HOME}", "$(reboot)", "`x`", "{{ .x }}", "a\nb", "é€😀"]


def _spec(username: str, email: str = "") -> str:
    registry: dict[str, Any] = {"server": "r.example.com", "username": username,
                                "passwordFrom": {"env": "HARBOR_TOKEN"}}
    if email:
        registry["email"] = email
    return json.dumps({"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential",
                       "metadata": {"name": "harbor"},
                       "spec": {"registries": [registry, {"server": "b.example.com", "username": "b",
                                                          "passwordFrom": {"file": "/nonexistent pw"}}],
                                "namespaces": {"include": ["team-a"]},
                                "nodes": {"enabled": True, "runtimes": ["containerd"]}}}, ensure_ascii=False)


def _render(tmp: Path, username: str, *args: str) -> tuple[str, str]:
    spec = tmp / "spec.json"
    spec.write_text(_spec(username))
    with CliRunner().isolation(env={"HARBOR_TOKEN": None}) as (out, err, _):
        try:
            main(["render", "-f", str(spec), *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    assert code == 0, stderr
    return stdout, stderr


def _fill(tmp: Path, rendered: str, notes: str, password: str) -> str:
    """Run the printed export for the env-sourced registry and the printed envsubst, as a user would."""
    commands = [line.removeprefix("note:   ") for line in notes.splitlines() if line.startswith("note:   ")]
    (export, *_), envsubst = [c for c in commands if "HARBOR_TOKEN" in c], commands[-1]
    assert export.startswith("export REGCRED_AUTH_HARBOR_0=") and envsubst.endswith("< FILE | kubectl apply -f -")
    path = tmp / "rendered.yaml"
    path.write_bytes(rendered.encode())
    script = export + "\n" + envsubst.replace("< FILE | kubectl apply -f -", f"< {path}")
    result = subprocess.run(["bash", "-c", script], capture_output=True, env={"HARBOR_TOKEN": password,
                            "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}, check=True)
    return result.stdout.decode()


def _credentials(docs: list[Any], namespace: str) -> tuple[str, str]:
    (secret,) = [d for d in docs if d and d["kind"] == "Secret" and d["metadata"]["namespace"] == namespace]
    config = read_pull_secret({**secret, "data": {".dockerconfigjson": _b64(secret["stringData"][".dockerconfigjson"])}},
                              "test").config
    assert config is not None
    entry = config.get("r.example.com")
    assert entry is not None
    return entry.username, entry.password


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(username=USERNAMES | st.sampled_from(ODD[:8]), password=PASSWORDS | st.sampled_from(ODD))
def test_the_printed_envsubst_commands_give_exactly_the_password(tmp_path: Path, username: str, password: str) -> None:
    rendered, notes = _render(tmp_path, username, "--no-secrets")
    filled = _fill(tmp_path, rendered, notes, password)
    docs, before = list(yaml.safe_load_all(filled)), list(yaml.safe_load_all(rendered))
    for namespace in ("team-a", "kube-system"):
        assert _credentials(docs, namespace) == (username, password)
    # nothing but the placeholders changed: the DaemonSet's shell script keeps its $rt
    assert [d for d in docs if d and d["kind"] != "Secret"] == [d for d in before if d and d["kind"] != "Secret"]
    assert "$rt" in filled


def test_a_bare_envsubst_is_what_broke(tmp_path: Path) -> None:
    """The old documented command, for the record: a plain envsubst empties `$ci` and the script's `$rt`."""
    rendered, _ = _render(tmp_path, "robot$ci", "--no-secrets")
    bare = subprocess.run(["envsubst"], input=rendered.encode(), capture_output=True, check=True,
                          env={"PATH": "/usr/bin:/bin"}).stdout.decode()
    assert "robot$ci" in rendered and "robot$ci" not in bare and "$rt" not in bare


def _template(rendered: str, namespace: str) -> tuple[str, dict[str, Any]]:
    (obj,) = [d for d in yaml.safe_load_all(rendered)
              if d and d["kind"] == "ExternalSecret" and d["metadata"]["namespace"] == namespace]
    return obj["spec"]["target"]["template"]["data"][".dockerconfigjson"], obj


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(username=USERNAMES | st.sampled_from(ODD[:8]), password=PASSWORDS | st.sampled_from(ODD))
def test_the_external_secret_template_gives_exactly_the_password(tmp_path: Path, username: str,
                                                                 password: str) -> None:
    rendered, _ = _render(tmp_path, username, "--secret-format", "external-secret", "--secret-store", "vault")
    for namespace in ("team-a", "kube-system"):
        template, obj = _template(rendered, namespace)
        store = {item["secretKey"]: {"HARBOR_TOKEN": password}.get(item["remoteRef"]["key"], "other")
                 for item in obj["spec"]["data"]}
        config = parse_config_json(gotemplate.render(template, store).encode(), "template")
        entry = config.get("r.example.com")
        assert entry is not None and (entry.username, entry.password) == (username, password)


def test_the_external_secret_has_the_shape_eso_reads(tmp_path: Path) -> None:
    rendered, _ = _render(tmp_path, "robot$ci", "--secret-format", "external-secret", "--secret-store", "vault",
                          "--secret-store-kind", "ClusterSecretStore")
    assert "HARBOR_TOKEN=" not in rendered and "Secret\n" not in rendered.replace("ExternalSecret\n", "")
    template, obj = _template(rendered, "team-a")
    assert obj["apiVersion"] == "external-secrets.io/v1"
    assert obj["spec"]["secretStoreRef"] == {"name": "vault", "kind": "ClusterSecretStore"}
    target = obj["spec"]["target"]
    assert target["name"] == "harbor" and target["template"]["type"] == "kubernetes.io/dockerconfigjson"
    assert target["template"]["engineVersion"] == "v2"
    assert target["template"]["metadata"]["labels"]["regcred.dev/credential"] == "harbor"
    assert [(d["secretKey"], d["remoteRef"]["key"]) for d in obj["spec"]["data"]] == [
        ("password0", "HARBOR_TOKEN"), ("password1", "REGCRED_HARBOR_1")]
    fields = set(__import__("re").findall(r"\.(password\d+)", template))
    assert fields == {"password0", "password1"}


def test_external_secret_needs_a_store(tmp_path: Path) -> None:
    from tests.support.cli import assert_clean_error, run_regcred

    (tmp_path / "s.json").write_text(_spec("u"))
    assert_clean_error(run_regcred("render", "-f", tmp_path / "s.json", "--secret-format", "external-secret"), 2,
                       "--secret-store")
