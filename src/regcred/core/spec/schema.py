"""The RegistryCredential API defined once, and the JSON Schema and CRD generated from that definition.

The validator in `spec.py` walks the same definition, so the file users point their editor at, the
CustomResourceDefinition the controller will serve, and the CLI's own checks never disagree on a
field name, a type, a default or an enum.
"""

from __future__ import annotations

from typing import Any

from regcred.core.credentials.provider import API_VERSIONS, DEFAULT_API_VERSION, DEFAULT_TIMEOUT, GO_DURATION
from regcred.core.names import DNS1123_LABEL, DNS1123_SUBDOMAIN
from regcred.core.node.runtimes.common import CONTAINERD, CRIO, K3S, RKE2
from regcred.core.spec.schemanodes import Arr, Bool, Node, Obj, Rule, Str, StrMap

GROUP = "regcred.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "RegistryCredential"
PLURAL = "registrycredentials"
SINGULAR = "registrycredential"
SHORT_NAMES = ("regcred",)
SCHEMA_ID = "https://regcred.dev/schemas/registrycredential.v1alpha1.json"

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
DEFAULT_WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
RUNTIMES = (CONTAINERD, CRIO, K3S, RKE2)  # what `regcred node install --runtime` accepts
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
DNS_SUBDOMAIN = f"^{DNS1123_SUBDOMAIN}$"
DNS_LABEL = f"^{DNS1123_LABEL}$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# A namespace or ServiceAccount name, or a glob of one: the characters such names have, `*`, `?`, and
# closed `[...]` / `[!...]` classes (an unclosed '[' or an upper-case letter could never match anything).
NAME_GLOB = r"^([-a-z0-9.*?]|\[!?[-a-z0-9.]+\])+$"
NO_SPACE = r"^\S+$"
ABSOLUTE_PATH = r"^/"
RFC3339 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"


SECRET_KEY_REF = Obj(
    "A key of a Secret in the cluster; read when the spec is planned, applied or rendered.",
    {
        "namespace": Str("Namespace of the Secret.", pattern=DNS_LABEL, max_length=63),
        "name": Str("Name of the Secret.", pattern=DNS_SUBDOMAIN, max_length=253),
        "key": Str("Key in the Secret's data holding the password.", min_length=1),
    },
    required=("namespace", "name", "key"),
)

PASSWORD_FROM = Obj(
    "Where the password comes from; never a literal password. Exactly one of env, file, secretKeyRef.",
    {
        "env": Str("Environment variable of the process running regcred.", pattern=ENV_NAME),
        "file": Str("File holding the password (one trailing newline is dropped).", min_length=1),
        "secretKeyRef": SECRET_KEY_REF,
    },
    one_of=(("env",), ("file",), ("secretKeyRef",)),
)

FROM_SECRET = Obj(
    "An existing kubernetes.io/dockerconfigjson Secret whose registries are all taken over.",
    {
        "namespace": Str("Namespace of the Secret.", pattern=DNS_LABEL, max_length=63),
        "name": Str("Name of the Secret.", pattern=DNS_SUBDOMAIN, max_length=253),
    },
    required=("namespace", "name"),
)

CREDENTIAL_PROVIDER = Obj(
    "A kubelet credential-provider plugin run as the kubelet runs it; the password it returns is short-lived.",
    {
        "command": Str("Absolute path of the plugin executable (run without a shell).", pattern=ABSOLUTE_PATH),
        "args": Arr("Arguments of the plugin.", Str("An argument."), default=()),
        "env": Arr(
            "Variables added to regcred's own environment for the plugin (as the kubelet does).",
            Obj("An environment variable.", {"name": Str("Variable name.", pattern=ENV_NAME),
                                              "value": Str("Value.")}, required=("name", "value")),
            default=(),
        ),
        "apiVersion": Str("Version of CredentialProviderRequest/Response the plugin speaks.", enum=API_VERSIONS,
                          default=DEFAULT_API_VERSION),
        "image": Str("The image asked for (default: the server); its credential is written under the server.",
                     min_length=1, pattern=NO_SPACE),
        "timeout": Str("How long the plugin may run before it is killed (a Go duration).", pattern=GO_DURATION,
                       default=DEFAULT_TIMEOUT),
        "defaultCacheDuration": Str("How long a response without cacheDuration stays valid (a Go duration; "
                                    "default 0: not reused), as in the kubelet's CredentialProviderConfig.",
                                    pattern=GO_DURATION),
    },
    required=("command",),
)

