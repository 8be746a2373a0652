"""Object validation (the 422s) for the served types, with upstream field paths and texts.

Why: the product must survive real validation (label values, Secret keys and types, pod
immutability, finalizers on deleting objects); the fake rejects exactly what the apiserver does.
"""

from __future__ import annotations

import base64
import difflib
import json
import re
from typing import Any

from . import crd as crds
from . import events
from .errors import FieldError, go_quote, invalid
from .gojson import unmarshal_into_map_error
from .resources import ResourceType
from .selectors import label_key_errors, label_value_errors
from .webhookconfig import validate_configuration

_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUB_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
DNS_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                 "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS_SUB_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
               "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
               "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
KEY_MSG = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
           "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
REDACTED = "<secret contents redacted>"
POD_UPDATE_MSG = ("pod updates may not change fields other than `spec.containers[*].image`,"
                  "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
                  "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                  "previously negative)\n")
IMMUTABLE_SET = "field is immutable when `immutable` is set"
DOCKER_KEYS = {"kubernetes.io/dockerconfigjson": ".dockerconfigjson", "kubernetes.io/dockercfg": ".dockercfg"}


def dns_label_errors(v: str) -> list[str]:
    errs = ["must be no more than 63 characters"] if len(v) > 63 else []
    return errs + ([] if _LABEL_RE.match(v) else [DNS_LABEL_MSG])


def dns_subdomain_errors(v: str) -> list[str]:
    errs = ["must be no more than 253 characters"] if len(v) > 253 else []
    return errs + ([] if _SUB_RE.match(v) else [DNS_SUB_MSG])


def validate_meta(rt: ResourceType, obj: dict[str, Any]) -> list[FieldError]:
    meta = obj.get("metadata") or {}
    errs: list[FieldError] = []
    name = meta.get("name") or ""
    if not name:
        errs.append(FieldError("Required", "metadata.name", detail="name or generateName is required"))
    else:
        check = dns_label_errors if rt.kind == "Namespace" else dns_subdomain_errors
        errs += [FieldError("Invalid", "metadata.name", name, m) for m in check(name)]
    for k, v in (meta.get("labels") or {}).items():
        errs += [FieldError("Invalid", "metadata.labels", k, m) for m in label_key_errors(k)]
        errs += [FieldError("Invalid", "metadata.labels", v, m) for m in label_value_errors(v or "")]
    for k in meta.get("annotations") or {}:
        errs += [FieldError("Invalid", "metadata.annotations", k, m) for m in label_key_errors(k.lower())]
    return errs


def validate_meta_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    nm, om = new["metadata"], old["metadata"]
    errs: list[FieldError] = []
    if nm.get("uid") and nm.get("uid") != om.get("uid"):
        errs.append(FieldError("Invalid", "metadata.uid", nm["uid"], "field is immutable"))
    if om.get("deletionTimestamp"):
        added = [f for f in nm.get("finalizers") or [] if f not in (om.get("finalizers") or [])]
        if added:
            detail = ("no new finalizers can be added if the object is being deleted, found new finalizers "
                      "[]string{" + ", ".join(go_quote(f) for f in added) + "}")
            # The apiserver reports this cause twice (two validators run the same check).
            errs += [FieldError("Forbidden", "metadata.finalizers", detail=detail)] * 2
    return errs


