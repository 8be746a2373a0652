"""RegistryCredential documents: typed, validated, with one message per problem (where, and what is wrong).

Structure (types, unknown fields, required fields, enums, patterns) is checked by walking the one
definition in `specschema`, the same one the JSON Schema and the CRD come from; the rules JSON Schema
cannot say (a registry key the kubelet would skip, a duplicate server, a bad glob) are checked here.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from regcred.core.credentials.provider import GO_DURATION, CredentialProvider
from regcred.core.credentials.registrykey import index_key
from regcred.core.errors import InputError
from regcred.core.spec.expiry import static_expiry
from regcred.core.spec.providerspec import provider_from_spec
from regcred.core.spec.schema import (
    ABSOLUTE_PATH,
    API_VERSION,
    DEFAULT_WORKLOAD_KINDS,
    DNS_LABEL,
    DNS_SUBDOMAIN,
    DOCUMENT,
    ENV_NAME,
    KIND,
    NAME_GLOB,
    NO_SPACE,
    RFC3339,
)
from regcred.core.spec.schemanodes import Arr, Bool, Node, Obj, Str, StrMap

PATTERN_RULES = {
    NAME_GLOB: "is not a name or glob of lowercase letters, digits, '-', '.', '*', '?' and closed [...] classes",
    NO_SPACE: "must not contain spaces",
    DNS_SUBDOMAIN: "is not a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.', alphanumeric at both ends)",
    DNS_LABEL: "is not a lowercase RFC 1123 label (a-z, 0-9 and '-', alphanumeric at both ends)",
    ENV_NAME: "is not an environment variable name (letters, digits and '_', not starting with a digit)",
    GO_DURATION: "is not a Go duration (for example 10s, 1m30s or 12h)",
    RFC3339: "is not an RFC 3339 time (for example 2027-01-31T00:00:00Z)",
    ABSOLUTE_PATH: "is not an absolute path",
}


class SpecInvalid(InputError):
    """One or more problems in RegistryCredential documents; each problem is one line."""

    def __init__(self, problems: Sequence[str]) -> None:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class SecretKeyRef:
    namespace: str
    name: str
    key: str


@dataclass(frozen=True, slots=True)
class PasswordFrom:
    """Exactly one of env, file, secretKeyRef is set."""

    env: str | None = None
    file: str | None = None
    secret_key_ref: SecretKeyRef | None = None

    def describe(self) -> str:
        if self.env is not None:
            return f"env {self.env}"
        if self.file is not None:
            return f"file {self.file}"
        ref = self.secret_key_ref
        assert ref is not None
        return f"secret {ref.namespace}/{ref.name} key {ref.key}"


@dataclass(frozen=True, slots=True)
class SecretRef:
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class Registry:
    """One `spec.registries[]` item: a server credential, a whole existing pull Secret, or a plugin's credential."""

    path: str  # where it is in the document, for messages
    server: str | None = None
    username: str | None = None
    password_from: PasswordFrom | None = None
    email: str = ""
    from_secret: SecretRef | None = None
    credential_provider: CredentialProvider | None = None
    expires_at: float | None = None  # the static password's expiresAt (Unix time)


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Kubernetes label-selector semantics (all requirements must hold)."""
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        for req in self.match_expressions:
            present = req.key in labels
            if req.operator == "In" and (not present or labels[req.key] not in req.values):
                return False
            if req.operator == "NotIn" and present and labels[req.key] in req.values:
                return False
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
        return True

    def to_query(self) -> str:
        """The selector as a labelSelector query string."""
        parts = [f"{k}={v}" for k, v in self.match_labels]
        for req in self.match_expressions:
            if req.operator in ("In", "NotIn"):
                parts.append(f"{req.key} {req.operator.lower()} ({','.join(req.values)})")
            elif req.operator == "Exists":
                parts.append(req.key)
            else:
                parts.append(f"!{req.key}")
        return ",".join(parts)


@dataclass(frozen=True, slots=True)
class NodeTargets:
    enabled: bool
    root_dir: str
    runtimes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NamespaceTargets:
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    selector: LabelSelector | None

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        """Is a namespace with this name and these labels a target (phase is the caller's business)?"""
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in self.include):
            return False
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.exclude):
            return False
        return self.selector is None or self.selector.matches(labels)


@dataclass(frozen=True, slots=True)
class WorkloadTargets:
    enabled: bool
    kinds: tuple[str, ...]
    match_registries: bool


@dataclass(frozen=True, slots=True)
class RegistryCredential:
    """A validated RegistryCredential document, defaults filled in."""

    name: str
    source: str  # "file.yaml: document 2", for messages
    registries: tuple[Registry, ...]
    secret_name: str
    nodes: NodeTargets
    namespaces: NamespaceTargets
    service_accounts: tuple[str, ...]
    workloads: WorkloadTargets
    verify_before_rollout: bool = False  # a copy is replaced only by credentials the registry accepts

    def wants_service_account(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.service_accounts)

    def servers(self) -> tuple[str, ...]:
        return tuple(r.server for r in self.registries if r.server is not None)


