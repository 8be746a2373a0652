"""What a credential check found, and the rules that turn HTTP outcomes into one clear reason.

The registry shell performs the requests; this module decides what they mean: which status means bad
credentials or an unknown repository, whether a granted token carries push rights (a pull credential
should be read-only, see peers.md on Harbor robot accounts), and when the token expires. JWT payloads
are decoded *without* verification, only to read `exp` and `access`; the token itself is never kept.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from regcred.core.credentials.imageref import (  # the reference grammar
    DIGEST_PATTERN,
    PATH_PATTERN,
    TAG_PATTERN,
    names_a_registry,
)
from regcred.core.credentials.registrykey import (
    DOCKER_HUB_API_HOST,
    DOCKER_HUB_HOSTS,
    GLOB_CHARS,
    check_port,
    client_key,
)
from regcred.core.errors import InputError

DEFAULT_TAG = "latest"


@dataclass(frozen=True, slots=True)
class RepositoryRef:
    """A repository path on one registry and the tag or digest whose manifest is checked."""

    path: str
    reference: str = DEFAULT_TAG
    registry: str | None = None  # None: applies to every registry verified
    by_digest: bool = False

    @property
    def label(self) -> str:
        """How the repository is named in results (`team/app:v1`, `team/app@sha256:…`)."""
        return f"{self.path}{'@' if self.by_digest else ':'}{self.reference}"


def parse_repository_option(value: str) -> RepositoryRef:
    """`REPO[:TAG]`, `REPO@DIGEST` or `HOST/REPO[:TAG]` (a first component that names a registry, as in images)."""
    text = value.strip()
    if not text or any(c.isspace() for c in text):
        raise InputError(f"invalid --repository {value!r}", hint="use REPO[:TAG] such as team/app:v1")
    registry: str | None = None
    first, sep, rest = text.partition("/")
    if sep and names_a_registry(first):
        registry, text = first, rest
    by_digest = "@" in text
    if by_digest:
        path, _, reference = text.partition("@")
    else:
        path, colon, tag = text.rpartition(":")
        if not colon or "/" in tag:
            path, reference = text, DEFAULT_TAG
        else:
            reference = tag
    reference_ok = (DIGEST_PATTERN if by_digest else TAG_PATTERN).fullmatch(reference) is not None
    if not PATH_PATTERN.fullmatch(path) or not reference_ok:
        raise InputError(f"invalid --repository {value!r}",
                         hint="use REPO[:TAG] or REPO@DIGEST such as team/app:v1 (lower-case repository names)")
    if registry in DOCKER_HUB_HOSTS:
        registry = DOCKER_HUB_API_HOST
        if "/" not in path:
            path = f"library/{path}"
    return RepositoryRef(path, reference, registry, by_digest)


def registry_of_key(key: str) -> str:
    """The host[:port] a client contacts for a credential key; InputError for keys that name no host."""
    parsed = client_key(key)
    if parsed is None:
        raise InputError(f"registry key {key!r} is not a URL the kubelet can use")
    if GLOB_CHARS.search(parsed.host):  # the host part, as the keyring reads it ([::1]:5000 is not a pattern)
        raise InputError(f"registry key {key!r} is a wildcard: name a concrete registry to verify it")
    check_port(key, parsed)
    return parsed.hostport


# --- HTTP outcomes --------------------------------------------------------------------------------------


def status_reason(status: int, *, what: str) -> str:
    """One line for a failed registry answer; `what` names the request ("login", "manifest team/app:v1")."""
    if status == 401:
        return f"{what}: 401 unauthorized: the registry rejected the credentials"
    if status == 403:
        return f"{what}: 403 denied: the credentials are valid but not allowed this access"
    if status == 404:
        return f"{what}: 404 not found: repository or tag unknown"
    if status == 429:
        return f"{what}: 429 too many requests: rate limited, retry later"
    if 500 <= status < 600:
        return f"{what}: {status} server error at the registry"
    return f"{what}: unexpected HTTP status {status}"


# --- tokens ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a token reply told us: the JWT claims we need, never the token itself."""

    expires_in: int | None
    issued_at: str | None
    jwt_exp: int | None
    access: tuple[tuple[str, str, frozenset[str]], ...] | None  # None: not a JWT, access unknown

    def actions_for(self, repository: str) -> frozenset[str] | None:
        """Actions granted on `repository`; None when the token is opaque."""
        if self.access is None:
            return None
        granted: set[str] = set()
        for typ, name, actions in self.access:
            if typ == "repository" and name == repository:
                granted |= actions
        if "*" in granted:  # Harbor and distribution grant "*" for every action (push included)
            granted |= {"pull", "push"}
        return frozenset(granted)


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_jwt_payload(token: str) -> dict[str, Any] | None:
    """The claims of a compact JWS, unverified; None when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return None
    try:
        payload = json.loads(_b64url_decode(parts[1]))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _access_claim(claims: dict[str, Any]) -> tuple[tuple[str, str, frozenset[str]], ...]:
    entries = claims.get("access")
    result: list[tuple[str, str, frozenset[str]]] = []
    if isinstance(entries, list):
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            actions = entry.get("actions")
            names = frozenset(a for a in actions if isinstance(a, str)) if isinstance(actions, list) else frozenset()
            result.append((str(entry.get("type", "")), str(entry.get("name", "")), names))
    return tuple(result)


class TokenReplyError(ValueError):
    """A token endpoint reply that is not the documented JSON; the message never quotes the body."""


def read_token_reply(body: bytes) -> tuple[str, TokenGrant]:
    """(token, grant) from a token endpoint body; TokenReplyError when it is not usable JSON."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise TokenReplyError("token endpoint replied with something that is not JSON") from None
    if not isinstance(data, dict):
        raise TokenReplyError("token endpoint reply is JSON but not an object")
    token = data.get("token") or data.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenReplyError("token endpoint reply has no 'token' or 'access_token'")
    expires_in = data.get("expires_in")
    issued_at = data.get("issued_at")
    claims = decode_jwt_payload(token)
    exp = claims.get("exp") if claims is not None else None
    grant = TokenGrant(
        expires_in=int(expires_in) if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) else None,
        issued_at=issued_at if isinstance(issued_at, str) else None,
        jwt_exp=int(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None,
        access=_access_claim(claims) if claims is not None else None,
    )
    return token, grant


