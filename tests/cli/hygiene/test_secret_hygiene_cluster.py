"""Secret hygiene of the commands that talk to an API server (see test_secret_hygiene.py for the rules).

One API server per module (fake, and envtest when KUBEBUILDER_ASSETS is set), each case in its own namespace.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from tests.cli.hygiene.harness import (
    AUTH,
    ENV_AND_FILE,
    MALFORMED_JSON,
    PAYLOAD,
    SENTINEL,
    SERVER,
    TOKEN,
    TOKEN_LIKE,
    UNDECODABLE,
    USER,
    WRONG_TYPE,
    Builder,
    Ctx,
    Run,
    b64,
    entry,
    execute,
    leaks,
    spec_files,
)
from tests.support.cli import run_regcred
from tests.support.fakekube import FakeKube
from tests.support.kube import ENVTEST_SKIP, FakeBackend, KubeBackend

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
