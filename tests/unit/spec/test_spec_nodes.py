"""The node level of a spec: plan/apply through `node install`'s merge under a host root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from regcred.core.spec.model import parse_document
from regcred.shells.spec.source import resolve_all
from regcred.usecases.specnodes import apply_nodes, plan_nodes


def desired(servers: tuple[str, ...], runtimes: tuple[str, ...] = ()) -> Any:
    spec = parse_document({
        "apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": "h"},
        "spec": {"registries": [{"server": s, "username": "u", "passwordFrom": {"env": "NODE_PW"}} for s in servers],
                 "nodes": {"enabled": True, "runtimes": list(runtimes)}}}, "h.yaml")
    return resolve_all([spec], None)


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NODE_PW", "node-pw")
    (tmp_path / "var/lib/kubelet").mkdir(parents=True)
    return tmp_path


def auths(host: Path) -> dict[str, Any]:
    return dict(json.loads((host / "var/lib/kubelet/config.json").read_text())["auths"])


def test_plan_apply_idempotent_and_prune_only_own(host: Path) -> None:
    config = host / "var/lib/kubelet/config.json"
    config.write_text(json.dumps({"auths": {"theirs.io": {"auth": "dTpw"}}}))
    d = desired(("r.example.com", "ghcr.io"))
    (change,) = plan_nodes(d, str(host))
    assert change.to_json()["registries"] == {"added": ["r.example.com", "ghcr.io"], "removed": [], "updated": []}
    assert "node-pw" not in json.dumps(change.to_json())
    assert json.loads(config.read_text()) == {"auths": {"theirs.io": {"auth": "dTpw"}}}  # plan wrote nothing
    rows = apply_nodes([change], str(host), dry_run=False)
    assert [(r.status, r.message) for r in rows] == [("updated", "+r.example.com +ghcr.io")]
    assert list(auths(host)) == ["theirs.io", "r.example.com", "ghcr.io"]
    assert plan_nodes(d, str(host)) == []  # nothing left to do
    smaller = desired(("r.example.com",))
    (change,) = plan_nodes(smaller, str(host))
    assert change.to_json()["registries"]["removed"] == ["ghcr.io"]
    apply_nodes([change], str(host), dry_run=False)
    assert list(auths(host)) == ["theirs.io", "r.example.com"]  # another writer's entry stays


def test_someone_elses_entry_for_the_same_registry_is_a_conflict(host: Path) -> None:
    (host / "var/lib/kubelet/config.json").write_text(json.dumps({"auths": {"r.example.com": {"auth": "dTpw"}}}))
    changes = plan_nodes(desired(("r.example.com",)), str(host))
    assert [(c.action, c.reason) for c in changes] == [
        ("conflict", "'r.example.com' has other credentials written by someone else: left as is")]


def test_every_listed_runtime_gets_the_credentials(host: Path) -> None:
    (host / "etc/containerd").mkdir(parents=True)
    (host / "etc/containerd/config.toml").write_text("# ours\nversion = 2\n")
    (host / "etc/rancher/k3s").mkdir(parents=True)
    (host / "etc/crio").mkdir(parents=True)
    d = desired(("r.example.com:5000",), ("containerd", "k3s", "crio"))
    changes = plan_nodes(d, str(host))
    assert [(c.action, c.name) for c in changes] == [
        ("update", "/var/lib/kubelet/config.json"),
        ("update", "/etc/containerd/config.toml"),
        ("update", "/etc/rancher/k3s/registries.yaml"),
        ("update", "/etc/crio/crio.conf.d/90-regcred-auth.conf"),
    ]
    assert "restart containerd" in changes[1].reason
    assert not (host / "etc/rancher/k3s/registries.yaml").exists()  # plan wrote nothing
    rows = apply_nodes(changes, str(host), dry_run=False)
    assert [r.status for r in rows] == ["updated"] * 4
    containerd = (host / "etc/containerd/config.toml").read_text()
    assert containerd.startswith("# ours") and '"r.example.com:5000"' in containerd
    assert "r.example.com:5000" in (host / "etc/rancher/k3s/registries.yaml").read_text()
    assert "/var/lib/kubelet/config.json" in (host / "etc/crio/crio.conf.d/90-regcred-auth.conf").read_text()
    assert not any("node-pw" in r.message for r in rows)
    assert plan_nodes(d, str(host)) == []  # every runtime is in step: nothing left to do


SITE = ('# site\nversion = 2\n[plugins."io.containerd.grpc.v1.cri".registry.configs."site.example.com".auth]\n'
        '  username = "site"\n  password = "site-pass"\n')


def containerd_configs(host: Path) -> dict[str, Any]:
    import tomllib

    doc = tomllib.loads((host / "etc/containerd/config.toml").read_text())
    return dict(doc["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["configs"])


def apply_all(d: Any, host: Path) -> list[Any]:
    return apply_nodes(plan_nodes(d, str(host)), str(host), dry_run=False)


def test_dropping_a_registry_prunes_it_from_every_runtime(host: Path, tmp_path: Path) -> None:
    import yaml

    from tests.support.fixtures import containerd_dump

    (host / "etc/containerd").mkdir(parents=True)
    (host / "etc/containerd/config.toml").write_text(SITE)
    (host / "etc/rancher/k3s").mkdir(parents=True)
    apply_all(desired(("a.example.com", "b.example.com"), ("containerd", "k3s")), host)
    assert set(containerd_configs(host)) == {"site.example.com", "a.example.com", "b.example.com"}
    smaller = desired(("a.example.com",), ("containerd", "k3s"))
    changes = plan_nodes(smaller, str(host))
    runtime_rows = [c.to_json() for c in changes if c.name != "/var/lib/kubelet/config.json"]
    assert [(r["name"], r["registries"]) for r in runtime_rows] == [
        ("/etc/containerd/config.toml", {"added": [], "removed": ["b.example.com"], "updated": []}),
        ("/etc/rancher/k3s/registries.yaml", {"added": [], "removed": ["b.example.com"], "updated": []}),
    ]
    rows = apply_nodes(changes, str(host), dry_run=False)
    assert ("updated", "containerd: -b.example.com; restart containerd on the node to load it") in [
        (r.status, r.message) for r in rows]
    assert set(containerd_configs(host)) == {"site.example.com", "a.example.com"}  # the site's auth stays
    assert list(yaml.safe_load((host / "etc/rancher/k3s/registries.yaml").read_text())["configs"]) == ["a.example.com"]
    dump = containerd_dump(tmp_path, (host / "etc/containerd/config.toml").read_text())
    assert "b.example.com" not in dump and 'configs."site.example.com".auth]' in dump
    assert plan_nodes(smaller, str(host)) == []  # in step


def test_a_runtime_taken_out_of_the_spec_loses_only_what_regcred_wrote(host: Path) -> None:
    (host / "etc/containerd").mkdir(parents=True)
    (host / "etc/containerd/config.toml").write_text(SITE)
    apply_all(desired(("a.example.com",), ("containerd",)), host)
    without = desired(("a.example.com",))
    (change,) = plan_nodes(without, str(host))
    assert (change.name, change.to_json()["registries"]["removed"]) == ("/etc/containerd/config.toml",
                                                                       ["a.example.com"])
    apply_nodes([change], str(host), dry_run=False)
    assert set(containerd_configs(host)) == {"site.example.com"}
    assert not (host / "etc/containerd/config.toml.regcred-owned").exists()
    assert plan_nodes(without, str(host)) == []


def test_someone_elses_runtime_auth_for_the_same_host_is_a_conflict(host: Path) -> None:
    (host / "etc/containerd").mkdir(parents=True)
    (host / "etc/containerd/config.toml").write_text(SITE)
    d = desired(("site.example.com",), ("containerd",))
    changes = plan_nodes(d, str(host))
    assert [(c.action, c.name, c.reason) for c in changes if c.name.startswith("/etc")] == [
        ("conflict", "/etc/containerd/config.toml",
         "runtime containerd: 'site.example.com' has other auth written by someone else: left as is")]
    apply_nodes(changes, str(host), dry_run=False)
    assert containerd_configs(host)["site.example.com"]["auth"] == {"username": "site", "password": "site-pass"}


def test_crio_taken_out_of_the_spec_loses_regcreds_dropin_unless_edited(host: Path) -> None:
    (host / "etc/crio").mkdir(parents=True)
    apply_all(desired(("a.example.com",), ("crio",)), host)
    dropin = host / "etc/crio/crio.conf.d/90-regcred-auth.conf"
    assert dropin.is_file()
    without = desired(("a.example.com",))
    (change,) = plan_nodes(without, str(host))
    assert (change.name, change.to_json()["registries"]["removed"]) == (
        "/etc/crio/crio.conf.d/90-regcred-auth.conf", ["global_auth_file"])
    assert "restart crio" in change.reason and dropin.is_file()  # plan wrote nothing
    apply_nodes([change], str(host), dry_run=False)
    assert not dropin.exists() and plan_nodes(without, str(host)) == []
    apply_all(desired(("a.example.com",), ("crio",)), host)
    dropin.write_text(dropin.read_text() + "# tuned by hand\n")  # no longer exactly regcred's
    assert plan_nodes(without, str(host)) == [] and dropin.is_file()


def test_a_rotated_password_replaces_regcreds_own_runtime_auth(host: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (host / "etc/containerd").mkdir(parents=True)
    apply_all(desired(("a.example.com",), ("containerd",)), host)
    monkeypatch.setenv("NODE_PW", "rotated-pw")
    rotated = desired(("a.example.com",), ("containerd",))
    changes = {c.name: c.to_json()["registries"] for c in plan_nodes(rotated, str(host))}
    assert changes == {"/var/lib/kubelet/config.json": {"added": [], "removed": [], "updated": ["a.example.com"]},
                       "/etc/containerd/config.toml": {"added": [], "removed": [], "updated": ["a.example.com"]}}
    rows = apply_all(rotated, host)
    assert ("updated", "containerd: ~a.example.com; restart containerd on the node to load it") in [
        (r.status, r.message) for r in rows]
    assert containerd_configs(host)["a.example.com"]["auth"] == {"username": "u", "password": "rotated-pw"}
    assert plan_nodes(rotated, str(host)) == []