def validate_secret(obj: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    data: dict[str, str] = obj.get("data") or {}
    total = 0
    for k, v in data.items():
        if not _KEY_RE.match(k):
            errs.append(FieldError("Invalid", f"data[{k}]", k, KEY_MSG))
        elif k in (".", ".."):
            errs.append(FieldError("Invalid", f"data[{k}]", k, f"must not be '{k}'"))
        elif k.startswith(".."):
            errs.append(FieldError("Invalid", f"data[{k}]", k, "must not start with '..'"))
        total += len(v or "") * 3 // 4
    if total > 1024 * 1024:
        errs.append(FieldError("TooLong", "data", detail="must have at most 1048576 bytes"))
    typ = obj.get("type") or "Opaque"
    if typ in DOCKER_KEYS:
        key = DOCKER_KEYS[typ]
        if key not in data:
            errs.append(FieldError("Required", f"data[{key}]"))
        else:
            err = unmarshal_into_map_error(base64.b64decode(data[key] or ""))
            if err:
                errs.append(FieldError("Invalid", f"data[{key}]", REDACTED, err))
    elif typ == "kubernetes.io/service-account-token":
        if not ((obj.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/service-account.name"):
            errs.append(FieldError("Required", "metadata.annotations[kubernetes.io/service-account.name]"))
    elif typ == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs += [FieldError("Required", "data[username]"), FieldError("Required", "data[password]")]
    elif typ == "kubernetes.io/ssh-auth":
        if "ssh-privatekey" not in data:
            errs.append(FieldError("Required", "data[ssh-privatekey]"))
    elif typ == "kubernetes.io/tls":
        errs += [FieldError("Required", f"data[{k}]") for k in ("tls.crt", "tls.key") if k not in data]
    return errs


def validate_secret_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    if (new.get("type") or "Opaque") != (old.get("type") or "Opaque"):
        errs.append(FieldError("Invalid", "type", new.get("type") or "Opaque", "field is immutable"))
    if old.get("immutable"):
        if not new.get("immutable"):
            errs.append(FieldError("Forbidden", "immutable", detail=IMMUTABLE_SET))
        if (new.get("data") or {}) != (old.get("data") or {}):
            errs.append(FieldError("Forbidden", "data", detail=IMMUTABLE_SET))
    return errs


def validate_pod_spec(spec: dict[str, Any], path: str, *, template_of: str = "") -> list[FieldError]:
    errs: list[FieldError] = []
    containers = spec.get("containers") or []
    if not containers:
        errs.append(FieldError("Required", f"{path}.containers"))
    seen: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            cp = f"{path}.{group}[{i}]"
            name = c.get("name") or ""
            if not name:
                errs.append(FieldError("Required", f"{cp}.name"))
            else:
                errs += [FieldError("Invalid", f"{cp}.name", name, m) for m in dns_label_errors(name)]
                if name in seen:
                    errs.append(FieldError("Duplicate", f"{cp}.name", name))
                seen.add(name)
            if not c.get("image") and not template_of:
                errs.append(FieldError("Required", f"{cp}.image"))
    policy = spec.get("restartPolicy")
    if template_of in ("Job", "CronJob"):
        if policy not in ("OnFailure", "Never"):
            errs.append(FieldError("NotSupported", f"{path}.restartPolicy", policy or "",
                                   supported=["OnFailure", "Never"]))
    elif template_of and template_of != "PodTemplate" and policy not in (None, "Always"):
        errs.append(FieldError("NotSupported", f"{path}.restartPolicy", policy, supported=["Always"]))
    return errs


def validate_workload(rt: ResourceType, obj: dict[str, Any]) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    if rt.kind == "CronJob" and not spec.get("schedule"):
        errs.append(FieldError("Required", "spec.schedule"))
    if rt.group == "apps":
        sel = spec.get("selector")
        if sel is None:
            errs.append(FieldError("Required", "spec.selector"))
        else:
            want = sel.get("matchLabels") or {}
            have = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            if not all(have.get(k) == v for k, v in want.items()) or not (want or sel.get("matchExpressions")):
                errs.append(FieldError("Invalid", "spec.template.metadata.labels", have,
                                       "`selector` does not match template `labels`"))
    path = rt.pod_spec_path()
    if path and rt.kind != "Pod":
        spec_obj = get_path(obj, path) or {}
        errs += validate_pod_spec(spec_obj, ".".join(path), template_of=rt.kind)
    return errs


def get_path(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    cur: Any = obj
    for p in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def pull_secret_warnings(spec: dict[str, Any] | None, path: str) -> list[str]:
    """pkg/api/pod/warnings.go: empty or duplicate imagePullSecrets names warn, never fail."""
    out: list[str] = []
    seen: set[str] = set()
    for i, ref in enumerate((spec or {}).get("imagePullSecrets") or []):
        name = (ref or {}).get("name") or ""
        if not name:
            out.append(f'{path}.imagePullSecrets[{i}].name: invalid empty name ""')
        elif name in seen:
            out.append(f"{path}.imagePullSecrets[{i}].name: duplicate name {go_quote(name)}")
        seen.add(name)
    return out


def _go_names(v: Any) -> Any:
    if isinstance(v, dict):
        return {k[:1].upper() + k[1:]: _go_names(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_go_names(x) for x in v]
    return v


def validate_pod_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """ValidatePodUpdate: only images, activeDeadlineSeconds, added tolerations may change."""
    ns, os_ = json.loads(json.dumps(new.get("spec") or {})), old.get("spec") or {}
    mutable = json.loads(json.dumps(os_))
    for group in ("containers", "initContainers"):
        for i, c in enumerate(mutable.get(group) or []):
            if i < len(ns.get(group) or []) and "image" in ns[group][i]:
                c["image"] = ns[group][i]["image"]
    if "activeDeadlineSeconds" in ns:
        mutable["activeDeadlineSeconds"] = ns["activeDeadlineSeconds"]
    old_tol = os_.get("tolerations") or []
    if all(t in (ns.get("tolerations") or []) for t in old_tol) and "tolerations" in ns:
        mutable["tolerations"] = ns["tolerations"]
    if mutable == ns:
        return []
    a = json.dumps(_go_names(mutable), indent=1).splitlines()
    b = json.dumps(_go_names(ns), indent=1).splitlines()
    diff = "".join(line + "\n" for line in list(difflib.unified_diff(a, b, lineterm=""))[2:])
    return [FieldError("Forbidden", "spec", detail=POD_UPDATE_MSG + diff)]


def validate_lease(obj: dict[str, Any]) -> list[FieldError]:
    """coordination/validation: durations positive, transitions non-negative; every field optional."""
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    if spec.get("leaseDurationSeconds") is not None and spec["leaseDurationSeconds"] <= 0:
        errs.append(FieldError("Invalid", "spec.leaseDurationSeconds", spec["leaseDurationSeconds"],
                               "must be greater than 0"))
    if spec.get("leaseTransitions") is not None and spec["leaseTransitions"] < 0:
        errs.append(FieldError("Invalid", "spec.leaseTransitions", spec["leaseTransitions"],
                               "must be greater than or equal to 0"))
    return errs


def finalizer_warnings(obj: dict[str, Any]) -> list[str]:
    """The apiserver's warning for finalizer names without a domain."""
    return [f"metadata.finalizers: {go_quote(f)}: prefer a domain-qualified finalizer name to avoid accidental "
            "conflicts with other finalizer writers" for f in (obj.get("metadata") or {}).get("finalizers") or []
            if "/" not in f]


def validate_object(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, strict: bool = False) -> None:
    """All validation of a create (old None) or update; raises the 422."""
    errs: list[FieldError] = validate_meta(rt, obj)
    if old is not None:
        errs += validate_meta_update(obj, old)
    if rt.kind == "Secret":
        if old is not None:
            errs += validate_secret_update(obj, old)
        errs += validate_secret(obj)
    elif rt.kind == "Pod":
        errs += validate_pod_spec(obj.get("spec") or {}, "spec")
        if old is not None:
            errs += validate_pod_update(obj, old)
    elif rt.template_path is not None:
        errs += validate_workload(rt, obj)
    elif rt.kind == "Lease":
        errs += validate_lease(obj)
    elif rt.kind == "Event":
        errs += events.validate(obj, old, strict=strict)
    elif rt.custom:
        errs += crds.validate(obj, rt.schema)
    elif rt.kind == "MutatingWebhookConfiguration":
        errs += validate_configuration(obj)
    if errs:
        raise invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), errs)
