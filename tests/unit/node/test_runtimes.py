"""Runtime config edits keep everything else; containerd itself parses what regcred writes."""

from __future__ import annotations

import subprocess

import pytest

from regcred.core.errors import ConfigFormatError
from regcred.core.node.runtimes.common import HostCredential, runtime_host
from regcred.core.node.runtimes.containerd import (
    containerd_facts,
    containerd_with_auth,
    containerd_without_auth,
)
from regcred.core.node.runtimes.crio import crio_dropin, crio_facts
from regcred.core.node.runtimes.k3s import (
    registries_yaml_facts,
    registries_yaml_with_auth,
    registries_yaml_without_auth,
)
from tests.support.fixtures import containerd_dump, require_binaries

CRED = HostCredential("reg.example.com:5000", "alice", 's3cret"quote')

CONTAINERD_V2 = """\
# managed by ansible: keep this comment
version = 2
root = "/var/lib/containerd"  # trailing comment

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "reg.example.com:5000/pause:3.9"

  [plugins."io.containerd.grpc.v1.cri".registry.configs."other.example.com".tls]
    insecure_skip_verify = true
"""


def test_runtime_host_maps_docker_hub_and_drops_paths():
    assert runtime_host("https://index.docker.io/v1/") == "registry-1.docker.io"
    assert runtime_host("docker.io") == "registry-1.docker.io"
    assert runtime_host("https://reg.example.com:5000/team") == "reg.example.com:5000"
    assert runtime_host("bad host") is None


def test_containerd_edit_keeps_comments_and_other_tables():
    new = containerd_with_auth(CONTAINERD_V2, [CRED])
    assert new is not None and new.startswith(CONTAINERD_V2.rstrip("\n"))
    assert "insecure_skip_verify = true" in new and "# trailing comment" in new
    facts = containerd_facts(new)
    assert facts.auth_hosts == ("reg.example.com:5000",)
    assert facts.sandbox_image == "reg.example.com:5000/pause:3.9"
    assert containerd_with_auth(new, [CRED]) is None  # idempotent
    removed = containerd_without_auth(new, ["reg.example.com:5000"])
    assert removed is not None and containerd_facts(removed).auth_hosts == ()
    assert "other.example.com" in removed


def test_containerd_v3_and_v1_sections():
    v3 = containerd_with_auth('version = 3\n[plugins."io.containerd.cri.v1.images".pinned_images]\nsandbox = "r/p:1"\n', [CRED])
    assert '[plugins."io.containerd.cri.v1.images".registry.configs."reg.example.com:5000".auth]' in v3
    assert containerd_facts(v3).sandbox_image == "r/p:1"
    v1 = containerd_with_auth("[plugins.cri]\nsandbox_image = \"r/p:1\"\n", [CRED])
    assert "[plugins.cri.registry.configs" in v1


def test_containerd_invalid_toml_is_one_line():
    with pytest.raises(ConfigFormatError, match="is not valid TOML"):
        containerd_with_auth("version = 2\n[plugins\n", [CRED])


@pytest.mark.real
def test_real_containerd_reads_the_edited_default_config(tmp_path):
    require_binaries("containerd")
    default = subprocess.run(["containerd", "config", "default"], capture_output=True, text=True, check=True).stdout
    dump = containerd_dump(tmp_path, containerd_with_auth(default, [CRED]))
    section = dump.split('registry.configs."reg.example.com:5000".auth]', 1)[1].split("[", 1)[0]
    assert 'username = "alice"' in section
    assert 'password = "s3cret\\"quote"' in section


@pytest.mark.real
@pytest.mark.parametrize("start", [None, CONTAINERD_V2, '[plugins.cri]\nsandbox_image = "reg.example.com:5000/pause:3.9"\n'])
def test_real_containerd_reads_a_created_or_commented_config(tmp_path, start):
    dump = containerd_dump(tmp_path, containerd_with_auth(start, [CRED]))
    assert 'registry.configs."reg.example.com:5000".auth]' in dump
    if start is not None:
        assert 'sandbox_image = "reg.example.com:5000/pause:3.9"' in dump
    if start == CONTAINERD_V2:
        assert 'registry.configs."other.example.com".tls]' in dump