REGISTRY = Obj(
    "One registry credential: server, username and passwordFrom; or fromSecret; or server and credentialProvider.",
    {
        "server": Str("Registry key as the kubelet matches it: host[:port][/path], globs allowed.", min_length=1,
                      pattern=NO_SPACE),
        "username": Str("Registry user name.", min_length=1),
        "passwordFrom": PASSWORD_FROM,
        "email": Str("Optional e-mail (never needed for pulls)."),
        "expiresAt": Str("When the password stops working (RFC 3339; a source Secret's regcred.dev/expires-at "
                         "annotation says the same): the controller warns a week ahead and exports it as a metric.",
                         pattern=RFC3339),
        "fromSecret": FROM_SECRET,
        "credentialProvider": CREDENTIAL_PROVIDER,
    },
    one_of=(("server", "username", "passwordFrom"), ("fromSecret",), ("server", "credentialProvider")),
    rules=(Rule("expiresAt", "only a passwordFrom credential takes expiresAt (a plugin's answer says its own)",
                lambda o: "expiresAt" not in o or "passwordFrom" in o,
                {"if": {"required": ["expiresAt"]}, "then": {"required": ["passwordFrom"]}},
                "!has(self.expiresAt) || has(self.passwordFrom)"),),
)

LABEL_SELECTOR = Obj(
    "A Kubernetes label selector on namespaces.",
    {
        "matchLabels": StrMap("Labels a namespace must carry, with these values."),
        "matchExpressions": Arr(
            "Set-based requirements.",
            Obj(
                "A label selector requirement.",
                {
                    "key": Str("Label key.", min_length=1),
                    "operator": Str("How the key relates to the values.", enum=SELECTOR_OPERATORS),
                    "values": Arr("Values for In and NotIn.", Str("A label value.")),
                },
                required=("key", "operator"),
                rules=(
                    Rule("values", "operator In and NotIn need at least one value",
                         lambda o: o["operator"] not in ("In", "NotIn") or bool(o.get("values")),
                         {"if": {"required": ["operator"], "properties": {"operator": {"enum": ["In", "NotIn"]}}},
                          "then": {"required": ["values"], "properties": {"values": {"minItems": 1}}}},
                         "!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)"),
                    Rule("values", "operator Exists and DoesNotExist take no values",
                         lambda o: o["operator"] not in ("Exists", "DoesNotExist") or not o.get("values"),
                         {"if": {"required": ["operator"],
                                 "properties": {"operator": {"enum": ["Exists", "DoesNotExist"]}}},
                          "then": {"properties": {"values": {"maxItems": 0}}}},
                         "!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) "
                         "|| size(self.values) == 0"),
                ),
            ),
        ),
    },
)

NODES = Obj(
    "Node level: the kubelet's config.json (and runtime configs) on every node.",
    {
        "enabled": Bool("Write the credentials on the nodes.", default=False),
        "rootDir": Str("The kubelet root directory holding config.json.", min_length=1, default="/var/lib/kubelet"),
        "runtimes": Arr("Container runtimes whose own config also gets the credentials (pause image).",
                        Str("A runtime.", enum=RUNTIMES), default=()),
    },
    defaults={"enabled": False, "rootDir": "/var/lib/kubelet", "runtimes": []},
)

NAMESPACES = Obj(
    "Which namespaces get the pull Secret; terminating namespaces are always skipped.",
    {
        "include": Arr("Namespace names or globs (*, ?, [..]).", Str("A name or glob.", pattern=NAME_GLOB),
                       min_items=1, default=("*",)),
        "exclude": Arr("Namespace names or globs never targeted.", Str("A name or glob.", pattern=NAME_GLOB),
                       default=()),
        "selector": LABEL_SELECTOR,
    },
    defaults={"include": ["*"], "exclude": []},
)

WORKLOADS = Obj(
    "Pod templates of workloads get the Secret in imagePullSecrets.",
    {
        "enabled": Bool("Patch workload pod templates.", default=False),
        "kinds": Arr("Workload kinds to patch.", Str("A workload kind.", enum=WORKLOAD_KINDS),
                     default=DEFAULT_WORKLOAD_KINDS),
        "matchRegistries": Bool("Only workloads with an image from a registry of this spec.", default=True),
    },
    defaults={"enabled": False, "kinds": list(DEFAULT_WORKLOAD_KINDS), "matchRegistries": True},
)

SPEC = Obj(
    "Which registries, which credentials, and which targets.",
    {
        "registries": Arr("Registries and where their credentials come from.", REGISTRY, min_items=1),
        "secretName": Str("Name of the pull Secret in each namespace (default: metadata.name).",
                          pattern=DNS_SUBDOMAIN, max_length=253),
        "nodes": NODES,
        "namespaces": NAMESPACES,
        "serviceAccounts": Arr("ServiceAccount names or globs; \"*\" for all.",
                               Str("A name or glob.", pattern=NAME_GLOB), default=("default",)),
        "workloads": WORKLOADS,
        "verifyBeforeRollout": Bool("Check new credentials against the registry (as `regcred verify`) before a "
                                    "namespace's copy of the Secret is replaced; a refused one is not rolled out.",
                                    default=False),
    },
    required=("registries",),
)

