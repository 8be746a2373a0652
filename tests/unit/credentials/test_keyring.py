"""The kubelet's keyring rules, including the upstream test table (docs/concepts/kubelet-rules.md#c and #d)."""

import pytest

from regcred.core.credentials.dockerconfig import parse_config_json
from regcred.core.credentials.keyring import (
    Credential,
    Keyring,
    build_keyring,
    is_default_registry_match,
    lookup_pull_credentials,
)
from regcred.core.credentials.registrykey import index_key


def ring(*keys: str) -> Keyring:
    keyring = Keyring()
    for i, key in enumerate(keys):
        keyring.add(Credential(key, f"user{i}", "pw"))
    return keyring


def users(keyring: Keyring, repository: str) -> list[str]:
    return [c.username for c in keyring.lookup_repository(repository)]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("index.docker.io", "index.docker.io"),
        ("http://index.docker.io/v2/", "index.docker.io"),
        ("quay.io/v2/team", "quay.io/team"),
        ("quay.io/v1", "quay.io/v1"),
        ("reg.io:5000/", "reg.io:5000"),
        ("https://reg.io/team?x=1#y", "reg.io/team"),
        ("reg.io:abc", None),
        ("bad host", None),
        ("reg.io/%zz", None),
        ("reg.io/\x01", None),
        ("HTTPS://reg.io", "HTTPS://reg.io"),  # upper-case scheme not recognised: host 'HTTPS:', path '//reg.io'
        # Go's url.Parse checks only ASCII host bytes: a Unicode host parses (and is kept by the kubelet).
        ("régistry.example.com", "régistry.example.com"),
        ("reg.io%c3%a9", "reg.ioé"),
        ("reg%41.io", None),  # in a host, %-escapes may only encode non-ASCII bytes (or %25)
        ("u:p@reg.io/x", "reg.io/x"),
        ("u%zz@reg.io", None),  # userinfo with a bad escape
        ("u p@reg.io", None),  # userinfo with a character validUserinfo refuses
        ("reg.io#%zz", None),  # the fragment is unescaped too
    ],
)
def test_index_key(key: str, expected: str | None) -> None:
    assert index_key(key) == expected


def test_upstream_table_path_prefix() -> None:
    keyring = Keyring()
    keyring.add(Credential("bar.example.com/pong", "grace", "x"))
    keyring.add(Credential("bar.example.com", "ada", "x"))
    assert users(keyring, "bar.example.com/pong/pang") == ["grace", "ada"]
    assert users(keyring, "bar.example.com/ping") == ["ada"]
    assert users(keyring, "foo.example.com") == []
    assert users(keyring, "bar.example.com/pongz") == ["grace", "ada"]  # a plain string prefix


@pytest.mark.parametrize(
    ("key", "repository", "matches"),
    [
        ("https://quay.io/v1/", "quay.io/foo/bar", True),
        ("https://*.docker.io/v2/", "prefix.docker.io/path:1111/foo/bar", True),
        ("https://prefix.*.io/path:1111", "prefix.docker.io/path/subpath:1111/foo/bar", False),
        ("*.kubernetes.io", "kubernetes.io/x", False),
        ("*.*.kubernetes.io", "prefix.kubernetes.io/x", False),
        ("*kubernetes.io", "a.kubernetes.io/x", False),
        ("*kubernetes.io", "kubernetes.io/x", True),
        ("prefix.kubernetes.*", "prefix.kubernetes.io/x", True),
        ("*-good.kubernetes.io", "x-good.kubernetes.io/x", True),
        ("registry.example.com", "registry.example.com:5000/app", False),
        ("registry.example.com:443", "registry.example.com/app", False),
        ("registry.example.com:5000", "registry.example.com:5000/app", True),
        ("Registry.example.com", "registry.example.com/app", False),
        ("[.example.com", "a.example.com/app", False),
        ("*.docker.io", "docker.io/library/nginx", False),
        ("registry-1.docker.io", "docker.io/library/nginx", False),
        ("docker.io", "docker.io/library/nginx", True),
        ("HTTPS://reg.io", "reg.io/app", False),
        ("reg?.io", "reg1.io/app", False),  # '?' starts a URL query: the key's host is just 'reg'
    ],
)
def test_matching_rules(key: str, repository: str, matches: bool) -> None:
    assert bool(ring(key).lookup_repository(repository)) is matches


