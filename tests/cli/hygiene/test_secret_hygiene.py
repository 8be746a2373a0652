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

import base64
import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from tests.support.cli import assert_clean_error, run_regcred
from tests.support.fakekube import FakeKube
from tests.support.fixtures import HTPASSWD_USERS, IMAGE_REPO, IMAGE_TAG
from tests.support.kube import ENVTEST_SKIP, FakeBackend, KubeBackend, write_kubeconfig

SENTINEL = 'S3ntinel-p@ss:word"<&>'
USER = "robot"
SERVER = "reg.example.com"
AUTH = base64.b64encode(f"{USER}:{SENTINEL}".encode()).decode()
BAD_AUTH = AUTH[:12] + " " + AUTH[12:]  # a space: the kubelet cannot decode it
TOKEN = "S3ntinelT0ken-" + "f00d" * 8  # bearer token of the broken/unreachable kubeconfigs
TOKEN_LIKE = "S3ntinel_ghp_" + "x7" * 10  # a token that is also a valid (lower-case) variable name
ALICE_PW = HTPASSWD_USERS["alice"]  # the real registry's password: a second sentinel on verify's success path

# Fragments of the password that survive any escaping (JSON, Go's \u003c, YAML quoting, repr).
PLAIN_FRAGMENTS = ("S3ntinel", "p@ss:word", "ntinel-p@")


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def entry(user: str = USER, password: str = SENTINEL) -> dict[str, str]:
    return {"username": user, "password": password, "auth": b64(f"{user}:{password}")}


def config(*servers: str, password: str = SENTINEL) -> str:
    """A config.json whose every entry holds the password (also in `auth`)."""
    return json.dumps({"auths": {s: entry(password=password) for s in servers}}, indent=2) + "\n"


PAYLOAD = dockerconfigjson_payload(SERVER, USER, SENTINEL)


def encoded_slices(doc: bytes, secrets: tuple[str, ...]) -> set[str]:
    """The base64 of `doc` and each 16-character slice of it that encodes ≥ 6 bytes of a secret inside it."""
    text = b64(doc)
    spans: list[tuple[int, int]] = []
    for secret in secrets:
        for needle in {secret.encode(), json.dumps(secret)[1:-1].encode(), secret.encode()[:8]}:
            spans += [(m.start(), m.start() + max(len(needle), 12)) for m in re.finditer(re.escape(needle), doc)]
    out = {text}
    for start in range(0, max(len(text) - 16, 0) + 1, 4):
        lo, hi = start // 4 * 3, start // 4 * 3 + 12
        if any(min(hi, b) - max(lo, a) >= 6 for a, b in spans):
            out.add(text[start:start + 16])
    return out


def needles_for(password: str, user: str = USER) -> set[str]:
    """Every form of one password: plain fragments, its base64, the `auth` value and slices of both."""
    out = {password, json.dumps(password)[1:-1]}
    out |= encoded_slices(password.encode(), (password,))
    auth = b64(f"{user}:{password}")
    out.add(auth)
    out |= encoded_slices(f"{user}:{password}".encode(), (password,))
    return out


BASE_NEEDLES = set(PLAIN_FRAGMENTS) | needles_for(SENTINEL) | {AUTH, BAD_AUTH, BAD_AUTH[13:]}
# Never in any output, not even in an asked-for Secret manifest: the API bearer tokens (the cluster's own are
# added per case) and a token handed over where a variable name belongs.
BASE_TOKENS = {TOKEN, TOKEN_LIKE}


# -- the harness ---------------------------------------------------------------------------------------------

@dataclass
class Run:
    """One invocation and what it must do."""

    args: list[str | Path]
    input: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    code: int = 0
    error: str | None = None  # a needle of the one `regcred: error:` line; None: not an error run
    manifest: bool = False  # stdout is a Secret manifest the user asked for: the secret MUST be there


