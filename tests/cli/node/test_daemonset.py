"""The DaemonSet manifest, and one round of its sync loop against a fake node."""

from __future__ import annotations

import json

import yaml

from regcred.core.credentials.dockerconfig import parse_config_json
from regcred.core.node.daemonset import daemonset_manifest, sync_script
from regcred.shells.host import HostRoot, kubelet_settings
from regcred.shells.nodefiles import install_entries
from tests.support.node import KUBELET


def test_rendered_daemonset(regcred):
    code, out, _ = regcred("node", "daemonset", "--secret", "global-pull", "-n", "infra", "--image", "r.example.com/rc:1")
    assert code == 0
    ds = yaml.safe_load(out)
    assert (ds["apiVersion"], ds["kind"], ds["metadata"]["namespace"]) == ("apps/v1", "DaemonSet", "infra")
    pod = ds["spec"]["template"]["spec"]
    assert ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    assert pod["tolerations"] == [{"operator": "Exists"}]  # every taint, control plane included
    assert pod["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["kubelet-dir"]["hostPath"] == {"path": "/var/lib/kubelet", "type": "Directory"}
    assert volumes["pull-secret"]["secret"]["secretName"] == "global-pull"
    container = pod["containers"][0]
    assert container["image"] == "r.example.com/rc:1"
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["kubelet-dir"]["mountPath"] == "/host/var/lib/kubelet" and mounts["pull-secret"]["readOnly"] is True
    script = container["command"][-1]
    for part in ("regcred node install", "--from-file /secret/.dockerconfigjson", "--host-root /host", "--prune",
                 "--keep-existing", "--root-dir /var/lib/kubelet"):
        assert part in script


def test_daemonset_json_and_bad_names(regcred):
    code, out, _ = regcred("node", "daemonset", "--secret", "s", "-o", "json", "--root-dir", "/data/kubelet/")
    assert code == 0
    ds = json.loads(out)
    assert ds["spec"]["template"]["spec"]["volumes"][0]["hostPath"]["path"] == "/data/kubelet"
    code, _, err = regcred("node", "daemonset", "--secret", "Bad_Name")
    assert code == 2 and "invalid Secret name" in err


def test_sync_script_is_valid_shell(tmp_path):
    import subprocess

    done = subprocess.run(["sh", "-n", "-c", sync_script("/var/lib/kubelet")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert daemonset_manifest(secret="s", namespace="n", image="i")["spec"]["template"]["spec"]["containers"][0][
        "command"][:2] == ["/bin/sh", "-c"]


def entries(doc):
    return [(e.key, e.username, e.password, e.email) for e in parse_config_json(json.dumps(doc), "secret")]


def secret(*hosts, user="sync"):
    return {"auths": {h: {"username": user, "password": f"{h}-pw"} for h in hosts}}


def sync(node, doc):
    host = HostRoot(node.root)
    return install_entries(host, kubelet_settings(host), entries(doc), runtime="none", on_conflict="keep", prune=True)


def test_sync_rounds_merge_rotate_and_remove_only_what_they_wrote(fake_node):
    hand = {"username": "admin", "password": "hand-pw", "auth": "YWRtaW46aGFuZC1wdw=="}
    fake_node.write(KUBELET, {"auths": {"hand.example.com": hand, "clash.example.com": hand}})
    first = sync(fake_node, secret("a.example.com", "b.example.com", "clash.example.com"))
    assert sorted(first["added"]) == ["a.example.com", "b.example.com"] and first["skipped"] == ["clash.example.com"]
    auths = fake_node.json(KUBELET)["auths"]
    assert auths["hand.example.com"] == hand and auths["clash.example.com"] == hand  # original wins
    # a quiet round writes nothing
    mtime = fake_node.path(KUBELET).stat().st_mtime_ns
    assert sync(fake_node, secret("a.example.com", "b.example.com"))["changed"] is False
    assert fake_node.path(KUBELET).stat().st_mtime_ns == mtime
    # the Secret rotates a's password and loses b
    rotated = secret("a.example.com", user="rotated")
    third = sync(fake_node, rotated)
    assert third["replaced"] == ["a.example.com"] and third["removed"] == ["b.example.com"]
    auths = fake_node.json(KUBELET)["auths"]
    assert set(auths) == {"a.example.com", "hand.example.com", "clash.example.com"}
    assert auths["a.example.com"]["username"] == "rotated"
    # someone edits a by hand; then the Secret loses it: the edited entry is theirs and stays
    doc = fake_node.json(KUBELET)
    doc["auths"]["a.example.com"] = hand
    fake_node.write(KUBELET, doc)
    fourth = sync(fake_node, {"auths": {}})
    assert fourth["removed"] == [] and fake_node.json(KUBELET)["auths"]["a.example.com"] == hand
    assert not fake_node.path(KUBELET + ".regcred-owned").exists()


# --- second review: the rendered loop run for real, quoting, the manifest on the real apiserver -------------------


def _secret_volume(directory, doc):
    """A Secret volume as the kubelet lays it out: the key is a symlink into a ..data directory swapped atomically."""
    import os

    version = directory / f"..{len(list(directory.iterdir()))}_v"
    version.mkdir()
    (version / ".dockerconfigjson").write_text(json.dumps(doc))
    tmp = directory / "..data_tmp"
    tmp.symlink_to(version.name)
    os.replace(tmp, directory / "..data")
    if not (directory / ".dockerconfigjson").is_symlink():
        (directory / ".dockerconfigjson").symlink_to("..data/.dockerconfigjson")


def _run_one_round(tmp_path, node, secret_dir, root_dir="/var/lib/kubelet", script=None):
    """Run the DaemonSet's own script with its real `regcred`; a fake `sleep` ends the loop after one round."""
    import os
    import subprocess
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "sleep").write_text("#!/bin/sh\nkill -TERM $PPID\n")
    (bin_dir / "sleep").chmod(0o755)
    script = script or sync_script(root_dir, host_root=str(node.root), secret_dir=str(secret_dir))
    path = f"{bin_dir}:{os.path.dirname(sys.executable)}:/usr/bin:/bin"
    # cwd=tmp_path: a command injected through the script (say `$(touch X)`) lands where the test can see it
    done = subprocess.run(["/bin/sh", "-c", script], env={"PATH": path, "REGCRED_INTERVAL": "60"},
                          capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert "sync failed" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "-pw" not in done.stdout + done.stderr  # no password in the pod's log
    return json.loads(done.stdout)


def test_the_rendered_loop_adds_then_removes_and_never_touches_other_entries(tmp_path, fake_node):
    hand = {"username": "admin", "password": "hand-pw", "auth": "YWRtaW46aGFuZC1wdw=="}
    fake_node.write(KUBELET, {"auths": {"hand.example.com": hand, "clash.example.com": hand}, "credsStore": "x"})
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    _secret_volume(secret_dir, secret("a.example.com", "b.example.com", "clash.example.com"))
    first = _run_one_round(tmp_path, fake_node, secret_dir)
    assert sorted(first["added"]) == ["a.example.com", "b.example.com"] and first["skipped"] == ["clash.example.com"]
    _secret_volume(secret_dir, secret("a.example.com"))  # the Secret loses b
    second = _run_one_round(tmp_path, fake_node, secret_dir)
    assert second["removed"] == ["b.example.com"]
    assert set(fake_node.json(KUBELET)["auths"]) == {"a.example.com", "hand.example.com", "clash.example.com"}
    _secret_volume(secret_dir, {"auths": {}})  # and then every registry
    third = _run_one_round(tmp_path, fake_node, secret_dir)
    assert third["removed"] == ["a.example.com"]
    doc = fake_node.json(KUBELET)
    assert doc == {"auths": {"hand.example.com": hand, "clash.example.com": hand}, "credsStore": "x"}
    assert not fake_node.path(KUBELET + ".regcred-owned").exists()


def test_the_loop_rendered_for_a_runtime_prunes_the_runtime_too(tmp_path, fake_node):
    """`regcred render` with `nodes.runtimes`: a registry the Secret loses leaves containerd's config as well."""
    import tomllib

    from tests.support.cli import run_regcred

    spec = tmp_path / "spec.yaml"
    spec.write_text("apiVersion: regcred.dev/v1alpha1\nkind: RegistryCredential\nmetadata: {name: h}\nspec:\n"
                    "  registries: [{server: a.example.com, username: u, passwordFrom: {env: PW}}]\n"
                    "  nodes: {enabled: true, runtimes: [containerd]}\n")
    rendered = run_regcred("render", "-f", spec, "--no-secrets")
    assert rendered.returncode == 0, rendered.stderr
    (ds,) = [d for d in yaml.safe_load_all(rendered.stdout) if d and d["kind"] == "DaemonSet"]
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    script = ds["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    script = script.replace("--host-root /host", f"--host-root {fake_node.root}").replace(
        "/secret/.dockerconfigjson", f"{secret_dir}/.dockerconfigjson")
    fake_node.write("/etc/containerd/config.toml", "# site\nversion = 2\n")

    def hosts():
        doc = tomllib.loads(fake_node.read("/etc/containerd/config.toml"))
        return set(doc["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["configs"])

    _secret_volume(secret_dir, secret("a.example.com", "b.example.com"))
    first = _run_one_round(tmp_path, fake_node, secret_dir, script=script)
    assert first["runtime"]["added"] == ["a.example.com", "b.example.com"] and hosts() == {"a.example.com",
                                                                                             "b.example.com"}
    _secret_volume(secret_dir, secret("a.example.com"))  # the Secret loses b
    second = _run_one_round(tmp_path, fake_node, secret_dir, script=script)
    assert second["removed"] == ["b.example.com"] and second["runtime"]["removed"] == ["b.example.com"]
    assert hosts() == {"a.example.com"} and fake_node.read("/etc/containerd/config.toml").startswith("# site")


def test_the_loop_quotes_the_root_dir(tmp_path, fake_node):
    odd = "/data/kube let;$(touch INJECTED)"
    fake_node.path(odd).mkdir(parents=True)
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    _secret_volume(secret_dir, secret("a.example.com"))
    result = _run_one_round(tmp_path, fake_node, secret_dir, root_dir=odd)
    assert result["path"] == odd + "/config.json" and fake_node.path(odd + "/config.json").is_file()
    assert not list(tmp_path.rglob("INJECTED"))


def test_the_manifest_runs_on_linux_nodes_only_and_everywhere_among_them():
    pod = daemonset_manifest(secret="s", namespace="n", image="i")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"} and pod["tolerations"] == [{"operator": "Exists"}]
    container = pod["containers"][0]
    assert container["securityContext"]["runAsUser"] == 0 and container["securityContext"]["capabilities"] == {
        "drop": ["ALL"]}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_the_manifest_is_accepted_by_the_api_server(kube, regcred):
    from tests.support.kube import unique_ns

    ns = unique_ns("ds")
    kube.create_namespace(ns)
    code, out, _ = regcred("node", "daemonset", "--secret", "global-pull", "-n", ns, "-o", "json",
                           "--root-dir", "/data/kubelet")
    assert code == 0
    created = kube.create(json.loads(out), dry_run=True)
    spec = created["spec"]["template"]["spec"]
    assert spec["volumes"][0]["hostPath"] == {"path": "/data/kubelet", "type": "Directory"}
    assert spec["containers"][0]["volumeMounts"][0]["mountPath"] == "/host/data/kubelet"


# --- the loop as PID 1 would run it: SIGTERM ends it at once and cleanly; an unchanged round logs nothing ----------


def _start_loop(tmp_path, script, bin_scripts: dict[str, str], interval: str = "60"):
    import os
    import subprocess
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in bin_scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    path = f"{bin_dir}:{os.path.dirname(sys.executable)}:/usr/bin:/bin"
    return subprocess.Popen(["/bin/sh", "-c", script], env={"PATH": path, "REGCRED_INTERVAL": interval},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)


def _wait_for(condition, timeout=30.0):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_sigterm_during_the_sleep_ends_the_loop_at_once_with_exit_0(tmp_path, fake_node):
    import signal
    import time
    from pathlib import Path

    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    _secret_volume(secret_dir, secret("a.example.com"))
    script = sync_script("/var/lib/kubelet", host_root=str(fake_node.root), secret_dir=str(secret_dir))
    loop = _start_loop(tmp_path, script, {})  # the real sleep, 60 s
    children = Path(f"/proc/{loop.pid}/task/{loop.pid}/children")
    try:

        def sleeping() -> list[str]:  # the round is done: the loop's one child is the sleep
            pids = children.read_text().split()
            try:
                return pids if Path(f"/proc/{pids[0]}/cmdline").read_bytes() == b"sleep\x0060\x00" else []
            except (IndexError, FileNotFoundError):
                return []

        _wait_for(sleeping)
        (sleeper,) = sleeping()
        started = time.monotonic()
        loop.send_signal(signal.SIGTERM)
        out, err = loop.communicate(timeout=5)
    finally:
        if loop.poll() is None:
            loop.kill()
    assert loop.returncode == 0 and time.monotonic() - started < 2, err
    assert json.loads(out)["added"] == ["a.example.com"]

    def sleeper_gone() -> bool:  # killed by the trap (a zombie until its new parent reaps it counts as gone)
        try:
            return Path(f"/proc/{sleeper}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        except FileNotFoundError:
            return True

    _wait_for(sleeper_gone, timeout=2)


def test_sigterm_during_a_round_waits_for_it_then_exits_0(tmp_path):
    import signal

    marks = tmp_path / "marks"
    slow = f"#!/bin/sh\necho start >> {marks}\nsleep 1\necho end >> {marks}\n"  # a round that takes a while
    loop = _start_loop(tmp_path, sync_script("/var/lib/kubelet"), {"regcred": slow})
    try:
        _wait_for(lambda: marks.exists())
        loop.send_signal(signal.SIGTERM)
        _, err = loop.communicate(timeout=10)
    finally:
        if loop.poll() is None:
            loop.kill()
    assert loop.returncode == 0, err
    assert marks.read_text() == "start\nend\n"  # the write in progress finished; no second round began


def test_unchanged_rounds_log_nothing(tmp_path, fake_node):
    rounds = tmp_path / "rounds"
    # a fake sleep: three rounds, then TERM to the loop (as the kubelet would on a delete)
    counting_sleep = (f"#!/bin/sh\necho x >> {rounds}\n"
                      f'[ "$(wc -l < {rounds})" -ge 3 ] && kill -TERM $PPID\nexit 0\n')
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    _secret_volume(secret_dir, secret("a.example.com"))
    script = sync_script("/var/lib/kubelet", host_root=str(fake_node.root), secret_dir=str(secret_dir))
    loop = _start_loop(tmp_path, script, {"sleep": counting_sleep})
    out, err = loop.communicate(timeout=60)
    assert loop.returncode == 0 and rounds.read_text() == "x\nx\nx\n", err
    assert json.loads(out)["added"] == ["a.example.com"]  # the first round only: rounds 2 and 3 printed nothing
    assert err == ""