METADATA = Obj(
    "Standard object metadata (only the fields regcred reads are checked).",
    {
        "name": Str("Name of the RegistryCredential.", pattern=DNS_SUBDOMAIN, max_length=253),
        "labels": StrMap("Labels."),
        "annotations": StrMap("Annotations."),
    },
    required=("name",),
    open=True,
)

STATUS = Obj("Observed state, written by the controller (read back from the cluster, never checked).", {},
             open=True)

DOCUMENT = Obj(
    "A RegistryCredential: one source of truth for private-registry credentials on every level.",
    {
        "apiVersion": Str("API version.", enum=(API_VERSION,)),
        "kind": Str("Kind.", enum=(KIND,)),
        "metadata": METADATA,
        "spec": SPEC,
        "status": STATUS,
    },
    required=("apiVersion", "kind", "metadata", "spec"),
)


def _json_schema(node: Node, *, crd: bool) -> dict[str, Any]:
    """One node as JSON Schema; `crd` keeps to the structural subset the apiserver accepts."""
    out: dict[str, Any] = {"description": node.description}
    if isinstance(node, Str):
        out["type"] = "string"
        if node.pattern is not None:
            out["pattern"] = node.pattern
        if node.enum is not None:
            out["enum"] = list(node.enum)
        if node.min_length is not None:
            out["minLength"] = node.min_length
        if node.max_length is not None:
            out["maxLength"] = node.max_length
        if node.default is not None:
            out["default"] = node.default
    elif isinstance(node, Bool):
        out["type"] = "boolean"
        if node.default is not None:
            out["default"] = node.default
    elif isinstance(node, Arr):
        out["type"] = "array"
        out["items"] = _json_schema(node.items, crd=crd)
        if node.min_items is not None:
            out["minItems"] = node.min_items
        if node.default is not None:
            out["default"] = list(node.default)
    elif isinstance(node, StrMap):
        out["type"] = "object"
        out["additionalProperties"] = {"type": "string"}
    else:
        out["type"] = "object"
        out["properties"] = {name: _json_schema(child, crd=crd) for name, child in node.fields.items()}
        if node.required:
            out["required"] = list(node.required)
        if node.one_of:
            # Each alternative: its keys, and none of the other alternatives' keys (so {server, fromSecret}
            # is refused even though it completes neither alternative).
            out["oneOf"] = [{"required": list(alt)} for alt in node.one_of]
            for index, alt in enumerate(node.one_of):
                others = sorted({k for j, a in enumerate(node.one_of) if j != index for k in a} - set(alt))
                if others:
                    out["oneOf"][index]["not"] = {"anyOf": [{"required": [k]} for k in others]}
        if node.rules and crd:
            out["x-kubernetes-validations"] = [
                {"rule": r.cel, "message": f"{r.path}: {r.message}" if r.path else r.message} for r in node.rules]
        elif node.rules:
            out["allOf"] = [r.json for r in node.rules]
        if node.open and not node.fields and crd:
            out["x-kubernetes-preserve-unknown-fields"] = True
        if not crd:
            out["additionalProperties"] = node.open
    return out


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a RegistryCredential document, for editors and CI linters."""
    schema = _json_schema(DOCUMENT, crd=False)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": KIND,
        **schema,
    }


# `kubectl get regcred`: the status fields the controller writes (controller/status.py); -o wide adds the rest.
PRINTER_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "Secret", "type": "string", "jsonPath": ".status.secretName",
     "description": "The pull Secret written in every targeted namespace (the spec's name unless secretName)."},
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
     "description": "True once every targeted namespace is in sync for the current generation."},
    {"name": "Targeted", "type": "integer", "jsonPath": ".status.namespacesTargeted",
     "description": "Namespaces the spec selects."},
    {"name": "Synced", "type": "integer", "jsonPath": ".status.secretsInSync",
     "description": "Targeted namespaces whose Secret is in sync."},
    {"name": "Reason", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].reason', "priority": 1,
     "description": "Why Ready is what it is (Converged, Reconciling, Forbidden, ...)."},
    {"name": "Failures", "type": "integer", "jsonPath": ".status.failures", "priority": 1,
     "description": "Namespaces whose last reconcile failed."},
    {"name": "Nodes", "type": "boolean", "jsonPath": ".spec.nodes.enabled", "priority": 1,
     "description": "Whether node-level credentials are enabled."},
    {"name": "Workloads", "type": "boolean", "jsonPath": ".spec.workloads.enabled", "priority": 1,
     "description": "Whether workload pod templates are patched."},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition (apiextensions.k8s.io/v1) serving the same schema, cluster-scoped."""
    spec_schema = _json_schema(SPEC, crd=True)
    status_schema = _json_schema(STATUS, crd=True)
    root = {
        "description": DOCUMENT.description,
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Cluster",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": list(PRINTER_COLUMNS),
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }
