"""Custom resources served from CustomResourceDefinitions, as apiextensions-apiserver does.

Why: the controller's RegistryCredential is a custom resource, and custom resources are not
built-in types: unstructured JSON (keys sorted, list items keep kind/apiVersion), pruning of
fields the OpenAPI schema does not know (with warnings), schema validation, no strategic
merge patch, no unconditional update, and a new CRD is served only once it is Established.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

from . import admission as adm
from .errors import FieldError
from .request import deep_copy
from .resources import ResourceType

if TYPE_CHECKING:
    from .store import Store

_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}
_META_KEEP = ("apiVersion", "kind", "metadata")


def sort_keys(v: Any) -> Any:
    """Go's encoding of map[string]interface{}: every object's keys in byte order."""
    if isinstance(v, dict):
        return {k: sort_keys(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [sort_keys(x) for x in v]
    return v


def resource_type(crd: dict[str, Any], served_rv: int = 0) -> ResourceType:
    """The ResourceType a CRD's storage version defines."""
    spec = crd["spec"]
    names = spec["names"]
    version = next(v for v in spec["versions"] if v.get("storage"))
    subs = tuple(k for k in ("status", "scale") if k in (version.get("subresources") or {}))
    return ResourceType(
        spec["group"], version["name"], names["plural"], names["kind"], names.get("singular") or names["kind"].lower(),
        namespaced=spec.get("scope") == "Namespaced", short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()), has_generation=True, subresources=subs,
        requires_rv=True, custom=True, schema=(version.get("schema") or {}).get("openAPIV3Schema"),
        printer_columns=tuple(version.get("additionalPrinterColumns") or ()), served_rv=served_rv,
    )


def default_crd(crd: dict[str, Any]) -> None:
    """What a CRD create adds: conversion strategy None and a not-yet-accepted status."""
    spec = crd.setdefault("spec", {})
    spec.setdefault("conversion", {"strategy": "None"})
    for v in spec.get("versions") or []:
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if schema is not None:
            v["schema"]["openAPIV3Schema"] = _sort_properties(schema)
    storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    crd["status"] = {"conditions": None, "acceptedNames": {"plural": "", "kind": ""}, "storedVersions": storage}


def established_status(crd: dict[str, Any]) -> dict[str, Any]:
    ts = adm.now()
    names = crd["spec"]["names"]
    return {"conditions": [
        {"type": "NamesAccepted", "status": "True", "lastTransitionTime": ts, "reason": "NoConflicts",
         "message": "no conflicts found"},
        {"type": "Established", "status": "True", "lastTransitionTime": ts, "reason": "InitialNamesAccepted",
         "message": "the initial names have been accepted"}],
        "acceptedNames": deep_copy(names), "storedVersions": crd["status"]["storedVersions"]}


def _sort_properties(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _sort_properties(v) for k, v in schema.items()}
        if isinstance(out.get("properties"), dict):
            out["properties"] = {k: out["properties"][k] for k in sorted(out["properties"])}
        return out
    if isinstance(schema, list):
        return [_sort_properties(x) for x in schema]
    return schema


# -- pruning and validation ----------------------------------------------------------------

def prune(obj: dict[str, Any], schema: dict[str, Any] | None) -> list[str]:
    """Drop fields the structural schema does not declare; returns the dotted paths dropped."""
    if schema is None:
        return []
    out: list[str] = []
    props = schema.get("properties") or {}
    for k in list(obj):
        if k in _META_KEEP:
            continue
        if k not in props:
            del obj[k]
            out.append(k)
        else:
            out += _prune(obj[k], props[k], k)
    return sorted(out)


def _prune(v: Any, schema: dict[str, Any], path: str) -> list[str]:
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    out: list[str] = []
    if isinstance(v, dict) and schema.get("type") == "object":
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for k in list(v):
            if props is not None and k in props:
                out += _prune(v[k], props[k], f"{path}.{k}")
            elif isinstance(extra, dict):
                out += _prune(v[k], extra, f"{path}.{k}")
            elif extra is not True and props is not None:
                del v[k]
                out.append(f"{path}.{k}")
    elif isinstance(v, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(v):
            out += _prune(item, schema["items"], f"{path}[{i}]")
    return out


def apply_defaults(v: Any, schema: dict[str, Any] | None) -> None:
    """Structural defaulting: a missing property with a ``default`` gets it (in existing objects)."""
    if schema is None:
        return
    if isinstance(v, dict):
        for k, sub in (schema.get("properties") or {}).items():
            if k not in v and "default" in sub:
                v[k] = deep_copy(sub["default"])
            if k in v and k not in _META_KEEP:
                apply_defaults(v[k], sub)
    elif isinstance(v, list) and isinstance(schema.get("items"), dict):
        for item in v:
            apply_defaults(item, schema["items"])


def validate(obj: dict[str, Any], schema: dict[str, Any] | None) -> list[FieldError]:
    """The OpenAPI v3 checks the CRDs here use: type, enum, minimum/maximum, pattern, lengths,
    minItems, required, oneOf/anyOf/not. Not evaluated: x-kubernetes-validations (CEL rules)."""
    if schema is None:
        return []
    errs: list[FieldError] = [FieldError("Required", k) for k in schema.get("required") or [] if k not in obj]
    for k, sub in (schema.get("properties") or {}).items():
        if k not in _META_KEEP and k in obj:
            errs += _validate(obj[k], sub, k)
    return errs


def _type_ok(v: Any, t: str) -> bool:
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, int | float) and not isinstance(v, bool)
    py = _JSON_TYPES.get(t)
    return py is None or isinstance(v, py)