DOTTED_PLUGINS = 'version = 2\n[plugins]\n  "io.containerd.grpc.v1.cri".sandbox_image = "r/p:1"\n'


def test_containerd_edit_under_dotted_keys_lands_at_the_right_path():
    # tomlkit alone writes a header relative to [plugins] here, which containerd silently ignores.
    new = containerd_with_auth(DOTTED_PLUGINS, [CRED])
    assert new is not None and new.startswith(DOTTED_PLUGINS)
    facts = containerd_facts(new)
    assert facts.auth_hosts == ("reg.example.com:5000",) and facts.sandbox_image == "r/p:1"
    assert containerd_with_auth(new, [CRED]) is None


@pytest.mark.parametrize("text", [
    'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  configs = { "o.io" = { auth = { username = "x" } } }\n',
    'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  configs."reg.example.com:5000".auth.username = "old"\n',
])
def test_containerd_inline_or_dotted_registry_tables_are_refused_in_one_line(text):
    with pytest.raises(ConfigFormatError, match="cannot add registry auth without changing other settings"):
        containerd_with_auth(text, [CRED])


@pytest.mark.real
def test_real_containerd_reads_an_edit_under_dotted_keys(tmp_path):
    dump = containerd_dump(tmp_path, containerd_with_auth(DOTTED_PLUGINS, [CRED]))
    section = dump.split('registry.configs."reg.example.com:5000".auth]', 1)[1].split("[", 1)[0]
    assert 'username = "alice"' in section and 'sandbox_image = "r/p:1"' in dump


CRIO_CONF = '[crio]\n[crio.image]\npause_image = "reg.example.com:5000/pause:3.10"\n'


def test_crio_facts_follow_dropin_order():
    facts = crio_facts([("/etc/crio/crio.conf", CRIO_CONF),
                           ("/etc/crio/crio.conf.d/10-a.conf", '[crio.image]\nglobal_auth_file = "/a.json"\n'),
                           ("/etc/crio/crio.conf.d/20-b.conf", '[crio.image]\nglobal_auth_file = "/b.json"\n')])
    assert facts.sandbox_image == "reg.example.com:5000/pause:3.10" and facts.auth_file == "/b.json"
    own = crio_facts([("/d.conf", crio_dropin("/var/lib/kubelet/config.json"))])
    assert own.auth_file == "/var/lib/kubelet/config.json"


REGISTRIES = """\
# k3s registries
mirrors:
  docker.io:
    endpoint:
      - "https://mirror.example.com:5000"
configs:
  "mirror.example.com:5000":
    tls:
      insecure_skip_verify: true
"""


def test_registries_yaml_keeps_mirrors_tls_and_comments():
    new = registries_yaml_with_auth(REGISTRIES, [HostCredential("mirror.example.com:5000", "u", "p")])
    assert new is not None and new.startswith("# k3s registries") and "insecure_skip_verify: true" in new
    import yaml

    doc = yaml.safe_load(new)
    assert doc["configs"]["mirror.example.com:5000"]["auth"] == {"username": "u", "password": "p"}
    assert doc["mirrors"]["docker.io"]["endpoint"] == ["https://mirror.example.com:5000"]
    assert registries_yaml_with_auth(new, [HostCredential("mirror.example.com:5000", "u", "p")]) is None
    back = registries_yaml_without_auth(new, ["mirror.example.com:5000"])
    assert yaml.safe_load(back)["configs"]["mirror.example.com:5000"] == {"tls": {"insecure_skip_verify": True}}
    assert registries_yaml_facts(new).auth_hosts == ("mirror.example.com:5000",)


def test_registries_yaml_created_and_invalid():
    created = registries_yaml_with_auth(None, [CRED])
    import yaml

    assert yaml.safe_load(created) == {"configs": {"reg.example.com:5000": {"auth": {
        "username": "alice", "password": 's3cret"quote'}}}}
    with pytest.raises(ConfigFormatError, match=r"registries\.yaml"):
        registries_yaml_with_auth("configs: [\n", [CRED])
