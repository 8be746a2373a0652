"""Bearer-token authentication and a small RBAC-like authorizer.

Why: permission errors are part of the product's UX; the 403 texts differ for create
(no name), cluster scope, named groups and the ``namespaces/<name>`` quirk, and the same
``Rule`` list is turned into real RBAC objects for the envtest tier.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, forbidden, go_quote

# Paths every authenticated user may GET (system:discovery, system:public-info-viewer).
PUBLIC_PREFIXES = ("/api", "/apis", "/version", "/healthz", "/livez", "/readyz", "/openapi")
# Resources every authenticated user may create (system:basic-user).
SELF_REVIEWS = {
    ("authentication.k8s.io", "selfsubjectreviews"),
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
}


@dataclass(frozen=True)
class Rule:
    """verbs x resources x namespaces (None = cluster-wide), optionally limited to names.

    Resources are plurals, ``plural.group`` for named groups (``deployments.apps``),
    ``plural/subresource`` for subresources, or ``*``.
    """

    verbs: tuple[str, ...]
    resources: tuple[str, ...]
    namespaces: tuple[str, ...] | None = None
    names: tuple[str, ...] | None = None

    @classmethod
    def from_policy(cls, rule: dict[str, Any]) -> Rule:
        """An RBAC PolicyRule dict (apiGroups/resources/verbs/resourceNames), plus an optional
        ``namespaces`` list that scopes it like a Role (absent: a ClusterRole)."""
        resources: list[str] = []
        for g in rule.get("apiGroups") or [""]:
            for r in rule.get("resources") or []:
                base, _, sub = r.partition("/")
                name = (base + ".") if (base == "*" and not g) else (f"{base}.{g}" if g else base)
                resources.append(name + (f"/{sub}" if sub else ""))
        ns, names = rule.get("namespaces"), rule.get("resourceNames")
        return cls(tuple(rule.get("verbs") or ()), tuple(resources), None if ns is None else tuple(ns),
                   tuple(names) if names else None)

    def to_policies(self) -> list[dict[str, Any]]:
        """Equivalent RBAC PolicyRules, one per API group (namespaces live in the bindings)."""
        by_group: dict[str, list[str]] = {}
        for g, r in self.split_resources():
            by_group.setdefault(g, []).append(r)
        out = []
        for g, rs in by_group.items():
            rule: dict[str, Any] = {"apiGroups": [g], "resources": rs, "verbs": list(self.verbs)}
            if self.names:
                rule["resourceNames"] = list(self.names)
            out.append(rule)
        return out

    @classmethod
    def of(cls, verbs: Iterable[str], resources: Iterable[str], namespaces: Iterable[str] | None = None,
           names: Iterable[str] | None = None) -> Rule:
        return cls(tuple(verbs), tuple(resources), None if namespaces is None else tuple(namespaces),
                   None if names is None else tuple(names))

    def split_resources(self) -> list[tuple[str, str]]:
        """(group, resource) pairs; ``*`` stays ``("*", "*")``."""
        out = []
        for r in self.resources:
            if r == "*":
                out.append(("*", "*"))
                continue
            base, _, sub = r.partition("/")
            plural, _, group = base.partition(".")
            out.append((group, plural + (f"/{sub}" if sub else "")))
        return out


@dataclass
class User:
    name: str
    token: str
    groups: tuple[str, ...] = ("system:authenticated",)
    rules: tuple[Rule, ...] | None = None  # None: cluster-admin (system:masters)

    @property
    def is_admin(self) -> bool:
        return self.rules is None


@dataclass
class Attributes:
    """authorizer.Attributes derived from a request (RequestInfo)."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    resource_request: bool = True


@dataclass
class Authenticator:
    users: dict[str, User] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0

    def add(self, name: str | None, rules: Iterable[Rule] | None, token: str | None = None,
            groups: Iterable[str] = ()) -> User:
        with self.lock:
            if name is None:
                self.counter += 1
                name = f"regcred-user-{self.counter:02d}"
            user = User(
                name=name,
                token=token or secrets.token_hex(16),
                groups=(*groups, "system:authenticated"),
                rules=None if rules is None else tuple(rules),
            )
            self.users[user.token] = user
            return user

    def authenticate(self, header: str | None) -> User | None:
        if not header or not header.startswith("Bearer "):
            return None
        return self.users.get(header[len("Bearer "):].strip())


def allowed(user: User, a: Attributes) -> bool:
    if user.is_admin:
        return True
    if not a.resource_request:
        return a.verb == "get" and any(a.path == p or a.path.startswith(p + "/") for p in PUBLIC_PREFIXES)
    if a.verb == "create" and (a.group, a.resource) in SELF_REVIEWS:
        return True
    resource = a.resource + (f"/{a.subresource}" if a.subresource else "")
    for rule in user.rules or ():
        if "*" not in rule.verbs and a.verb not in rule.verbs:
            continue
        if rule.namespaces is not None and a.namespace not in rule.namespaces:
            continue
        if rule.names is not None and a.name not in rule.names:
            continue
        for group, res in rule.split_resources():
            if (group == "*" or group == a.group) and (res == "*" or res == resource):
                return True
    return False


def forbidden_error(user: User, a: Attributes) -> ApiError:
    """The 403 the RBAC authorizer produces for a denied request."""
    if not a.resource_request:
        msg = f'forbidden: User "{user.name}" cannot {a.verb} path {go_quote(a.path)}'
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": msg,
                "reason": "Forbidden", "details": {}, "code": 403}
        return ApiError(403, body, {"X-Content-Type-Options": "nosniff"})
    resource = a.resource + (f"/{a.subresource}" if a.subresource else "")
    scope = f"in the namespace {go_quote(a.namespace)}" if a.namespace else "at the cluster scope"
    err = (f'User "{user.name}" cannot {a.verb} resource {go_quote(resource)} in API group '
           f"{go_quote(a.group)} {scope}")
    return forbidden(a.resource, a.group, a.name, err)