@pytest.mark.parametrize("repository", ["jenkins", "google/docker-registry", "docker.io/library/nginx", "index.docker.io/x/y"])
def test_docker_hub_fallback(repository: str) -> None:
    assert users(ring("https://index.docker.io/v1/"), repository) == ["user0"]


def test_docker_hub_fallback_only_when_nothing_matched() -> None:
    keyring = ring("https://index.docker.io/v1/", "docker.io/library")
    assert users(keyring, "docker.io/library/nginx") == ["user1"]
    assert users(ring("https://index.docker.io/v1/"), "world.mesos.org/foo/bar") == []


def test_reverse_byte_order_not_specificity() -> None:
    keyring = ring("*.example.com", "reg.example.com", "quay.io", "quay.io/coreos")
    assert users(keyring, "reg.example.com/x") == ["user1", "user0"]
    assert users(keyring, "quay.io/coreos/etcd") == ["user3", "user2"]
    other = ring("*.example.com/xyz", "a.example.com/x")
    assert users(other, "a.example.com/xyz") == ["user1", "user0"]


def test_same_normalised_key_keeps_insertion_order() -> None:
    keyring = ring("quay.io", "https://quay.io/v1/", "quay.io/")
    assert users(keyring, "quay.io/a/b") == ["user0", "user1", "user2"]
    assert len(keyring) == 1


def test_invalid_keys_are_skipped_and_recorded() -> None:
    keyring = ring("reg.io:abc", "ok.io")
    assert [s.key for s in keyring.skipped] == ["reg.io:abc"]
    assert users(keyring, "ok.io/x") == ["user1"]


def test_unparseable_repository_still_gets_the_docker_hub_fallback() -> None:
    # Go: every URLsMatchStr fails on the target, nothing matched, isDefaultRegistryMatch("a b") is true.
    keyring = ring("https://index.docker.io/v1/")
    assert users(keyring, "a b") == ["user0"]
    assert users(keyring, "a b.io/x") == []


def test_pod_secrets_before_node_files() -> None:
    pod = build_keyring([(parse_config_json('{"auths":{"reg.io":{"auth":"cG9kOnB3"}}}', "s"), "secret ns/pull")])
    node = build_keyring([(parse_config_json('{"auths":{"reg.io":{"auth":"bm9kZTpwdw=="}}}', "n"), "/var/lib/kubelet/config.json")])
    creds = lookup_pull_credentials("reg.io/app", pod, node)
    assert [(c.username, c.source) for c in creds] == [("pod", "secret ns/pull"), ("node", "/var/lib/kubelet/config.json")]


def test_secrets_share_one_keyring_ordered_by_key() -> None:
    a = parse_config_json('{"auths":{"registry.example.com":{"auth":"YTpw"}}}', "a")
    b = parse_config_json('{"auths":{"registry.example.com/team":{"auth":"YjpwCg=="}}}', "b")
    keyring = build_keyring([(a, "secret A"), (b, "secret B")])
    assert [c.source for c in keyring.lookup_repository("registry.example.com/team/app")] == ["secret B", "secret A"]


@pytest.mark.parametrize(
    ("repository", "expected"),
    [("ubuntu", True), ("docker.io/x", True), ("index.docker.io/x", True), ("library/x", True),
     ("reg.io/x", False), ("host:5000/x", False), ("", False)],
)
def test_is_default_registry_match(repository: str, expected: bool) -> None:
    assert is_default_registry_match(repository) is expected


def test_credential_repr_hides_the_password() -> None:
    assert "hunter2" not in repr(Credential("r", "u", "hunter2"))
