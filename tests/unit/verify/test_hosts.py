"""Which host a key names, and whether a client can contact it."""

from __future__ import annotations

import re

import pytest

from regcred.core.errors import InputError
from regcred.core.node.runtimes.common import runtime_host
from regcred.core.verify.hosts import HostError, check_hostport, http_url, registry_of_key, shown


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


@pytest.mark.parametrize(("hostport", "ascii_form"), [
    ("reg.example.com:5000", "reg.example.com:5000"),
    ("Reg.Example.COM", "reg.example.com"),
    ("127.0.0.1:5000", "127.0.0.1:5000"),
    ("[::1]:5000", "[::1]:5000"),
    ("[fd00::5]", "[fd00::5]"),
    ("localhost", "localhost"),
    ("my_registry.local", "my_registry.local"),
    ("bücher.example", "xn--bcher-kva.example"),  # IDNA 2008, as httpx sends it
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("a" * 63 + ".io", "a" * 63 + ".io"),
    ("reg.example.com.:5000", "reg.example.com.:5000"),  # fully qualified
])
def test_contactable_hosts(hostport: str, ascii_form: str) -> None:
    assert check_hostport(hostport) == ascii_form


@pytest.mark.parametrize(("hostport", "needle"), [
    ("xn--zz.io", "not a valid international (xn--) label"),
    ("a..b", "an empty label"),
    (".a.io", "an empty label"),
    ("a.io..", "an empty label"),
    (".", "an empty label"),
    ("a" * 64 + ".io", "longer than 63 characters"),
    (".".join(["a" * 60] * 5), "longer than 253 characters"),
    ("[zz]:5000", "an invalid IPv6 literal"),
    ("[::1", "an invalid IPv6 literal"),
    ("[::1]x", "characters after the IPv6 literal"),
    ("[fe80::1%eth0]", "an invalid IPv6 literal"),
    ("::1", "without brackets"),
    ("a\ufffdb.io", "characters no host name can hold"),
    ("a\u200bb.io", "characters no host name can hold"),
    ("a b.io", "with characters other than"),
    ("r.io:99999", "not a number from 1 to 65535"),
    ("r.io:0", "not a number from 1 to 65535"),
    ("r.io:", "an empty port"),
    (":5000", "no host name"),
    ("999.1.1.1", "an invalid IPv4 address"),
])
def test_hosts_no_client_can_contact(hostport: str, needle: str) -> None:
    with pytest.raises(HostError, match=re.escape(needle)):
        check_hostport(hostport)


@pytest.mark.parametrize("key", ["xn--zz.io", "a..b", "https://a..b/v2/", "[zz]:5000", "999.1.1.1:5000"])
def test_keys_the_kubelet_parses_but_no_client_can_contact(key: str) -> None:
    with pytest.raises(InputError, match="names no host a client can contact"):
        registry_of_key(key)


@pytest.mark.parametrize(("url", "needle"), [
    ("http://[::1", "is not a valid URL"),
    ("http://xn--zz/t", "names no valid host"),
    ("ftp://auth/t", "not an http(s) URL"),
    ("https://u:secret@auth/t", "carries a user name and password (not shown)"),
    ("https:///t", "no host name"),
])
def test_urls_a_registry_sends_are_checked(url: str, needle: str) -> None:
    with pytest.raises(HostError, match=re.escape(needle)) as info:
        http_url(url, what="realm")
    assert "secret" not in str(info.value)


def test_relative_urls_resolve_against_their_base() -> None:
    assert http_url("/v2/x?y=1", what="redirect", base="https://reg.io/v2/").geturl() == "https://reg.io/v2/x?y=1"
    with pytest.raises(HostError, match="not a valid URL"):
        http_url("http://[::1", what="redirect", base="https://reg.io/v2/")


def test_long_values_are_cut_in_messages() -> None:
    assert len(shown("x" * 10_000)) < 100
