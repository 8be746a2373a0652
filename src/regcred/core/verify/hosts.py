"""Which host a verification contacts, and whether a network client can contact it at all.

`auth add` accepts every key the kubelet can parse, and the kubelet parses hosts no client can reach
(`a..b`, a 64-character label, `xn--zz.io`, `[zz]:5000`, a zero-width space). A check must refuse such a
host before any request — for a key the user gave, as a usage error; for a key in a file, or a realm or
redirect a registry sent, as that registry's result — instead of letting the HTTP stack crash on it.
The rule is the one DNS and the URL standard share: ASCII labels of 1-63 letters, digits, '-' or '_'
(international names through IDNA 2008, as httpx encodes them), at most 253 characters, a valid IPv6
literal in brackets, a port from 1 to 65535.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urljoin, urlsplit

from regcred.core.credentials.registrykey import GLOB_CHARS, check_port, client_key
from regcred.core.errors import InputError

_IPV4_STYLE = re.compile(r"\A[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+\Z")  # what httpx reads as IPv4
_LABEL = re.compile(r"\A[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\Z")
MAX_HOST_CHARS = 253
_SHOWN = 80  # how much of a value a registry sent is quoted in a message


class HostError(ValueError):
    """A host[:port] or URL no client can contact; the message says why, quoting at most a short part."""


def shown(value: str) -> str:
    """A value for a message: repr, cut at a length that keeps the message one readable line."""
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")


def check_hostport(hostport: str) -> str:
    """`hostport` in the ASCII form a client sends (lower case, IDNA); HostError when it cannot be contacted."""
    if hostport.startswith("["):
        end = hostport.find("]")
        host, rest = (hostport[: end + 1], hostport[end + 1 :]) if end != -1 else (hostport, "")
        if rest and not rest.startswith(":"):
            raise HostError("characters after the IPv6 literal")
        port = rest[1:]
        try:
            if end == -1 or ipaddress.IPv6Address(host[1:-1]).scope_id:  # no zone id (%eth0)
                raise ValueError
        except ValueError:
            raise HostError("an invalid IPv6 literal") from None
        ascii_host = host.lower()
    else:
        host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
        if ":" in host:
            raise HostError("an IPv6 address without brackets")
        ascii_host = _ascii_host(host)
    if hostport.endswith(":"):
        raise HostError("an empty port")
    if port and (not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536):
        raise HostError(f"port {port[:10]!r} is not a number from 1 to 65535")
    return f"{ascii_host}:{port}" if port else ascii_host


def _ascii_host(host: str) -> str:
    if not host:
        raise HostError("no host name")
    if not host.isascii():
        # lazy: only international names need idna, whose tables take ~50 ms to import (httpx imports it anyway)
        import idna

        try:
            host = idna.encode(host.lower()).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            raise HostError("characters no host name can hold (IDNA)") from None
    host = host.lower()
    if _IPV4_STYLE.match(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise HostError("an invalid IPv4 address") from None
        return host
    if len(host) > MAX_HOST_CHARS + host.endswith("."):
        raise HostError(f"a host name longer than {MAX_HOST_CHARS} characters")
    for label in host.removesuffix(".").split("."):  # one trailing dot: a fully qualified name
        if not label:
            raise HostError("an empty label in the host name ('..' or a leading dot)")
        if len(label) > 63:
            raise HostError("a host name label longer than 63 characters")
        if not _LABEL.match(label):
            raise HostError(f"a host name label {shown(label)} with characters other than letters, digits, '-', '_'")
        if label.startswith("xn--"):
            _check_a_label(label)
    return host


def _check_a_label(label: str) -> None:
    import idna  # lazy: ~50 ms of tables, see _ascii_host

    try:
        idna.decode(label)
    except (idna.IDNAError, UnicodeError):
        raise HostError(f"{label!r} is not a valid international (xn--) label") from None


def registry_of_key(key: str) -> str:
    """The host[:port] a client contacts for a credential key; InputError for keys that name no host."""
    parsed = client_key(key)
    if parsed is None:
        raise InputError(f"registry key {key!r} is not a URL the kubelet can use")
    if GLOB_CHARS.search(parsed.host):  # the host part, as the keyring reads it ([::1]:5000 is not a pattern)
        raise InputError(f"registry key {key!r} is a wildcard: name a concrete registry to verify it")
    check_port(key, parsed)
    return contactable(parsed.hostport, what=f"registry key {shown(key)}")


def contactable(hostport: str, *, what: str) -> str:
    """`hostport` unchanged when a client can contact it; InputError naming `what` otherwise."""
    try:
        check_hostport(hostport)
    except HostError as exc:
        raise InputError(f"{what} names no host a client can contact: {exc}",
                         hint="use host[:port], for example registry.example.com:5000") from None
    return hostport


def http_url(url: str, *, what: str, base: str | None = None) -> SplitResult:
    """A URL a registry sent (a realm, a redirect relative to `base`), split; HostError naming `what` unless it
    is http(s) to a valid host."""
    try:
        parts = urlsplit(urljoin(base, url) if base is not None else url)
    except ValueError:
        raise HostError(f"{what} {shown(url)} is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise HostError(f"{what} {shown(url)} is not an http(s) URL")
    if "@" in parts.netloc:
        raise HostError(f"{what} carries a user name and password (not shown); refused")
    try:
        check_hostport(parts.netloc)
    except HostError as exc:
        raise HostError(f"{what} {shown(url)} names no valid host: {exc}") from None
    return parts