def expires_at(grant: TokenGrant, now: dt.datetime) -> str | None:
    """When the token expires (UTC, RFC 3339): JWT `exp` if present, else issued_at/now + expires_in."""
    if grant.jwt_exp is not None:
        moment = dt.datetime.fromtimestamp(grant.jwt_exp, dt.UTC)
    elif grant.expires_in is not None:
        start = now
        if grant.issued_at:
            try:
                start = dt.datetime.fromisoformat(grant.issued_at.replace("Z", "+00:00"))
            except ValueError:
                start = now
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
        moment = start + dt.timedelta(seconds=grant.expires_in)
    else:
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- results --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class CheckResult:
    """Everything one (registry, credential) check found; rendered once per registry key."""

    registry: str
    reachable: bool = False
    tls: bool | None = None  # None: plain HTTP
    scheme: str | None = None  # "basic", "bearer", "none"
    login: bool = False
    pull: dict[str, bool] = field(default_factory=dict)
    push_granted: bool | None = None
    expires_in: int | None = None
    expires_at: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def over_privileged(self) -> bool:
        """A pull credential that may push is a risk (least privilege)."""
        return self.push_granted is True

    @property
    def ok(self) -> bool:
        return self.login and not self.errors and all(self.pull.values()) and not self.over_privileged

    def error_line(self) -> str | None:
        lines = list(self.errors)
        if self.over_privileged:
            lines.append("over-privileged: push is granted, a pull credential should be read-only")
        return "; ".join(lines) if lines else None


def result_json(key: str, result: CheckResult) -> dict[str, Any]:
    """The stable JSON shape of one verified registry key."""
    return {
        "key": key,
        "registry": result.registry,
        "ok": result.ok,
        "login": result.login,
        "pull": dict(result.pull),
        "push_granted": result.push_granted,
        "expires_at": result.expires_at,
        "error": result.error_line(),
        "reachable": result.reachable,
        "tls": result.tls,
        "scheme": result.scheme,
        "expires_in": result.expires_in,
        "over_privileged": result.over_privileged,
    }


@dataclass(frozen=True, slots=True)
class Target:
    """One (registry, credential) pair to verify, with the repositories whose pull must be authorised."""

    registry: str
    username: str
    password: str = field(repr=False)
    repositories: tuple[RepositoryRef, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """A credential as found under a registry key, and the repositories it should be able to pull."""

    key: str
    username: str
    password: str = field(repr=False)
    repositories: tuple[RepositoryRef, ...] = ()
    source: str = ""
    registry: str | None = None  # the host to contact when the key alone does not say (a wildcard key)


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """One output row: the key, its registry, and the target that answers it (or why there is none)."""

    request: CheckRequest
    registry: str
    target: int | None
    error: str | None = None


def plan_checks(requests: Iterable[CheckRequest]) -> tuple[list[Target], list[PlannedRow]]:
    """Each distinct (registry, username, password) is checked once, with the union of its repositories."""
    index: dict[tuple[str, str, str], int] = {}
    repos: list[list[RepositoryRef]] = []
    heads: list[tuple[str, str, str]] = []
    rows: list[PlannedRow] = []
    for request in requests:
        try:
            registry = request.registry or registry_of_key(request.key)
        except InputError as exc:
            rows.append(PlannedRow(request, request.key, None, exc.message))
            continue
        if not request.username and not request.password:
            rows.append(PlannedRow(request, registry, None, "the entry holds no username or password"))
            continue
        ident = (registry, request.username, request.password)
        slot = index.get(ident)
        if slot is None:
            slot = index[ident] = len(heads)
            heads.append(ident)
            repos.append([])
        for ref in request.repositories:
            if ref not in repos[slot]:
                repos[slot].append(ref)
        rows.append(PlannedRow(request, registry, slot))
    targets = [Target(r, u, p, tuple(rs)) for (r, u, p), rs in zip(heads, repos, strict=True)]
    return targets, rows


def row_json(row: PlannedRow, results: list[CheckResult]) -> dict[str, Any]:
    """A planned row rendered with the result of its target (or its planning error)."""
    if row.target is None:
        failed = CheckResult(registry=row.registry, errors=[row.error or "not verifiable"])
        return result_json(row.request.key, failed)
    data = result_json(row.request.key, results[row.target])
    wanted = {ref.label for ref in row.request.repositories}
    if wanted != set(data["pull"]):
        data["pull"] = {label: ok for label, ok in data["pull"].items() if label in wanted}
    return data


def repositories_for(registry: str, refs: Iterable[RepositoryRef]) -> list[RepositoryRef]:
    """The --repository values that apply to one registry (unqualified ones apply everywhere)."""
    seen: set[tuple[str, str]] = set()
    chosen: list[RepositoryRef] = []
    for ref in refs:
        if ref.registry is not None and ref.registry != registry:
            continue
        if registry == DOCKER_HUB_API_HOST and "/" not in ref.path:
            ref = replace(ref, path=f"library/{ref.path}")  # `nginx` is `library/nginx` on Docker Hub
        if (ref.path, ref.reference) not in seen:
            seen.add((ref.path, ref.reference))
            chosen.append(ref)
    return chosen
