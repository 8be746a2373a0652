"""The secret-hygiene harness: the sentinel, what counts as a leak, one run of a case and its checks, shared inputs.

The cases live in test_secret_hygiene.py (offline, real registry) and test_secret_hygiene_cluster.py (an API server).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from tests.support.cli import assert_clean_error, run_regcred
from tests.support.fixtures import HTPASSWD_USERS
from tests.support.kube import KubeBackend, write_kubeconfig

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



# -- shared inputs ---------------------------------------------------------------------------------------------

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
