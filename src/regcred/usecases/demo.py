"""The demo: the whole flow against a real local registry that demands a password.

It starts Debian's docker-registry on loopback with a generated read account, pushes a small image,
writes a credential file the way `regcred auth add` does, shows which credential the kubelet would use,
proves with the real skopeo that the file authenticates (and that a wrong password does not), and
renders the pull Secret. Nothing outside the work directory is touched. What it shows goes through a
`DemoOutput`, so the flow holds no printing of its own.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from regcred.core.credentials import dockerconfig
from regcred.core.credentials.imageref import parse_image
from regcred.core.credentials.keyring import build_keyring
from regcred.core.credentials.pullsecret import dockerconfigjson_payload, secret_manifest
from regcred.core.errors import InputError
from regcred.shells import credfile
from regcred.shells.files import atomic_write

DEMO_USER = "demo-reader"
DEMO_REPO, DEMO_TAG = "team/app", "v1"


class DemoOutput(Protocol):
    """Where the demo says what it does (the CLI prints; a test may collect)."""

    def step(self, title: str) -> None: ...

    def line(self, text: str) -> None: ...

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None: ...

    def wait(self, prompt: str) -> None: ...


def _missing_tools() -> list[str]:
    """The programs the demo needs and this machine lacks."""
    # lazy: httpx, PyYAML, rich: ~150 ms, the demo only
    from regcred.localregistry.registry import REGISTRY_BIN

    missing = [] if Path(REGISTRY_BIN).exists() else ["docker-registry"]
    return missing + [tool for tool in ("skopeo", "htpasswd") if shutil.which(tool) is None]


def _skopeo_inspect(server_host: str, authfile: Path, home: Path) -> subprocess.CompletedProcess[str]:
    # lazy: httpx, PyYAML, rich: ~150 ms, the demo only
    from regcred.localregistry.registry import hermetic_env

    return subprocess.run(
        ["skopeo", "--insecure-policy", "inspect", "--retry-times", "0", "--tls-verify=false",
         "--authfile", str(authfile), f"docker://{server_host}/{DEMO_REPO}:{DEMO_TAG}"],
        capture_output=True, text=True, timeout=60, env=hermetic_env(home), check=False,
    )


def run_demo(workdir: Path | None, out: DemoOutput, *, keep_running: bool = False) -> tuple[Path, list[str]]:
    """Run every step in `workdir` (None: a new temporary directory); that directory and the failures found."""
    # lazy: httpx, PyYAML, rich: ~150 ms, the demo only
    from regcred.localregistry.registry import RegistryServer

    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells.manifests import dump_json_like_kubectl

    missing = _missing_tools()
    if missing:
        raise InputError(
            f"the demo needs {', '.join(missing)}",
            hint="run ./dev demo, which installs docker-registry skopeo apache2-utils",
        )
    base = workdir or Path(tempfile.mkdtemp(prefix="regcred-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    server = RegistryServer("htpasswd", users={DEMO_USER: password}, workdir=base / "registry")
    failures: list[str] = []
    try:
        out.step("1. A private registry on loopback (htpasswd, bcrypt)")
        server.start()
        server.push(DEMO_REPO, DEMO_TAG, DEMO_USER, password)
        image = f"{server.host}/{DEMO_REPO}:{DEMO_TAG}"
        out.line(f"registry {server.url}, account {DEMO_USER}, image {image} pushed")

        out.step("2. regcred auth add: write the node credential file (atomic, mode 0600)")
        node_file = base / "var/lib/kubelet/config.json"
        credfile.update(node_file, lambda cfg: dockerconfig.with_entry(cfg, server.host, DEMO_USER, password))
        config = credfile.load(node_file)
        out.line(f"{node_file}  mode {oct(node_file.stat().st_mode & 0o777)}")
        out.table(["key", "username", "password"],
                  [[e.key, e.username, "yes" if e.has_password else "no"] for e in config])

        out.step("3. regcred match: which credential the kubelet would try")
        keyring = build_keyring([(config, str(node_file))])
        for candidate in (image, "nginx:1.25"):
            repository = parse_image(candidate).repository
            found = keyring.lookup_repository(repository)
            who = f"{found[0].username} from {found[0].key} ({found[0].source})" if found else "anonymous pull"
            out.line(f"{candidate:<45} -> {repository:<35} -> {who}")

        out.step("4. The real skopeo pulls the manifest with that file")
        good = _skopeo_inspect(server.host, node_file, base / "skopeo-home")
        digest = json.loads(good.stdout).get("Digest", "?") if good.returncode == 0 else None
        out.line(f"with the written file: {'authorised, digest ' + digest if digest else 'FAILED'}")
        if digest is None:
            failures.append("skopeo could not pull with the written file")
        wrong = base / "wrong.json"
        atomic_write(wrong, dockerconfig.dumps_file(
            dockerconfig.with_entry(credfile.empty(wrong), server.host, DEMO_USER, "not-the-password")).encode())
        bad = _skopeo_inspect(server.host, wrong, base / "skopeo-home")
        out.line(f"with a wrong password: {'refused (as it must be)' if bad.returncode != 0 else 'ACCEPTED?!'}")
        if bad.returncode == 0:
            failures.append("the registry accepted a wrong password")

        out.step("5. regcred secret create --dry-run=client: the pull Secret for a namespace")
        manifest = secret_manifest("regcred-demo", dockerconfigjson_payload(server.host, DEMO_USER, password),
                                   namespace="team")
        secret_file = base / "secret.json"
        atomic_write(secret_file, (dump_json_like_kubectl(manifest) + "\n").encode())  # as `secret create` prints it
        out.line(f"kind: Secret  name: regcred-demo  namespace: team  type: {manifest['type']}")
        out.line(f"written to {secret_file} (it holds the credential, so it is not printed here)")

        if keep_running:
            out.wait("\nregistry still running; press Enter to stop")
    finally:
        server.stop()
    return base, failures
