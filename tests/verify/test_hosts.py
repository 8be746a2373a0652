"""Which host a key names, and whether a client can contact it."""

from __future__ import annotations

import pytest

from regcred.core.errors import InputError
from regcred.core.node.runtimes import runtime_host
from regcred.core.verify.hosts import registry_of_key


@pytest.mark.parametrize(
    ("key", "registry"),
    [
        ("https://index.docker.io/v1/", "registry-1.docker.io"),
        ("docker.io", "registry-1.docker.io"),
        ("http://reg.example.com:5000/v2/", "reg.example.com:5000"),
        ("quay.io/team", "quay.io"),
        ("[::1]:5000", "[::1]:5000"),  # an IPv6 literal is a host, not a glob (as in the keyring)
        ("https://[fd00::5]:443/v2/", "[fd00::5]:443"),
    ],
)
def test_registry_of_key(key: str, registry: str) -> None:
    assert registry_of_key(key) == registry
    assert runtime_host(key) == registry  # what a runtime contacts is what verify contacts


@pytest.mark.parametrize(("key", "needle"), [("*.example.com", "wildcard"), ("reg[0-9].io", "wildcard"),
                                           ("host:abc", "not a URL")])
def test_unverifiable_keys(key: str, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        registry_of_key(key)