def _json_type(v: Any) -> str:
    for name, py in (("boolean", bool), ("integer", int), ("number", float), ("string", str), ("array", list),
                     ("object", dict)):
        if isinstance(v, py):
            return name
    return "null"


def _validate(v: Any, schema: dict[str, Any], path: str) -> list[FieldError]:
    if v is None and schema.get("nullable"):
        return []
    t = schema.get("type")
    if t and not _type_ok(v, t):
        got = _json_type(v)
        return [FieldError("TypeInvalid", path, got, f"{path} in body must be of type {t}: {got!r}".replace("'", '"'))]
    errs: list[FieldError] = []
    if "enum" in schema and v not in schema["enum"]:
        errs.append(FieldError("NotSupported", path, v, supported=[str(x) for x in schema["enum"]]))
    if "minimum" in schema and isinstance(v, int | float) and v < schema["minimum"]:
        errs.append(FieldError("Invalid", path, v,
                               f"{path} in body should be greater than or equal to {schema['minimum']}"))
    if "maximum" in schema and isinstance(v, int | float) and v > schema["maximum"]:
        errs.append(FieldError("Invalid", path, v, f"{path} in body should be less than or equal to {schema['maximum']}"))
    if isinstance(v, str):
        if "pattern" in schema and not re.search(schema["pattern"], v):
            errs.append(FieldError("Invalid", path, v, f"{path} in body should match '{schema['pattern']}'"))
        if "minLength" in schema and len(v) < schema["minLength"]:
            errs.append(FieldError("Invalid", path, v,
                                   f"{path} in body should be at least {schema['minLength']} chars long"))
        if "maxLength" in schema and len(v) > schema["maxLength"]:
            errs.append(FieldError("TooLong", path, detail=f"may not be more than {schema['maxLength']} bytes"))
    if isinstance(v, list) and "minItems" in schema and len(v) < schema["minItems"]:
        errs.append(FieldError("Invalid", path, len(v), f"{path} in body should have at least {schema['minItems']} items"))
    passing = {key: sum(not _validate(v, sub, path) for sub in schema[key]) for key in ("oneOf", "anyOf")
               if key in schema}
    if passing.get("oneOf", 1) != 1:
        errs.append(FieldError("Invalid", path, v, "must validate one and only one schema (oneOf)"))
    if passing.get("anyOf", 1) == 0:
        errs.append(FieldError("Invalid", path, v, "must validate at least one schema (anyOf)"))
    if isinstance(schema.get("not"), dict) and not _validate(v, schema["not"], path):
        errs.append(FieldError("Invalid", path, v, "must not validate the schema (not)"))
    if isinstance(v, dict):
        for req in schema.get("required") or []:
            if req not in v:
                errs.append(FieldError("Required", f"{path}.{req}"))
        for k, sub in (schema.get("properties") or {}).items():
            if k in v:
                errs += _validate(v[k], sub, f"{path}.{k}")
    elif isinstance(v, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(v):
            errs += _validate(item, schema["items"], f"{path}[{i}]")
    return errs


# -- the registry of served custom resources -------------------------------------------------

class CustomResources:
    """Custom resource types of one FakeKube, keyed like resources.BY_PATH."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.by_path: dict[tuple[str, str, str], ResourceType] = {}
        self.lock = threading.Lock()

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return next((r for r in list(self.by_path.values()) if r.api_version == api_version and r.kind == kind), None)

    def all(self) -> list[ResourceType]:
        return list(self.by_path.values())

    def serves(self, group: str, version: str) -> bool:
        return any(g == group and v == version for g, v, _ in list(self.by_path))

    def register(self, crd: dict[str, Any]) -> ResourceType:
        rt = resource_type(crd, self.store.rv)
        with self.lock:
            self.by_path[(rt.group, rt.version, rt.plural)] = rt
        return rt

    def unregister_name(self, crd_name: str) -> None:
        """The CRD ``<plural>.<group>`` was deleted: its resource is no longer served."""
        with self.lock:
            for key in [k for k in self.by_path if f"{k[2]}.{k[0]}" == crd_name]:
                del self.by_path[key]
