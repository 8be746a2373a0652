"""Secret hygiene of every command: a sentinel password never leaks, errors are one line, inputs stay intact.

One sentinel password is planted in every place a command reads a credential from (stdin, --password-env,
--password, credential files, Secret manifests, node files under a --host-root, spec files with passwordFrom
env/file/secretKeyRef/fromSecret, Secrets in the API server, a real registry), on success paths and on error
paths built to tempt a leak (the sentinel right next to a JSON/YAML/TOML syntax error, a wrong type right after
the password, an undecodable `auth`, a wrong password, an unreachable or forbidding API server). Each run checks:

- the API bearer tokens (and a token passed where a variable name belongs) appear in neither stdout nor stderr,
  whatever the command;
- the sentinel, its `auth` form and the base64 of the payloads that hold it (any 16-character slice of them that
  encodes part of the secret) appear in neither stdout nor stderr, except on stdout where the user asked for a
  Secret manifest (`secret create --dry-run=client`, `render`, inject's pass-through stream): there the test
  asserts that they DO appear, so it fails both ways;
- an error is exactly one `regcred: error:` line with the documented exit code, never a traceback;
- every file the command only reads is byte-identical afterwards (an error changes nothing on disk).

Cases are parametrized by id ("<command>: <scenario>"), so a failure names the command. Cluster cases share one
API server per module (fake, and envtest when KUBEBUILDER_ASSETS is set), each in its own namespace; registry
cases share the session's real htpasswd registry. `demo` is excluded (it generates its own credentials).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from tests.cli.hygiene.harness import (
    ALICE_PW,
    CONTAINERD_BROKEN,
    CONTAINERD_OK,
    DEPLOYMENT,
    K3S_BROKEN,
    LEGACY,
    MALFORMED_JSON,
    PAYLOAD,
    SECRET_YAML_BROKEN,
    SECRET_YAML_COLON,
    SENTINEL,
    SERVER,
    STRINGDATA_BROKEN,
    TOKEN_LIKE,
    UNDECODABLE,
    USER,
    WRONG_TYPE,
    Builder,
    Ctx,
    Run,
    b64,
    config,
    execute,
    needles_for,
    node_root,
    secret_yaml,
    spec_files,
    spec_yaml,
)
from tests.support.fixtures import IMAGE_REPO, IMAGE_TAG

OFFLINE: dict[str, Builder] = {
    # auth add
    "auth add: --password-stdin into a file holding the sentinel": lambda c: Run(
        ["auth", "add", "new.io", "-u", USER, "--password-stdin", "--file",
         c.file("config.json", config("old.io"), mutable=True)], input=SENTINEL + "\n"),
    "auth add: --password-env": lambda c: Run(
        ["auth", "add", "new.io", "-u", USER, "--password-env", "SENT_PW", "--file",
         c.file("config.json", config("old.io"), mutable=True)]),
    "auth add: --password on argv (warning only)": lambda c: Run(
        ["auth", "add", "new.io", "-u", USER, "--password", SENTINEL, "--file",
         c.file("config.json", "{}", mutable=True)]),
    "auth add: --password-env given the password instead of a name": lambda c: Run(
        ["auth", "add", "new.io", "-u", USER, "--password-env", SENTINEL, "--file", c.file("config.json", "{}")],
        code=2, error="not shown"),
    "auth add: --password-env given a token that looks like a name": lambda c: Run(
        ["auth", "add", "new.io", "-u", USER, "--password-env", TOKEN_LIKE, "--file", c.file("config.json", "{}")],
        code=2, error="not shown"),
    "auth add: malformed JSON next to the password": lambda c: Run(
        ["auth", "add", "new.io", "-u", USER, "--password-stdin", "--file", c.file("config.json", MALFORMED_JSON)],
        input=SENTINEL, code=2, error="config.json"),
    "auth add: wrong type right after the password": lambda c: Run(
        ["auth", "add", "new.io", "-u", USER, "--password-stdin", "--file", c.file("config.json", WRONG_TYPE)],
        input=SENTINEL, code=2, error="config.json"),
    "auth add: undecodable auth": lambda c: Run(
        ["auth", "add", "new.io", "-u", USER, "--password-stdin", "--file", c.file("config.json", UNDECODABLE)],
        input=SENTINEL, code=2, error="config.json"),
    "auth add: unparsable server key, password on stdin": lambda c: Run(
        ["auth", "add", "host:abc", "-u", USER, "--password-stdin", "--file", c.file("config.json", config("r.io"))],
        input=SENTINEL, code=2, error="host:abc"),
    # auth list
    "auth list: table": lambda c: Run(["auth", "list", "--file", c.file("config.json", config("a.io", "b.io"))]),
    "auth list: json": lambda c: Run(["auth", "list", "-o", "json", "--file", c.file("config.json", config("a.io"))]),
    "auth list: legacy .dockercfg": lambda c: Run(["auth", "list", "--file", c.file(".dockercfg", LEGACY)]),
    "auth list: malformed JSON next to the password": lambda c: Run(
        ["auth", "list", "--file", c.file("config.json", MALFORMED_JSON)], code=2, error="config.json"),
    "auth list: wrong type right after the password": lambda c: Run(
        ["auth", "list", "--file", c.file("config.json", WRONG_TYPE)], code=2, error="config.json"),
    "auth list: undecodable auth": lambda c: Run(
        ["auth", "list", "--file", c.file("config.json", UNDECODABLE)], code=2, error="config.json"),
    # auth remove
    "auth remove: entry removed, others kept": lambda c: Run(
        ["auth", "remove", "a.io", "--file", c.file("config.json", config("a.io", "b.io"), mutable=True)]),
    "auth remove: missing entry": lambda c: Run(
        ["auth", "remove", "x.io", "--file", c.file("config.json", config("a.io"))], code=1, error="x.io"),
    "auth remove: malformed JSON next to the password": lambda c: Run(
        ["auth", "remove", "r.io", "--file", c.file("config.json", MALFORMED_JSON)], code=2, error="config.json"),
    "auth remove: undecodable auth": lambda c: Run(
        ["auth", "remove", "r.io", "--file", c.file("config.json", UNDECODABLE)], code=2, error="config.json"),
    # match
    "match: node file": lambda c: Run(
        ["match", f"{SERVER}/team/app", "-o", "json", "--file", c.file("config.json", config(SERVER))]),
    "match: Secret file and Secret on stdin": lambda c: Run(
        ["match", f"{SERVER}/team/app", "--secret-file", c.file("s.yaml", secret_yaml()), "--secret-file", "-"],
        input=secret_yaml(dockerconfigjson_payload("other.io", USER, SENTINEL), name="two")),
    "match: Secret with a YAML error on the payload line": lambda c: Run(
        ["match", "nginx", "--secret-file", c.file("s.yaml", SECRET_YAML_COLON)], code=2, error="s.yaml"),
    "match: Secret with an unclosed flow on the payload line": lambda c: Run(
        ["match", "nginx", "--secret-file", c.file("s.yaml", SECRET_YAML_BROKEN)], code=2, error="s.yaml"),
    "match: Secret whose payload has an undecodable auth": lambda c: Run(
        ["match", "nginx", "--secret-file", c.file("s.yaml", secret_yaml(UNDECODABLE.encode()))],
        code=2, error="pull"),
    "match: Secret whose payload is malformed JSON next to the password": lambda c: Run(
        ["match", "nginx", "--secret-file", c.file("s.yaml", secret_yaml(MALFORMED_JSON.encode()))],
        code=2, error="pull"),
    "match: Secret whose payload has a wrong type after the password": lambda c: Run(
        ["match", "nginx", "--secret-file", "-"], input=secret_yaml(WRONG_TYPE.encode()), code=2, error="pull"),
    "match: node file malformed next to the password": lambda c: Run(
        ["match", "nginx", "--file", c.file("config.json", MALFORMED_JSON)], code=2, error="config.json"),
    "match: JSON Secret manifest with a syntax error after the payload": lambda c: Run(
        ["match", "nginx", "--secret-file", c.file("s.json", json.dumps(yaml.safe_load(secret_yaml()))[:-2] + '" "oops"}}')],
        code=2, error="s.json"),
    # secret create --dry-run=client (offline: the manifest the user asked for)
    "secret create: --dry-run=client prints the manifest (json)": lambda c: Run(
        ["secret", "create", "pull", "--server", SERVER, "--username", USER, "--password-stdin", "--dry-run=client"],
        input=SENTINEL + "\n", manifest=True),
    "secret create: --dry-run=client prints the manifest (yaml, --password-env)": lambda c: Run(
        ["secret", "create", "pull", "--server", SERVER, "--username", USER, "--password-env", "SENT_PW",
         "--dry-run=client", "-o", "yaml"], manifest=True),
    "secret create: --dry-run=client --from-file": lambda c: Run(
        ["secret", "create", "pull", "--from-file", c.file("config.json", config(SERVER)), "--dry-run=client"],
        manifest=True),
    "secret create: --from-file malformed next to the password": lambda c: Run(
        ["secret", "create", "pull", "--from-file", c.file("config.json", MALFORMED_JSON), "--dry-run=client"],
        code=2, error="config.json"),
    "secret create: --from-file wrong type after the password": lambda c: Run(
        ["secret", "create", "pull", "--from-file", c.file("config.json", WRONG_TYPE), "--dry-run=client"],
        code=2, error="config.json"),
    "secret create: --from-file undecodable auth": lambda c: Run(
        ["secret", "create", "pull", "--from-file", c.file("config.json", UNDECODABLE), "--dry-run=client"],
        code=2, error="config.json"),
    "secret create: --from-file legacy layout": lambda c: Run(
        ["secret", "create", "pull", "--from-file", c.file("config.json", LEGACY), "--dry-run=client"],
        code=2, error="auths"),
    "secret create: invalid name, password on stdin": lambda c: Run(
        ["secret", "create", "Bad_Name", "--username", USER, "--password-stdin", "--dry-run=client"],
        input=SENTINEL, code=2, error="Bad_Name"),
    # node install
    "node install: --password-stdin into a node file holding the sentinel": lambda c: Run(
        ["node", "install", "new.io", "-u", USER, "--password-stdin", "--runtime", "none", "-o", "json",
         "--host-root", node_root(c, config("old.io"), mutable=True)], input=SENTINEL + "\n"),
    "node install: --from-file, --dry-run": lambda c: Run(
        ["node", "install", "--from-file", c.file("src.json", config(SERVER)), "--runtime", "none", "--dry-run",
         "--host-root", node_root(c, config("old.io"))]),
    "node install: --password-env with containerd": lambda c: Run(
        ["node", "install", SERVER, "-u", USER, "--password-env", "SENT_PW", "--runtime", "containerd",
         "-o", "json", "--host-root", node_root(c)]),
    "node install: node file malformed next to the password": lambda c: Run(
        ["node", "install", "new.io", "-u", USER, "--password-stdin", "--runtime", "none",
         "--host-root", node_root(c, MALFORMED_JSON)], input=SENTINEL, code=2, error="config.json"),
    "node install: node file with an undecodable auth": lambda c: Run(
        ["node", "install", "new.io", "-u", USER, "--password-stdin", "--runtime", "none",
         "--host-root", node_root(c, UNDECODABLE)], input=SENTINEL, code=2, error="config.json"),
    "node install: --from-file wrong type after the password": lambda c: Run(
        ["node", "install", "--from-file", c.file("src.json", WRONG_TYPE), "--runtime", "none",
         "--host-root", node_root(c, config("old.io"))], code=2, error="src.json"),
    "node install: k3s registries.yaml with a YAML error on the password line": lambda c: Run(
        ["node", "install", SERVER, "-u", USER, "--password-stdin", "--runtime", "k3s",
         "--host-root", (node_root(c), c.file("host/etc/rancher/k3s/registries.yaml", K3S_BROKEN))[0]],
        input=SENTINEL, code=2, error="registries.yaml"),
    "node install: containerd config with a TOML error on the password line": lambda c: Run(
        ["node", "install", SERVER, "-u", USER, "--password-stdin", "--runtime", "containerd",
         "--host-root", (node_root(c), c.file("host/etc/containerd/config.toml", CONTAINERD_BROKEN))[0]],
        input=SENTINEL, code=2, error="config.toml"),
    # node doctor
    "node doctor: valid node file and containerd auth (json)": lambda c: Run(
        ["node", "doctor", f"{SERVER}/team/app", "-o", "json",
         "--host-root", (node_root(c, config(SERVER)), c.file("host/etc/containerd/config.toml", CONTAINERD_OK))[0]]),
    "node doctor: node file with an undecodable auth": lambda c: Run(
        ["node", "doctor", "--host-root", node_root(c, UNDECODABLE)], code=1),
    "node doctor: node file malformed next to the password": lambda c: Run(
        ["node", "doctor", "-o", "json", "--host-root", node_root(c, MALFORMED_JSON)], code=1),
    "node doctor: wrong type after the password": lambda c: Run(
        ["node", "doctor", "--host-root", node_root(c, WRONG_TYPE)], code=1),
    "node doctor: k3s registries.yaml with a YAML error on the password line": lambda c: Run(
        ["node", "doctor", "--host-root",
         (node_root(c, config(SERVER)), c.file("host/etc/rancher/k3s/registries.yaml", K3S_BROKEN))[0]],
        code=1),
    "node doctor: containerd config with a TOML error on the password line": lambda c: Run(
        ["node", "doctor", "--host-root",
         (node_root(c, config(SERVER)), c.file("host/etc/containerd/config.toml", CONTAINERD_BROKEN))[0]],
        code=1),
    # node remove
    "node remove: entry removed": lambda c: Run(
        ["node", "remove", SERVER, "--runtime", "none", "-o", "json",
         "--host-root", node_root(c, config(SERVER, "b.io"), mutable=True)]),
    "node remove: node file malformed next to the password": lambda c: Run(
        ["node", "remove", "r.io", "--runtime", "none", "--host-root", node_root(c, MALFORMED_JSON)],
        code=2, error="config.json"),
    "node remove: k3s registries.yaml with a YAML error on the password line": lambda c: Run(
        ["node", "remove", SERVER, "--runtime", "k3s", "--host-root",
         (node_root(c, config(SERVER)), c.file("host/etc/rancher/k3s/registries.yaml", K3S_BROKEN))[0]],
        code=2, error="registries.yaml"),
    # node daemonset: reads no credential; its output must not hold one either
    "node daemonset: render": lambda c: Run(["node", "daemonset", "--secret", "global-pull", "-o", "json"]),
    # inject
    "inject: a Secret in the stream passes through (asked-for output)": lambda c: Run(
        ["inject", "pull"], input=secret_yaml() + "---\n" + DEPLOYMENT, manifest=True),
    "inject: --in-place prints no manifest": lambda c: Run(
        ["inject", "pull", "-i", "-f", (c.file("k8s/secret.yaml", secret_yaml()),
                                        c.file("k8s/app.yaml", DEPLOYMENT.replace("[{name: pull}]", "[]"),
                                               mutable=True))[0].parent]),
    "inject: YAML error on the password line": lambda c: Run(
        ["inject", "pull", "-f", c.file("s.yaml", STRINGDATA_BROKEN)], code=2, error="s.yaml"),
    "inject: YAML error on the payload line, --in-place": lambda c: Run(
        ["inject", "pull", "-i", "-f", c.file("s.yaml", SECRET_YAML_COLON + "---\n" + DEPLOYMENT)],
        code=2, error="s.yaml"),
    "inject: duplicate key on the password line": lambda c: Run(
        ["inject", "pull", "-f", c.file("s.yaml", secret_yaml() + f"  .dockerconfigjson: {b64(PAYLOAD)}\n")],
        code=2, error="duplicate key"),
    "inject: JSON syntax error after the payload": lambda c: Run(
        ["inject", "pull", "-f", c.file("s.json", json.dumps(yaml.safe_load(secret_yaml()))[:-1] + ",,}")],
        code=2, error="s.json"),
    # audit (offline)
    "audit: manifests, Secret and node file hold the sentinel": lambda c: Run(
        ["audit", "-o", "json", "-f", c.file("m.yaml", secret_yaml() + "---\n" + DEPLOYMENT),
         "--node-config", c.file("config.json", config("other.io"))]),
    "audit: Secret on stdin, table": lambda c: Run(["audit", "-f", "-"], input=secret_yaml() + "---\n" + DEPLOYMENT),
    "audit: Secret with an undecodable auth": lambda c: Run(
        ["audit", "-f", c.file("m.yaml", secret_yaml(UNDECODABLE.encode()) + "---\n" + DEPLOYMENT)], code=1),
    "audit: Secret payload malformed next to the password": lambda c: Run(
        ["audit", "-o", "json", "-f", c.file("m.yaml", secret_yaml(MALFORMED_JSON.encode()) + "---\n" + DEPLOYMENT)],
        code=1),
    "audit: YAML error on the payload line": lambda c: Run(
        ["audit", "-f", c.file("m.yaml", SECRET_YAML_COLON + "---\n" + DEPLOYMENT)], code=2, error="m.yaml"),
    "audit: YAML error on the password line": lambda c: Run(
        ["audit", "-f", c.file("m.yaml", STRINGDATA_BROKEN)], code=2, error="m.yaml"),
    "audit: node file malformed next to the password": lambda c: Run(
        ["audit", "-f", c.file("m.yaml", DEPLOYMENT), "--node-config", c.file("config.json", MALFORMED_JSON)],
        code=2, error="config.json"),
    # why (offline)
    "why: manifests, Secret and node file hold the sentinel": lambda c: Run(
        ["why", "deployment/web", "-n", "team", "-o", "json", "-f", c.file("m.yaml", secret_yaml() + "---\n"
                                                                           + DEPLOYMENT),
         "--node-config", c.file("config.json", config("other.io"))]),
    "why: Secret with an undecodable auth, table": lambda c: Run(
        ["why", "-f", c.file("m.yaml", secret_yaml(UNDECODABLE.encode()) + "---\n" + DEPLOYMENT)], code=1),
    # spec / render (offline)
    "spec validate: a literal password is refused without echoing it": lambda c: Run(
        ["spec", "validate", "-f", c.file("spec.yaml", spec_yaml(
            ["team"], f"    - server: r.io\n      username: robot\n      password: {json.dumps(SENTINEL)}\n"
            "      passwordFrom: {env: SENT_PW}\n"))],
        code=2, error="password"),
    "spec validate: passwordFrom.env holds the password instead of a name": lambda c: Run(
        ["spec", "validate", "-f", c.file("spec.yaml", spec_yaml(
            ["team"], f"    - server: r.io\n      username: robot\n      passwordFrom: {{env: {json.dumps(SENTINEL)}}}\n"))],
        code=2, error="passwordFrom.env"),
    "render: passwordFrom.env holds a token that looks like a name": lambda c: Run(
        ["render", "-f", c.file("spec.yaml", spec_yaml(
            ["team"], f"    - server: r.io\n      username: robot\n      passwordFrom: {{env: {TOKEN_LIKE}}}\n"))],
        code=2, error="passwordFrom.env"),
    "spec validate: YAML error on the password line": lambda c: Run(
        ["spec", "validate", "-f", c.file("spec.yaml", spec_yaml(
            ["team"], f"    - server: r.io\n      username: robot\n      password: {SENTINEL}: [\n"))],
        code=2, error="spec.yaml"),
    "spec validate: passwordFrom env and file (never read)": lambda c: Run(
        ["spec", "validate", "-f", spec_files(c, ["team"])]),
    "render: passwordFrom env and file (asked-for Secret manifest)": lambda c: Run(
        ["render", "-f", spec_files(c, ["team"])], manifest=True),
    "render: --no-secrets": lambda c: Run(["render", "--no-secrets", "-f", spec_files(c, ["team"])]),
    "render: --out DIR prints no manifest": lambda c: Run(
        ["render", "--out", c.tmp / "out", "-f", spec_files(c, ["team"])]),
    "render: a given Secret manifest is not echoed": lambda c: Run(
        ["render", "--no-secrets", "-f", spec_files(c, ["team"]), "-f", c.file("m.yaml", secret_yaml())]),
    "render: passwordFrom env unset, file with the sentinel": lambda c: Run(
        ["render", "-f", spec_files(c, ["team"])], env={"SENT_PW": ""}, code=2, error="SENT_PW"),
    "render: YAML error on a line holding a literal password": lambda c: Run(
        ["render", "-f", c.file("spec.yaml", spec_yaml(
            ["team"], f"    - server: r.io\n      username: robot\n      password: {SENTINEL}: [\n"))],
        code=2, error="spec.yaml"),
    "plan: a literal password is refused before any cluster access": lambda c: Run(
        ["plan", "-f", c.file("spec.yaml", spec_yaml(
            ["team"], f"    - server: r.io\n      username: robot\n      password: {json.dumps(SENTINEL)}\n"
            "      passwordFrom: {env: SENT_PW}\n"))],
        code=2, error="password"),
}




# -- cases against the real registry ---------------------------------------------------------------------------

def _reg(c: Ctx) -> str:
    return str(c.registry.host)


def _repo(c: Ctx) -> list[str]:
    return ["--repository", f"{IMAGE_REPO}:{IMAGE_TAG}", "--insecure-http", "--timeout", "5"]


def _alice(c: Ctx) -> Run:
    c.needles |= needles_for(ALICE_PW, "alice")
    return Run(["verify", _reg(c), "-u", "alice", "--password-env", "ALICE_PW", "-o", "json", *_repo(c)],
               env={"ALICE_PW": ALICE_PW})


REGISTRY: dict[str, Builder] = {
    "verify: right password (a second sentinel)": _alice,
    "verify: wrong password on stdin": lambda c: Run(
        ["verify", _reg(c), "-u", "alice", "--password-stdin", *_repo(c)], input=SENTINEL, code=1),
    "verify: wrong password in --file, json": lambda c: Run(
        ["verify", "--file", c.file("config.json", config(_reg(c))), "-o", "json", *_repo(c)], code=1),
    "verify: wrong password in a Secret manifest": lambda c: Run(
        ["verify", "--secret-file", c.file("s.yaml", secret_yaml(dockerconfigjson_payload(_reg(c), USER, SENTINEL))),
         *_repo(c)], code=1),
    "verify: --file malformed next to the password": lambda c: Run(
        ["verify", "--file", c.file("config.json", MALFORMED_JSON), *_repo(c)], code=2, error="config.json"),
    "verify: --file with an undecodable auth": lambda c: Run(
        ["verify", "--file", c.file("config.json", UNDECODABLE), *_repo(c)], code=2, error="config.json"),
    "verify: Secret manifest with a YAML error on the payload line": lambda c: Run(
        ["verify", "--secret-file", c.file("s.yaml", SECRET_YAML_COLON), *_repo(c)], code=2, error="s.yaml"),
    "verify: unreachable registry": lambda c: Run(
        ["verify", f"127.0.0.1:{c.dead_port}", "-u", USER, "--password-env", "SENT_PW", *_repo(c)], code=1),
    "why: --verify with a wrong password in the Secret": lambda c: Run(
        ["why", "--verify", "--insecure-http", "--timeout", "5", "-f", c.file("m.yaml", secret_yaml(
            dockerconfigjson_payload(_reg(c), USER, SENTINEL)) + "---\n"
            + DEPLOYMENT.replace("reg.example.com/team/web:1", f"{_reg(c)}/{IMAGE_REPO}:{IMAGE_TAG}"))], code=1),
    "audit: --verify with a wrong password in the Secret": lambda c: Run(
        ["audit", "--verify", "--insecure-http", "--timeout", "5", "-f", c.file("m.yaml", secret_yaml(
            dockerconfigjson_payload(_reg(c), USER, SENTINEL)) + "---\n"
            + DEPLOYMENT.replace("reg.example.com/team/web:1", f"{_reg(c)}/{IMAGE_REPO}:{IMAGE_TAG}"))], code=1),
}



# -- tests ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", list(OFFLINE))
def test_offline(case: str, tmp_path: Path) -> None:
    execute(Ctx(tmp=tmp_path), OFFLINE[case])


@pytest.mark.real
@pytest.mark.parametrize("case", list(REGISTRY))
def test_against_registry(case: str, tmp_path: Path, registry_htpasswd: Any, dead_port: int) -> None:
    execute(Ctx(tmp=tmp_path, registry=registry_htpasswd, dead_port=dead_port), REGISTRY[case])