def _type_name(value: Any) -> str:
    names = ((bool, "a boolean"), (int | float, "a number"), (str, "a string"), (list, "a list"), (dict, "a mapping"))
    return "null" if value is None else next((n for t, n in names if isinstance(value, t)), type(value).__name__)


def check_structure(node: Node, value: Any, path: str) -> list[str]:
    """Every structural problem of `value` against the definition, as 'path: what is wrong'."""
    problems: list[str] = []
    if isinstance(node, Str):
        if not isinstance(value, str):
            return [f"{path}: must be a string, not {_type_name(value)}"]
        if node.enum is not None and value not in node.enum:
            problems.append(f"{path}: {value!r} is not one of {', '.join(node.enum)}")
        elif node.min_length is not None and len(value) < node.min_length:
            problems.append(f"{path}: must not be empty")
        elif node.max_length is not None and len(value) > node.max_length:
            problems.append(f"{path}: longer than {node.max_length} characters")
        elif node.pattern is not None and not re.search(node.pattern, value):
            # an env "name" that is no name may be the password itself: never echoed
            shown = "the value (not shown)" if node.pattern == ENV_NAME else repr(value)
            problems.append(f"{path}: {shown} {PATTERN_RULES.get(node.pattern, 'does not match ' + node.pattern)}")
    elif isinstance(node, Bool):
        if not isinstance(value, bool):
            problems.append(f"{path}: must be true or false, not {_type_name(value)}")
    elif isinstance(node, StrMap):
        if not isinstance(value, dict):
            return [f"{path}: must be a mapping, not {_type_name(value)}"]
        problems += [f"{path}.{k}: must be a string, not {_type_name(v)}" for k, v in value.items()
                     if not isinstance(v, str)]
    elif isinstance(node, Arr):
        if not isinstance(value, list):
            return [f"{path}: must be a list, not {_type_name(value)}"]
        if node.min_items is not None and len(value) < node.min_items:
            problems.append(f"{path}: needs at least {node.min_items} item(s)")
        for i, item in enumerate(value):
            problems += check_structure(node.items, item, f"{path}[{i}]")
    else:
        problems += _check_object(node, value, path)
    return problems


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _at(path: str) -> str:
    return f"{path}: " if path else ""


