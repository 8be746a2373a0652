"""Request-body decoding with the apiserver's 400s, type errors and unknown-field warnings.

Why: the apiserver decodes into Go structs, so wrong JSON types, bad base64 in Secret data
and unknown fields surface as specific 400s/warnings before any validation runs.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from . import crd
from .errors import ApiError, FieldError, bad_request, invalid
from .gojson import Base64Error, b64decode, go_kind, syntax_error
from .resources import ResourceType


@dataclass
class T:
    """Expected JSON shape of a field: kind is object/map/array/string/int/bool/b64."""

    kind: str
    go: str
    struct: str = ""
    fields: dict[str, T] = field(default_factory=dict)
    item: T | None = None


S = T("string", "string")
B = T("bool", "bool")
_META = T("object", "v1.ObjectMeta", "ObjectMeta", {
    "name": S, "generateName": S, "namespace": S, "uid": T("string", "types.UID"), "resourceVersion": S,
    "generation": T("int", "int64"), "labels": T("map", "map[string]string", item=S),
    "annotations": T("map", "map[string]string", item=S), "finalizers": T("array", "[]string", item=S),
    "deletionGracePeriodSeconds": T("int", "int64"),
})
_LOR = T("object", "v1.LocalObjectReference", "LocalObjectReference", {"name": S})
_IPS = T("array", "[]v1.LocalObjectReference", item=_LOR)
_CONTAINER = T("object", "v1.Container", "Container", {"name": S, "image": S})
_PODSPEC = T("object", "v1.PodSpec", "PodSpec", {
    "containers": T("array", "[]v1.Container", item=_CONTAINER),
    "initContainers": T("array", "[]v1.Container", item=_CONTAINER),
    "imagePullSecrets": _IPS, "serviceAccountName": S, "serviceAccount": S,
    "automountServiceAccountToken": B,
})
_TEMPLATE = T("object", "v1.PodTemplateSpec", "PodTemplateSpec", {"metadata": _META, "spec": _PODSPEC})


def _workload(kind: str, group: str) -> T:
    spec = T("object", f"v1.{kind}Spec", f"{kind}Spec", {
        "replicas": T("int", "int32"), "template": _TEMPLATE,
        "selector": T("object", "v1.LabelSelector", "LabelSelector", {
            "matchLabels": T("map", "map[string]string", item=S)}),
    })
    return T("object", kind, kind, {"metadata": _META, "spec": spec})


TYPES: dict[str, T] = {
    "Namespace": T("object", "Namespace", "Namespace", {"metadata": _META, "spec": T(
        "object", "v1.NamespaceSpec", "NamespaceSpec", {"finalizers": T("array", "[]v1.FinalizerName", item=S)})}),
    "ServiceAccount": T("object", "ServiceAccount", "ServiceAccount", {
        "metadata": _META, "imagePullSecrets": _IPS, "automountServiceAccountToken": B,
        "secrets": T("array", "[]v1.ObjectReference", item=T("object", "v1.ObjectReference", "ObjectReference")),
    }),
    "Secret": T("object", "Secret", "Secret", {
        "metadata": _META, "data": T("map", "map[string][]uint8", item=T("b64", "[]uint8")),
        "stringData": T("map", "map[string]string", item=S), "type": T("string", "v1.SecretType"),
        "immutable": B,
    }),
    "Pod": T("object", "Pod", "Pod", {"metadata": _META, "spec": _PODSPEC}),
    "PodTemplate": T("object", "PodTemplate", "PodTemplate", {"metadata": _META, "template": _TEMPLATE}),
}
for _k, _g in (("Deployment", "apps"), ("StatefulSet", "apps"), ("DaemonSet", "apps"), ("ReplicaSet", "apps"),
               ("ReplicationController", ""), ("Job", "batch")):
    TYPES[_k] = _workload(_k, _g)
TYPES["CronJob"] = T("object", "CronJob", "CronJob", {"metadata": _META, "spec": T(
    "object", "v1.CronJobSpec", "CronJobSpec", {"schedule": S, "jobTemplate": T(
        "object", "v1.JobTemplateSpec", "JobTemplateSpec", {"metadata": _META, "spec": _workload("Job", "batch")
                                                             .fields["spec"]})})})

TYPES["Lease"] = T("object", "Lease", "Lease", {"metadata": _META, "spec": T(
    "object", "v1.LeaseSpec", "LeaseSpec", {"holderIdentity": S, "leaseDurationSeconds": T("int", "int32"),
                                            "leaseTransitions": T("int", "int32"), "acquireTime": S,
                                            "renewTime": S})})

TOP_FIELDS: dict[str, set[str]] = {
    "Lease": {"spec"},
    "Event": {"involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count", "type",
              "eventTime", "series", "action", "related", "reportingComponent", "reportingInstance"},
    "events.k8s.io/Event": {"eventTime", "series", "reportingController", "reportingInstance", "action", "reason",
                            "regarding", "related", "note", "type", "deprecatedSource", "deprecatedFirstTimestamp",
                            "deprecatedLastTimestamp", "deprecatedCount"},
    "Namespace": {"spec", "status"}, "ServiceAccount": {"secrets", "imagePullSecrets", "automountServiceAccountToken"},
    "Secret": {"immutable", "data", "stringData", "type"}, "Pod": {"spec", "status"}, "PodTemplate": {"template"},
    "MutatingWebhookConfiguration": {"webhooks"},
}
META_FIELDS = {"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
               "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
               "ownerReferences", "finalizers", "managedFields"}


def _type_error(v: Any, t: T, path: list[str], struct: str) -> str:
    kind = go_kind(v)
    if kind == "number" and t.kind == "int" and isinstance(v, float):
        kind = f"number {json.dumps(v)}"
    where = f"Go struct field {struct}.{'.'.join(path)}" if path else "Go value"
    return f"json: cannot unmarshal {kind} into {where} of type {t.go}"


def _check(v: Any, t: T, path: list[str], struct: str) -> str | None:
    if v is None:
        return None
    k = t.kind
    ok = {
        "object": isinstance(v, dict), "map": isinstance(v, dict), "array": isinstance(v, list),
        "string": isinstance(v, str), "b64": isinstance(v, str), "bool": isinstance(v, bool),
        "int": isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer(),
    }[k]
    if not ok:
        return _type_error(v, t, path, struct)
    if k == "b64":
        try:
            b64decode(v)
        except Base64Error as e:
            return str(e)
    elif k == "object":
        for name, sub in t.fields.items():
            if name in v:
                err = _check(v[name], sub, [*path, name], t.struct or struct)
                if err:
                    return err
    elif k in ("map", "array") and t.item is not None:
        for item in v.values() if k == "map" else v:
            err = _check(item, t.item, path, struct)
            if err:
                return err
    return None


def type_error(obj: dict[str, Any], kind: str) -> str | None:
    """The Go decoding error (wrong JSON type, bad base64) for ``obj``, or None."""
    t = TYPES.get(kind)
    if t is None:
        return None
    for name, sub in t.fields.items():
        if name in obj:
            err = _check(obj[name], sub, [name], kind)
            if err:
                return err
    return None


def prune_unknown(obj: dict[str, Any], rt: ResourceType) -> list[str]:
    """Drop fields the Go types (or a CRD's schema) do not have; returns the warning texts."""
    if rt.custom:
        return [f'unknown field "{w}"' for w in crd.prune(obj, rt.schema)]
    kind = f"{rt.group}/{rt.kind}" if rt.group == "events.k8s.io" else rt.kind
    out: list[str] = []
    known = TOP_FIELDS.get(kind, {"spec", "status"}) | {"apiVersion", "kind", "metadata"}
    for k in list(obj):
        if k not in known:
            del obj[k]
            out.append(k)
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for k in list(meta):
            if k not in META_FIELDS:
                del meta[k]
                out.append(f"metadata.{k}")
    out += _prune_directives(obj, "")
    return [f'unknown field "{w}"' for w in out]


def _prune_directives(v: Any, path: str) -> list[str]:
    """Remove leftover ``$patch``-style keys (SMP directives on atomic lists) anywhere."""
    out: list[str] = []
    if isinstance(v, dict):
        for k in list(v):
            p = f"{path}.{k}" if path else k
            if k.startswith("$"):
                del v[k]
                out.append(p)
            else:
                out += _prune_directives(v[k], p)
    elif isinstance(v, list):
        for i, item in enumerate(v):
            out += _prune_directives(item, f"{path}[{i}]")
    return out


def _summary(raw: bytes) -> str:
    if not raw:
        return "<empty>"
    if raw[:1] == b"{":
        return raw[:30].decode("utf-8", "replace") + (" ..." if len(raw) > 30 else "")
    return raw[:30].hex() + (" ..." if len(raw) > 30 else "")


def parse_body(raw: bytes, content_type: str, rt: ResourceType) -> dict[str, Any]:
    """Parse a POST/PUT body (JSON or YAML) into a dict; malformed input answers 400."""
    if content_type.startswith(("application/yaml", "application/x-yaml", "text/yaml")):
        try:
            doc = yaml.safe_load(raw.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise bad_request(f"error converting YAML to JSON: {e}") from None
        raw = json.dumps(doc).encode()
    err = syntax_error(raw)
    if err is None and not isinstance(json.loads(raw), dict):
        err = f"json: cannot unmarshal {go_kind(json.loads(raw))} into Go value of type struct {{ APIVersion string "
        err += '"json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
    if err is not None:
        raise bad_request(
            f"the object provided is unrecognized (must be of type {rt.kind}): couldn't get version/kind; "
            f"json parse error: {err} ({_summary(raw)})"
        )
    return json.loads(raw)


def decode_object(raw: bytes, content_type: str, rt: ResourceType, field_validation: str) -> tuple[dict[str, Any], list[str]]:
    """Decode a create/update body as the apiserver does; returns the object and warnings."""
    obj = parse_body(raw, content_type, rt)
    kind = obj.get("kind") or rt.kind
    api_version = obj.get("apiVersion") or rt.api_version
    if not isinstance(kind, str) or not isinstance(api_version, str):
        raise bad_request(f"the object provided is unrecognized (must be of type {rt.kind})")
    if api_version != rt.api_version:
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version ({rt.api_version})"
        )
    version = api_version.rsplit("/", 1)[-1]
    prefix = f"{kind} in version {json.dumps(version)} cannot be handled as a {rt.kind}: "
    if kind != rt.kind:
        raise bad_request(prefix + f"converting (v1.{kind}) to (v1.{rt.kind}): unknown conversion")
    err = type_error(obj, rt.kind) or normalise_microtimes(obj, rt.kind)
    if err:
        raise bad_request(prefix + err)
    obj["kind"], obj["apiVersion"] = kind, api_version
    warnings = prune_unknown(obj, rt)
    if warnings and field_validation == "Strict":
        raise bad_request(prefix + "strict decoding error: " + ", ".join(w for w in warnings))
    return obj, ([] if field_validation == "Ignore" else warnings)


MICROTIME_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"
MICROTIMES: dict[str, tuple[tuple[str, ...], ...]] = {
    "Lease": (("spec", "acquireTime"), ("spec", "renewTime")),
    "Event": (("eventTime",), ("series", "lastObservedTime")),
}
_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def microtime_error(value: str) -> str | None:
    """time.Parse with metav1.MicroTime's layout: exactly 6 fractional digits, then Z or an offset."""
    if not _DATE.match(value):
        return f"parsing time {json.dumps(value)} as {json.dumps(MICROTIME_LAYOUT)}: cannot parse {json.dumps(value)} as \"2006\""
    rest = value[19:]
    if not re.match(r"\.\d{6}", rest):
        return f"parsing time {json.dumps(value)} as {json.dumps(MICROTIME_LAYOUT)}: cannot parse {json.dumps(rest)} as \".000000\""
    zone = rest[7:]
    if zone != "Z" and not re.fullmatch(r"[+-]\d\d:\d\d", zone):
        return f"parsing time {json.dumps(value)} as {json.dumps(MICROTIME_LAYOUT)}: cannot parse {json.dumps(zone)} as \"Z07:00\""
    return None


def normalise_microtimes(obj: dict[str, Any], kind: str) -> str | None:
    """Check every MicroTime field (the 400 text, or None) and store it as UTC with 6 digits."""
    for path in MICROTIMES.get(kind, ()):
        parent: Any = obj
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        value = parent.get(path[-1]) if isinstance(parent, dict) else None
        if not isinstance(value, str):
            continue
        err = microtime_error(value)
        if err:
            return err
        if not value.endswith("Z"):
            parsed = datetime.fromisoformat(value).astimezone(UTC)
            parent[path[-1]] = parsed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return None


def patched_object_error(obj: dict[str, Any], rt: ResourceType) -> ApiError | None:
    """A patched object that no longer decodes: 422 on field ``patch`` echoing the JSON."""
    err = type_error(obj, rt.kind)
    if err is None:
        return None
    echoed = json.dumps({k: obj[k] for k in sorted(obj)}, separators=(",", ":"), ensure_ascii=False)
    return invalid("", "", "", [FieldError("Invalid", "patch", echoed, err)])


def convert_secret(obj: dict[str, Any]) -> None:
    """v1 -> internal conversion: stringData is merged into data (base64) and dropped."""
    sd = obj.pop("stringData", None)
    if sd:
        data = dict(obj.get("data") or {})
        for k, v in sd.items():
            data[k] = base64.b64encode((v or "").encode()).decode()
        obj["data"] = data