@dataclass
class Ctx:
    tmp: Path
    kube: KubeBackend | None = None
    registry: Any = None
    dead_port: int = 0
    planted: dict[Path, bytes] = field(default_factory=dict)
    needles: set[str] = field(default_factory=lambda: set(BASE_NEEDLES))
    tokens: set[str] = field(default_factory=lambda: set(BASE_TOKENS))

    def file(self, name: str, content: str | bytes, *, mutable: bool = False, mode: int = 0o600) -> Path:
        """Write an input file; unless `mutable`, it must be byte-identical after the run."""
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)
        path.chmod(mode)
        if not mutable:
            self.planted[path] = data
        self.note(data)
        return path

    def note(self, data: bytes) -> None:
        """Any base64 of a planted document that holds the secret is a needle too."""
        if b"S3ntinel" in data or AUTH.encode() in data:
            self.needles |= encoded_slices(data, (SENTINEL, AUTH))

    # -- cluster helpers --
    def ns(self) -> str:
        assert self.kube is not None
        name = self.kube.unique_ns("hyg")
        self.kube.create_namespace(name)
        return name

    def secret(self, ns: str, payload: bytes = PAYLOAD, name: str = "pull", *, labels: dict[str, str] | None = None,
               type_: str = "kubernetes.io/dockerconfigjson", key: str = ".dockerconfigjson") -> None:
        assert self.kube is not None
        self.note(payload)
        meta: dict[str, Any] = {"name": name, "namespace": ns}
        if labels:
            meta["labels"] = labels
        self.kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": type_,
                          "data": {key: b64(payload)}})

    def kubeconfig(self) -> list[str | Path]:
        assert self.kube is not None
        return ["--kubeconfig", self.kube.kubeconfig]

    def dead_kubeconfig(self) -> Path:
        return write_kubeconfig(self.tmp / "dead-kubeconfig", f"https://127.0.0.1:{self.dead_port}", TOKEN)

    def forbidden_kubeconfig(self) -> Path:
        """A user who may read namespaces and nothing else."""
        assert self.kube is not None
        path = self.kube.kubeconfig_for([{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list"]}])
        self.tokens.add(yaml.safe_load(path.read_text())["users"][0]["user"]["token"])
        return path


Builder = Callable[[Ctx], Run]


def leaks(text: str, needles: set[str]) -> list[str]:
    return sorted(n for n in needles if n and n in text)


def check(ctx: Ctx, run: Run, result: subprocess.CompletedProcess[str]) -> None:
    where = f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert "Traceback" not in result.stderr, where
    if run.error is not None:
        assert_clean_error(result, run.code, run.error)
    else:
        assert result.returncode == run.code, where
    secrets = ctx.needles | ctx.tokens
    assert not leaks(result.stderr, secrets), (leaks(result.stderr, secrets), where)
    assert not leaks(result.stdout, ctx.tokens), (leaks(result.stdout, ctx.tokens), where)
    if run.manifest:
        assert leaks(result.stdout, ctx.needles), ("the asked-for Secret manifest lacks the credential", where)
    else:
        assert not leaks(result.stdout, ctx.needles), (leaks(result.stdout, ctx.needles), where)
    for path, data in ctx.planted.items():
        assert path.read_bytes() == data, f"{path} changed"


def execute(ctx: Ctx, build: Builder) -> None:
    run = build(ctx)
    env = {"SENT_PW": SENTINEL, **run.env}
    result = run_regcred(*run.args, input=run.input, env=env, cwd=ctx.tmp, timeout=60)
    check(ctx, run, result)


# -- offline cases ---------------------------------------------------------------------------------------------

MALFORMED_JSON = '{"auths": {"r.io": {"username": "robot", "password": "' + SENTINEL.replace('"', '\\"') + '",}}}\n'
WRONG_TYPE = '{"auths": {"r.io": {"password": "' + SENTINEL.replace('"', '\\"') + '", "username": 1}}}\n'
UNDECODABLE = '{"auths": {"r.io": {"auth": "' + BAD_AUTH + '"}}}\n'
LEGACY = json.dumps({"r.io": entry()}) + "\n"


def secret_yaml(payload: bytes = PAYLOAD, name: str = "pull", ns: str = "team") -> str:
    return (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
            f"type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {b64(payload)}\n")


SECRET_YAML_BROKEN = secret_yaml().replace("  .dockerconfigjson: ", "  .dockerconfigjson: [") + "  x: 1\n"
SECRET_YAML_COLON = secret_yaml().rstrip("\n") + ": oops\n"  # "mapping values are not allowed here" on that line
STRINGDATA_BROKEN = ("apiVersion: v1\nkind: Secret\nmetadata: {name: pull, namespace: team}\n"
                     "type: kubernetes.io/dockerconfigjson\nstringData:\n"
                     f"  password: {SENTINEL}: {{oops\n")
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: team}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      imagePullSecrets: [{name: pull}]
      containers: [{name: web, image: reg.example.com/team/web:1}]
"""


def node_root(ctx: Ctx, content: str = "", *, mutable: bool = False) -> Path:
    root = ctx.tmp / "host"
    (root / "var/lib/kubelet").mkdir(parents=True, exist_ok=True)
    if content:
        ctx.file("host/var/lib/kubelet/config.json", content, mutable=mutable)
    return root


K3S_BROKEN = f"configs:\n  \"{SERVER}\":\n    auth:\n      username: robot\n      password: {SENTINEL}: [\n"
CONTAINERD_BROKEN = (f'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.configs."{SERVER}".auth]\n'
                     f'  username = "robot"\n  password = "{SENTINEL.replace(chr(34), "")}" oops\n')
CONTAINERD_OK = (f'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.configs."{SERVER}".auth]\n'
                 f'  username = "robot"\n  password = {json.dumps(SENTINEL)}\n  auth = "{AUTH}"\n')


def spec_yaml(include: list[str], registries: str, name: str = "harbor") -> str:
    return (f"apiVersion: regcred.dev/v1alpha1\nkind: RegistryCredential\nmetadata:\n  name: {name}\nspec:\n"
            f"  registries:\n{registries}  namespaces:\n    include: {json.dumps(include)}\n")


ENV_AND_FILE = ("    - server: harbor.example.com\n      username: robot\n      passwordFrom: {env: SENT_PW}\n"
                "    - server: ghcr.io\n      username: robot\n      passwordFrom: {file: pw.txt}\n")


def spec_files(ctx: Ctx, include: list[str], registries: str = ENV_AND_FILE) -> Path:
    ctx.file("pw.txt", SENTINEL + "\n")
    for server in ("harbor.example.com", "ghcr.io"):
        ctx.note(dockerconfigjson_payload(server, USER, SENTINEL))
    ctx.note(json.dumps({"auths": {"harbor.example.com": entry(), "ghcr.io": entry()}},
                        separators=(",", ":")).encode())
    return ctx.file("spec.yaml", spec_yaml(include, registries))


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


# -- cases against an API server ----------------------------------------------------------------------------

WRONG_TYPE_PAYLOAD = WRONG_TYPE.encode()  # the API server refuses a payload that is not JSON, not this
UNDECODABLE_PAYLOAD = UNDECODABLE.encode()


def _secret_create(c: Ctx, *extra: str, code: int = 0) -> Run:
    return Run(["secret", "create", "pull", "--server", SERVER, "--username", USER, "--password-stdin", *extra,
                *c.kubeconfig()], input=SENTINEL + "\n", code=code)


def _with_ns(build: Callable[[Ctx, str], Run]) -> Builder:
    return lambda c: build(c, c.ns())


def _with_secret(build: Callable[[Ctx, str], Run], payload: bytes = PAYLOAD, **kw: Any) -> Builder:
    def make(c: Ctx) -> Run:
        ns = c.ns()
        c.secret(ns, payload, **kw)
        return build(c, ns)
    return make


def _workload(c: Ctx, ns: str, *, pulls: bool = False) -> None:
    assert c.kube is not None
    pod_spec: dict[str, Any] = {"containers": [{"name": "web", "image": f"{SERVER}/team/web:1"}]}
    if pulls:
        pod_spec["imagePullSecrets"] = [{"name": "pull"}]
    c.kube.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
                   "spec": {"selector": {"matchLabels": {"app": "web"}},
                            "template": {"metadata": {"labels": {"app": "web"}},
                                         "spec": pod_spec}}})


def _cluster_spec(c: Ctx, ns: str, extra: str = "") -> Path:
    return spec_files(c, [ns], ENV_AND_FILE + extra)


SECRET_KEY_REF = ("    - server: quay.io\n      username: robot\n"
                  "      passwordFrom: {secretKeyRef: {namespace: %s, name: token, key: token}}\n")
FROM_SECRET = "    - fromSecret: {namespace: %s, name: pull}\n"


def _opaque(c: Ctx, ns: str, data: dict[str, str]) -> None:
    assert c.kube is not None
    c.kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token", "namespace": ns},
                   "type": "Opaque", "data": {k: b64(v) for k, v in data.items()}})
    c.note(json.dumps({"auths": {"quay.io": entry()}}, separators=(",", ":")).encode())


def _secret_key_ref(c: Ctx, ns: str, key: str = "token") -> Path:
    _opaque(c, ns, {key: SENTINEL, "other": SENTINEL})
    return _cluster_spec(c, ns, SECRET_KEY_REF % ns)


def _applied(c: Ctx, ns: str) -> Path:
    spec = _cluster_spec(c, ns)
    result = run_regcred("apply", "-f", spec, *c.kubeconfig(), env={"SENT_PW": SENTINEL}, cwd=c.tmp)
    assert result.returncode == 0, result.stderr
    return spec


def _echoing_webhook(c: Ctx, ns: str) -> Run:
    """An admission webhook whose denial quotes the request body: regcred must not pass the secret on."""
    assert c.kube is not None
    if not c.kube.supports_hooks:
        pytest.skip("needs the fake API's fail_next")
    c.kube.fail_next("POST", r"/secrets$", 400, reason="BadRequest",
                     message=f'admission webhook "policy.example" denied the request: password "{SENTINEL}", '
                             f'.dockerconfigjson {b64(dockerconfigjson_payload(SERVER, USER, SENTINEL))}')
    c.note(dockerconfigjson_payload(SERVER, USER, SENTINEL))
    return _secret_create(c, "-n", ns, code=1)


CLUSTER: dict[str, Builder] = {
    # secret create
    "secret create: created, table": _with_ns(lambda c, ns: _secret_create(c, "-n", ns)),
    "secret create: -o json and -o yaml summaries": _with_ns(lambda c, ns: _secret_create(c, "-n", ns, "-o", "yaml")),
    "secret create: --dry-run=server": _with_ns(lambda c, ns: _secret_create(c, "-n", ns, "--dry-run=server")),
    "secret create: --dry-run=client -A reports, prints no manifest": _with_ns(
        lambda c, ns: _secret_create(c, "-A", "--dry-run=client", "-o", "json")),
    "secret create: unchanged (same payload in the cluster)": _with_secret(
        lambda c, ns: _secret_create(c, "-n", ns), labels={"app.kubernetes.io/managed-by": "regcred"}),
    "secret create: unmanaged Secret holding the sentinel": _with_secret(
        lambda c, ns: _secret_create(c, "-n", ns, "-o", "json", code=1)),
    "secret create: managed Secret with an undecodable auth": _with_secret(
        lambda c, ns: _secret_create(c, "-n", ns), UNDECODABLE_PAYLOAD,
        labels={"app.kubernetes.io/managed-by": "regcred"}),
    "secret create: unmanaged Secret with a wrong type after the password": _with_secret(
        lambda c, ns: _secret_create(c, "-n", ns, code=1), WRONG_TYPE_PAYLOAD),
    "secret create: Opaque Secret of the same name": _with_secret(
        lambda c, ns: _secret_create(c, "-n", ns, code=1), type_="Opaque", key="password"),
    "secret create: --from-file malformed next to the password": _with_ns(lambda c, ns: Run(
        ["secret", "create", "pull", "-n", ns, "--from-file", c.file("config.json", MALFORMED_JSON), *c.kubeconfig()],
        code=2, error="config.json")),
    "secret create: RBAC forbidden": _with_ns(lambda c, ns: Run(
        ["secret", "create", "pull", "-n", ns, "--username", USER, "--password-stdin", "--kubeconfig",
         c.forbidden_kubeconfig()], input=SENTINEL, code=1)),
    "secret create: unreachable API": lambda c: Run(
        ["secret", "create", "pull", "-n", "x", "--username", USER, "--password-stdin", "--kubeconfig", c.dead_kubeconfig()],
        input=SENTINEL, code=2, error="cannot reach"),
    "secret create: kubeconfig with a YAML error on the token line": lambda c: Run(
        ["secret", "create", "pull", "-n", "x", "--username", USER, "--password-stdin", "--kubeconfig",
         c.file("kubeconfig", c.dead_kubeconfig().read_text().replace(f"token: {TOKEN}", f"token: {TOKEN}: [")
                .replace(f"token: '{TOKEN}'", f"token: {TOKEN}: ["))],
        input=SENTINEL, code=2, error="kubeconfig"),
    "secret create: webhook denial quoting the secret": _with_ns(_echoing_webhook),
    # sa attach / detach / create
    "sa attach: Secret holding the sentinel": _with_secret(lambda c, ns: Run(
        ["sa", "attach", "pull", "-n", ns, "-o", "json", *c.kubeconfig()])),
    "sa attach: Secret with an undecodable auth": _with_secret(lambda c, ns: Run(
        ["sa", "attach", "pull", "-n", ns, *c.kubeconfig()], code=1), UNDECODABLE_PAYLOAD),
    "sa attach: Secret with a wrong type after the password, -A -o yaml": _with_secret(lambda c, ns: Run(
        ["sa", "attach", "pull", "-A", "-o", "yaml", *c.kubeconfig()], code=1), WRONG_TYPE_PAYLOAD),
    "sa attach: RBAC forbidden": _with_secret(lambda c, ns: Run(
        ["sa", "attach", "pull", "-n", ns, "--kubeconfig", c.forbidden_kubeconfig()], code=1)),
    "sa attach: unreachable API": lambda c: Run(
        ["sa", "attach", "pull", "-n", "x", "--kubeconfig", c.dead_kubeconfig()], code=2, error="cannot reach"),
    "sa detach: Secret holding the sentinel": _with_secret(lambda c, ns: Run(
        ["sa", "detach", "pull", "-n", ns, "--force", "-o", "json", *c.kubeconfig()])),
    "sa create: Secret holding the sentinel": _with_secret(lambda c, ns: Run(
        ["sa", "create", "puller", "--pull-secret", "pull", "-n", ns, *c.kubeconfig()])),
    "sa create: Secret with an undecodable auth": _with_secret(lambda c, ns: Run(
        ["sa", "create", "puller", "--pull-secret", "pull", "-n", ns, *c.kubeconfig()], code=1),
        UNDECODABLE_PAYLOAD),
    # workload attach
    "workload attach: Secret holding the sentinel": _with_secret(lambda c, ns: (_workload(c, ns), Run(
        ["workload", "attach", "pull", "-n", ns, "-o", "json", *c.kubeconfig()]))[1]),
    "workload attach: Secret with an undecodable auth": _with_secret(lambda c, ns: (_workload(c, ns), Run(
        ["workload", "attach", "pull", "-n", ns, *c.kubeconfig()], code=1))[1], UNDECODABLE_PAYLOAD),
    "workload attach: RBAC forbidden": _with_secret(lambda c, ns: Run(
        ["workload", "attach", "pull", "-n", ns, "--kubeconfig", c.forbidden_kubeconfig()], code=1)),
    "workload attach: unreachable API": lambda c: Run(
        ["workload", "attach", "pull", "-n", "x", "--kubeconfig", c.dead_kubeconfig()], code=2, error="cannot reach"),
    # audit (live)
    "audit: live namespace with the sentinel Secret": _with_secret(lambda c, ns: (_workload(c, ns, pulls=True), Run(
        ["audit", "-n", ns, "-o", "json", *c.kubeconfig()]))[1]),
    "audit: live Secret with an undecodable auth": _with_secret(lambda c, ns: (_workload(c, ns, pulls=True), Run(
        ["audit", "-n", ns, *c.kubeconfig()], code=1))[1], UNDECODABLE_PAYLOAD),
    "why: live Deployment with the sentinel Secret": _with_secret(lambda c, ns: (_workload(c, ns, pulls=True), Run(
        ["why", "deployment/web", "-n", ns, "-o", "json", *c.kubeconfig()]))[1]),
    "audit: RBAC forbidden": _with_ns(lambda c, ns: Run(
        ["audit", "-n", ns, "--kubeconfig", c.forbidden_kubeconfig()], code=1)),
    "audit: unreachable API": lambda c: Run(
        ["audit", "-n", "x", "--kubeconfig", c.dead_kubeconfig()], code=2, error="cannot reach"),
    # plan / apply / render against the cluster
    "plan: passwordFrom env, file and secretKeyRef": _with_ns(lambda c, ns: Run(
        ["plan", "-o", "json", "-f", _secret_key_ref(c, ns), *c.kubeconfig()], code=1)),
    "plan: after apply (the cluster Secret holds the sentinel)": _with_ns(lambda c, ns: Run(
        ["plan", "-o", "yaml", "-f", _applied(c, ns), *c.kubeconfig()])),
    "plan: credential changed in the cluster": _with_ns(lambda c, ns: Run(
        ["plan", "-f", _applied(c, ns), *c.kubeconfig()], env={"SENT_PW": SENTINEL + "2"}, code=1)),
    "plan: secretKeyRef key missing (other keys hold the sentinel)": _with_ns(lambda c, ns: Run(
        ["plan", "-f", _secret_key_ref(c, ns, key="nope"), *c.kubeconfig()], code=2, error="token")),
    "plan: fromSecret holding the sentinel": _with_secret(lambda c, ns: Run(
        ["plan", "-f", _cluster_spec(c, ns, FROM_SECRET % ns), *c.kubeconfig()], code=1)),
    "plan: fromSecret with an undecodable auth": _with_secret(lambda c, ns: Run(
        ["plan", "-f", _cluster_spec(c, ns, FROM_SECRET % ns), *c.kubeconfig()], code=2, error="pull"),
        UNDECODABLE_PAYLOAD),
    "plan: fromSecret with a wrong type after the password": _with_secret(lambda c, ns: Run(
        ["plan", "-f", _cluster_spec(c, ns, FROM_SECRET % ns), *c.kubeconfig()], code=2, error="pull"),
        WRONG_TYPE_PAYLOAD),
    "plan: RBAC forbidden": _with_ns(lambda c, ns: Run(
        ["plan", "-f", _cluster_spec(c, ns), "--kubeconfig", c.forbidden_kubeconfig()], code=1)),
    "plan: unreachable API": lambda c: Run(
        ["plan", "-f", spec_files(c, ["x"]), "--kubeconfig", c.dead_kubeconfig()], code=2, error="cannot reach"),
    "apply: passwordFrom env, file and secretKeyRef, json": _with_ns(lambda c, ns: Run(
        ["apply", "-o", "json", "-f", _secret_key_ref(c, ns), *c.kubeconfig()])),
    "apply: --dry-run=server": _with_ns(lambda c, ns: Run(
        ["apply", "--dry-run=server", "-f", _cluster_spec(c, ns), *c.kubeconfig()])),
    "apply: rotation of a managed Secret": _with_ns(lambda c, ns: Run(
        ["apply", "-o", "yaml", "-f", _applied(c, ns), *c.kubeconfig()], env={"SENT_PW": SENTINEL + "2"})),
    "apply: RBAC forbidden": _with_ns(lambda c, ns: Run(
        ["apply", "-f", _cluster_spec(c, ns), "--kubeconfig", c.forbidden_kubeconfig()], code=1)),
    "apply: unreachable API": lambda c: Run(
        ["apply", "-f", spec_files(c, ["x"]), "--kubeconfig", c.dead_kubeconfig()], code=2, error="cannot reach"),
    "render: secretKeyRef resolved (asked-for Secret manifest)": _with_ns(lambda c, ns: Run(
        ["render", "-f", _secret_key_ref(c, ns), *c.kubeconfig()], manifest=True)),
    "render: fromSecret with an undecodable auth": _with_secret(lambda c, ns: Run(
        ["render", "-f", _cluster_spec(c, ns, FROM_SECRET % ns), *c.kubeconfig()], code=2, error="pull"),
        UNDECODABLE_PAYLOAD),
    "render: secretKeyRef, unreachable API": lambda c: Run(
        ["render", "-f", _cluster_spec(c, "x", SECRET_KEY_REF % "x"), "--kubeconfig", c.dead_kubeconfig()],
        code=2, error="cannot reach"),
}


# -- fixtures and tests ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["fake", pytest.param("envtest", marks=pytest.mark.envtest)])
def shared_kube(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeBackend]:
    """One API server for every cluster case of this module (each case works in its own namespace).

    The same backends as the `kube` fixture of tests/support/kube.py, module-scoped: a fresh server per case
    would cost more than the cases themselves.
    """
    workdir = tmp_path_factory.mktemp("hygiene-kube")
    if request.param == "fake":
        server = FakeKube(tls=True).start()
        backend: KubeBackend = FakeBackend(server, workdir)
        try:
            yield backend
        finally:
            backend.close()
            server.stop()
        return
    if not os.environ.get("KUBEBUILDER_ASSETS"):
        pytest.skip(ENVTEST_SKIP)
    from tests.support.envtest import EnvtestBackend

    envtest = EnvtestBackend(request.getfixturevalue("envtest_cluster"), workdir)
    try:
        yield envtest
    finally:
        envtest.cleanup()
        envtest.close()


@pytest.mark.parametrize("case", list(OFFLINE))
def test_offline(case: str, tmp_path: Path) -> None:
    execute(Ctx(tmp=tmp_path), OFFLINE[case])


@pytest.mark.real
@pytest.mark.parametrize("case", list(REGISTRY))
def test_against_registry(case: str, tmp_path: Path, registry_htpasswd: Any, dead_port: int) -> None:
    execute(Ctx(tmp=tmp_path, registry=registry_htpasswd, dead_port=dead_port), REGISTRY[case])


@pytest.mark.parametrize("case", list(CLUSTER))
def test_against_cluster(case: str, tmp_path: Path, shared_kube: KubeBackend, dead_port: int) -> None:
    ctx = Ctx(tmp=tmp_path, kube=shared_kube, dead_port=dead_port)
    ctx.tokens.add(shared_kube.token)
    execute(ctx, CLUSTER[case])


def test_the_needles_catch_a_leak() -> None:
    """The detector itself: each encoding of the sentinel is caught, harmless text is not."""
    ctx = Ctx(tmp=Path("/nonexistent"))
    ctx.note(PAYLOAD)
    caught = [PAYLOAD.decode(), b64(PAYLOAD), b64(PAYLOAD)[64:100], AUTH, b64(SENTINEL),
              json.dumps(SENTINEL), repr(SENTINEL), SENTINEL.replace('"', '\\"').replace("<", "\\u003c")]
    for text in caught:
        assert leaks(text, ctx.needles), text
    harmless = " ".join([SERVER, USER, "pull", b64(b'{"auths":{'), "1 updated"])
    assert not leaks(harmless, ctx.needles)
    for token in (TOKEN, TOKEN_LIKE):  # their own set: checked on stdout even where a manifest is asked for
        assert leaks(f"Authorization: Bearer {token}", ctx.tokens), token