def _check_object(node: Obj, value: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{_at(path) or 'the document: '}must be a mapping, not {_type_name(value)}"]
    problems = [f"{_at(path)}unknown field {key!r} (known: {', '.join(node.fields)})"
                for key in value if key not in node.fields and not node.open]
    problems += [f"{_join(path, key)}: required field is missing" for key in node.required if key not in value]
    if node.one_of:
        own = [set(alt) - {k for j, other in enumerate(node.one_of) if j != i for k in other}
               for i, alt in enumerate(node.one_of)]
        present = [alt for alt, keys in zip(node.one_of, own, strict=True) if any(k in value for k in keys or alt)]
        present = present or [alt for alt in node.one_of if any(k in value for k in alt)][:1]  # the first it starts
        names = " | ".join("+".join(alt) for alt in node.one_of)
        stray = present and any(k in value and k not in present[0] for alt in node.one_of for k in alt)
        if len(present) != 1 or stray:
            what = "none is given" if not present else "more than one is given"
            problems.append(f"{_at(path)}give exactly one of {names} ({what})")
        else:
            problems += [f"{_join(path, key)}: required field is missing" for key in present[0] if key not in value]
    for key, child in node.fields.items():
        if key in value:
            problems += check_structure(child, value[key], _join(path, key))
    if not problems:  # the rules between fields read a structurally valid object
        problems += [f"{_join(path, rule.path) if rule.path else path}: {rule.message}"
                     for rule in node.rules if not rule.check(value)]
    return problems


def _registry(item: dict[str, Any], path: str) -> tuple[Registry, list[str]]:
    if "fromSecret" in item:
        ref = item["fromSecret"]
        return Registry(path, from_secret=SecretRef(ref["namespace"], ref["name"])), []
    problems: list[str] = []
    server = item["server"]
    if server.strip() != server or not index_key(server):
        problems.append(f"{path}.server: {server!r} is not a registry key the kubelet can parse "
                        "(use host[:port][/path], for example registry.example.com:5000)")
    if "credentialProvider" in item:
        provider, found = provider_from_spec(item["credentialProvider"], server, f"{path}.credentialProvider")
        return Registry(path, server, email=item.get("email", ""), credential_provider=provider), problems + found
    source = item["passwordFrom"]
    ref = source.get("secretKeyRef")
    password_from = PasswordFrom(
        env=source.get("env"),
        file=source.get("file"),
        secret_key_ref=SecretKeyRef(ref["namespace"], ref["name"], ref["key"]) if ref else None,
    )
    expires_at, found = static_expiry(item.get("expiresAt"), f"{path}.expiresAt")
    return Registry(path, server, item["username"], password_from, item.get("email", ""),
                    expires_at=expires_at), problems + found


def _selector(raw: dict[str, Any] | None) -> LabelSelector | None:
    """The typed selector (its rules were checked with the structure)."""
    if raw is None:
        return None
    requirements = tuple(Requirement(expr["key"], expr["operator"], tuple(expr.get("values") or ()))
                         for expr in raw.get("matchExpressions") or [])
    labels = tuple(sorted((raw.get("matchLabels") or {}).items()))
    return LabelSelector(labels, requirements)


def parse_document(doc: Any, source: str) -> RegistryCredential:
    """Validate one document and build the typed spec; SpecInvalid lists every problem found."""
    problems = [f"{source}: {p}" for p in check_structure(DOCUMENT, doc, "")]
    if problems:
        raise SpecInvalid(problems)
    spec = doc["spec"]
    name = doc["metadata"]["name"]
    local: list[str] = []
    registries = []
    for i, item in enumerate(spec["registries"]):
        registry, found = _registry(item, f"spec.registries[{i}]")
        registries.append(registry)
        local += found
    seen: dict[str, str] = {}
    for registry in registries:
        if registry.server is None:
            continue
        key = index_key(registry.server) or registry.server
        if key in seen:
            local.append(f"{registry.path}.server: {registry.server!r} is the same registry as {seen[key]}")
        seen.setdefault(key, f"{registry.path}.server")
    namespaces = spec.get("namespaces") or {}
    nodes = spec.get("nodes") or {}
    workloads = spec.get("workloads") or {}
    selector = _selector(namespaces.get("selector"))
    include = tuple(namespaces.get("include", ["*"]))
    exclude = tuple(namespaces.get("exclude", []))
    accounts = tuple(spec.get("serviceAccounts", ["default"]))
    if local:
        raise SpecInvalid([f"{source}: {p}" for p in local])
    return RegistryCredential(
        name=name,
        source=source,
        registries=tuple(registries),
        secret_name=spec.get("secretName", name),
        nodes=NodeTargets(bool(nodes.get("enabled", False)), nodes.get("rootDir", "/var/lib/kubelet"),
                          tuple(nodes.get("runtimes", ()))),
        namespaces=NamespaceTargets(include, exclude, selector),
        service_accounts=accounts,
        workloads=WorkloadTargets(
            bool(workloads.get("enabled", False)),
            tuple(dict.fromkeys(workloads.get("kinds", DEFAULT_WORKLOAD_KINDS))),
            bool(workloads.get("matchRegistries", True)),
        ),
        verify_before_rollout=bool(spec.get("verifyBeforeRollout", False)),
    )


def is_registry_credential(doc: Any) -> bool:
    """Does a YAML document claim to be a RegistryCredential (by kind, any apiVersion)?"""
    return isinstance(doc, dict) and doc.get("kind") == KIND


def parse_documents(docs: Iterable[tuple[Any, str]]) -> list[RegistryCredential]:
    """Validate several documents together: each alone, then the rules between them."""
    problems: list[str] = []
    specs: list[RegistryCredential] = []
    for doc, source in docs:
        if isinstance(doc, dict) and doc.get("kind") == KIND and doc.get("apiVersion") != API_VERSION:
            problems.append(f"{source}: apiVersion: {doc.get('apiVersion')!r} is not supported (use {API_VERSION})")
            continue
        try:
            specs.append(parse_document(doc, source))
        except SpecInvalid as exc:
            problems += exc.problems
    problems += conflicts(specs)
    if problems:
        raise SpecInvalid(problems)
    return specs


def _registry_identity(spec: RegistryCredential) -> tuple[str, ...]:
    return tuple(sorted(repr((r.server, r.username, r.password_from, r.email, r.from_secret, r.credential_provider,
                              r.credential_provider and r.credential_provider.env))  # compared, never shown
                        for r in spec.registries))


def conflicts(specs: Sequence[RegistryCredential]) -> list[str]:
    """Two documents with one name, or one Secret name with different registries: an error, never a merge."""
    problems: list[str] = []
    by_name: dict[str, RegistryCredential] = {}
    by_secret: dict[str, RegistryCredential] = {}
    for spec in specs:
        first = by_name.setdefault(spec.name, spec)
        if first is not spec:
            problems.append(f"{spec.source}: metadata.name: {spec.name!r} is also the name of {first.source}")
            continue
        other = by_secret.setdefault(spec.secret_name, spec)
        if other is not spec and _registry_identity(other) != _registry_identity(spec):
            problems.append(
                f"{spec.source}: spec.secretName: {spec.name!r} and {other.name!r} ({other.source}) both write "
                f"Secret {spec.secret_name!r} with different registries (give one of them another secretName)"
            )
    return problems
