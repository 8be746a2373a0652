"""Registry keys as the kubelet indexes them: `https://` prefixed, parsed like Go's url.Parse, `/v1/` `/v2/` stripped.

A key Go's url.Parse rejects (bad port, a space in the host, a bad %-escape, a control character) is
skipped by the kubelet; `parse_schemeless` returns None for it so callers can say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

from regcred.core.errors import InputError

# Characters Go accepts unescaped in a URL host (net/url shouldEscape in encodeHost mode), plus '%'.
# Go checks only ASCII bytes there: non-ASCII host characters (UTF-8 bytes >= 0x80) are accepted.
_HOST_OK = re.compile(r"\A(?:[A-Za-z0-9\-_.~!$&'()*+,;=:\[\]<>\"%]|[^\x00-\x7f])*\Z")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# In a host, %-escapes may only encode non-ASCII bytes (first hex digit >= 8), except %25 (RFC 6874 zones).
_ASCII_HOST_ESCAPE = re.compile(r"%(?!25)[0-7][0-9A-Fa-f]")
# Go's validUserinfo: the characters allowed before '@'.
_USERINFO_OK = re.compile(r"\A[A-Za-z0-9\-._:~!$&'()*+,;=%@]*\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
GLOB_CHARS = re.compile(r"[*?\[\\]")  # path.Match metacharacters: a key's host with one is a pattern
DOCKER_HUB_API_HOST = "registry-1.docker.io"  # what clients contact for Docker Hub
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", DOCKER_HUB_API_HOST})


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """Go's url.Host (`hostport`), its net.SplitHostPort halves, and the decoded path."""

    hostport: str
    host: str
    port: str
    path: str


def split_host_port(hostport: str) -> tuple[str, str]:
    """net.SplitHostPort, with the kubelet's fallback: on error the whole string is the host, port ''."""
    if hostport.startswith("["):
        end = hostport.find("]")
        rest = hostport[end + 1 :] if end != -1 else ""
        if end != -1 and rest.startswith(":") and ":" not in rest[1:]:
            return hostport[1:end], rest[1:]
        return hostport, ""
    head, sep, port = hostport.rpartition(":")
    if not sep or ":" in head:
        return hostport, ""
    return head, port


def _valid_port(authority: str) -> bool:
    """Go's validOptionalPort on what follows the host: '' or ':' followed by digits only."""
    if authority.startswith("["):
        end = authority.find("]")
        if end == -1:
            return False
        tail = authority[end + 1 :]
    else:
        colon = authority.find(":")
        tail = "" if colon == -1 else authority[colon:]
        if tail.count(":") > 1:
            return False
    return tail == "" or (tail[0] == ":" and (tail[1:] == "" or tail[1:].isdigit()))


@lru_cache(maxsize=65536)
def parse_schemeless(location: str) -> ParsedKey | None:
    """Go's ParseSchemelessURL + url.Parse: None wherever Go would return an error."""
    if _CONTROL.search(location):
        return None
    url = location if location.startswith(("https://", "http://")) else "https://" + location
    rest, _, fragment = url.split("://", 1)[1].partition("#")
    rest = rest.split("?", 1)[0]
    slash = rest.find("/")
    authority, path = (rest, "") if slash == -1 else (rest[:slash], rest[slash:])
    userinfo, at, authority = authority.rpartition("@")
    if at and (not _USERINFO_OK.match(userinfo) or _BAD_ESCAPE.search(userinfo)):
        return None
    if not _HOST_OK.match(authority) or _BAD_ESCAPE.search(authority) or _BAD_ESCAPE.search(path):
        return None
    if _ASCII_HOST_ESCAPE.search(authority) or _BAD_ESCAPE.search(fragment):
        return None
    if not _valid_port(authority):
        return None
    hostport = unquote(authority)
    host, port = split_host_port(hostport)
    return ParsedKey(hostport=hostport, host=host, port=port, path=unquote(path))


def index_key(location: str) -> str | None:
    """The kubelet's index key for a key as written: url.Host plus the path without a leading /v1 or /v2."""
    parsed = parse_schemeless(location)
    if parsed is None:
        return None
    path = parsed.path
    if path.startswith(("/v2/", "/v1/")):
        path = path[3:]
    return parsed.hostport + path if path and path != "/" else parsed.hostport


def client_key(key: str) -> ParsedKey | None:
    """A credential key as a client contacts it: None when it names no host; Docker Hub's names become its API host."""
    normal = index_key(key)
    parsed = parse_schemeless(normal) if normal is not None else None
    if parsed is None or not parsed.hostport:
        return None
    if parsed.hostport in DOCKER_HUB_HOSTS:
        return ParsedKey(DOCKER_HUB_API_HOST, DOCKER_HUB_API_HOST, "", parsed.path)
    return parsed


class InvalidRegistryKey(InputError):
    """The registry key itself is bad (its message already names it)."""


def check_port(key: str, parsed: ParsedKey) -> None:
    """Go's url.Parse takes any digits as a port, but no client reaches `r.io:99999`: refuse it as input,
    not later as a DNS or connection failure."""
    if parsed.port and (len(parsed.port) > 5 or not 0 < int(parsed.port) < 65536):
        raise InvalidRegistryKey(f"invalid registry key {key!r}: port {parsed.port} is out of range (1-65535)",
                                 hint="use host[:port][/path], for example registry.example.com:5000")


def validate_server(server: str) -> str:
    """A registry key the kubelet can index; anything Go's url.Parse rejects is refused up front."""
    if not server or server.strip() != server:
        raise InvalidRegistryKey(f"invalid registry key {server!r}: empty or surrounded by spaces")
    parsed = parse_schemeless(server)
    if parsed is None or index_key(server) is None:
        raise InvalidRegistryKey(
            f"invalid registry key {server!r}: the kubelet cannot parse it as a URL and would ignore it",
            hint="use host[:port][/path], for example registry.example.com:5000",
        )
    check_port(server, parsed)
    return server
