"""Field sets for server-side apply: which fields an object sets, as managedFields paths.

Why: SSA conflicts and ownership are defined on these paths, and their shape depends on the
schema — ServiceAccount.imagePullSecrets is ONE atomic field, PodSpec.imagePullSecrets is a
map keyed by name (one path per item), LabelSelector and LocalObjectReference are atomic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str, ...]
# Fields the apiserver never attributes to a manager.
IGNORED_TOP = {"apiVersion", "kind", "status"}
IGNORED_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink", "generateName"}


@dataclass
class Node:
    """Schema node: struct (granular or atomic), map, list (atomic/map/set) or leaf."""

    kind: str = "struct"
    fields: dict[str, Node] = field(default_factory=dict)
    item: Node | None = None
    list_type: str = "atomic"
    keys: tuple[str, ...] = ()
    atomic: bool = False


def struct(**fields: Node) -> Node:
    return Node("struct", fields)


def maplist(*keys: str, item: Node | None = None) -> Node:
    return Node("list", item=item or Node("struct"), list_type="map", keys=keys)


ATOMIC = Node("struct", atomic=True)
ATOMIC_LIST = Node("list")
SET = Node("list", list_type="set")
MAP = Node("map", item=Node("leaf"))
META = struct(labels=MAP, annotations=MAP, finalizers=SET, ownerReferences=maplist("uid"))
_CONTAINER = struct(ports=maplist("containerPort", "protocol"), env=maplist("name"),
                    volumeMounts=maplist("mountPath"), volumeDevices=maplist("devicePath"))
POD_SPEC = struct(
    containers=maplist("name", item=_CONTAINER), initContainers=maplist("name", item=_CONTAINER),
    ephemeralContainers=maplist("name", item=_CONTAINER), imagePullSecrets=maplist("name", item=ATOMIC),
    volumes=maplist("name"), hostAliases=maplist("ip"), schedulingGates=maplist("name"),
    resourceClaims=maplist("name"), topologySpreadConstraints=maplist("topologyKey", "whenUnsatisfiable"),
)
_TEMPLATE = struct(metadata=META, spec=POD_SPEC)
_WORKLOAD = struct(metadata=META, spec=struct(selector=ATOMIC, template=_TEMPLATE))
SCHEMAS: dict[str, Node] = {
    "ServiceAccount": struct(metadata=META, imagePullSecrets=ATOMIC_LIST, secrets=maplist("name")),
    "Secret": struct(metadata=META, data=MAP, stringData=MAP),
    "Namespace": struct(metadata=META),
    "Pod": struct(metadata=META, spec=POD_SPEC),
    "PodTemplate": struct(metadata=META, template=_TEMPLATE),
    "ReplicationController": struct(metadata=META, spec=struct(selector=MAP, template=_TEMPLATE)),
    "Deployment": _WORKLOAD, "StatefulSet": _WORKLOAD, "DaemonSet": _WORKLOAD, "ReplicaSet": _WORKLOAD,
    "Job": _WORKLOAD,
    "CronJob": struct(metadata=META, spec=struct(jobTemplate=struct(metadata=META, spec=struct(
        selector=ATOMIC, template=_TEMPLATE)))),
}


def child(node: Node | None, name: str) -> Node | None:
    if node is None:
        return None
    if node.kind == "map":
        return node.item
    return node.fields.get(name)


def item_key(item: dict[str, Any], keys: tuple[str, ...]) -> str:
    """``k:{"name":"a"}`` (Go's JSON of the key fields, sorted)."""
    return "k:" + json.dumps({k: item.get(k) for k in sorted(keys) if k in item}, separators=(",", ":"))


def value_key(v: Any) -> str:
    return "v:" + json.dumps(v, separators=(",", ":"))


def field_set(obj: dict[str, Any], kind: str) -> set[Path]:
    """All paths set in ``obj`` (what a manager applying or creating it owns)."""
    out: set[Path] = set()
    schema = SCHEMAS.get(kind)
    for k, v in obj.items():
        if k in IGNORED_TOP:
            continue
        if k == "metadata" and isinstance(v, dict):
            meta = {mk: mv for mk, mv in v.items() if mk not in IGNORED_META}
            if meta:
                _walk(meta, child(schema, "metadata"), ("f:metadata",), out)
            continue
        _walk(v, child(schema, k), (f"f:{k}",), out)
    return out


def _walk(v: Any, node: Node | None, path: Path, out: set[Path]) -> None:
    if v == {} and len(path) == 1:
        return  # an empty top-level struct (Lease ``spec: {}``) owns no field: no managedFields entry
    if isinstance(v, dict) and not (node is not None and node.atomic) and v:
        for k, x in v.items():
            _walk(x, child(node, k) if node is not None else None, (*path, f"f:{k}"), out)
        return
    if isinstance(v, list) and node is not None and node.kind == "list" and node.list_type != "atomic" and v:
        for x in v:
            if node.list_type == "set":
                out.add((*path, value_key(x)))
            elif isinstance(x, dict):
                ipath = (*path, item_key(x, node.keys))
                if node.item is not None and node.item.atomic:
                    out.add(ipath)
                else:
                    out.add((*ipath, "."))
                    for k, y in x.items():
                        _walk(y, child(node.item, k), (*ipath, f"f:{k}"), out)
        return
    out.add(path)


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for p in paths:
        cur = tree
        for part in p:
            cur = cur.setdefault(part, {})
    return _sorted(tree)


def _sorted(tree: dict[str, Any]) -> dict[str, Any]:
    return {k: _sorted(tree[k]) for k in sorted(tree, key=lambda k: (k != ".", k))}


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for k, v in tree.items():
        if not v:
            out.add((*prefix, k))
        else:
            out |= from_fields_v1(v, (*prefix, k))
    return out


def path_string(path: Path) -> str:
    """fieldpath.Path.String(): ``.spec.template.spec.imagePullSecrets[name="a"]``."""
    out = ""
    for part in path:
        if part.startswith("f:"):
            out += "." + part[2:]
        elif part.startswith("k:"):
            keys = json.loads(part[2:])
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]"
        elif part.startswith("v:"):
            out += f"[={part[2:]}]"
    return out


def lookup(obj: Any, path: Path) -> tuple[bool, Any]:
    """(exists, value) at ``path`` in ``obj``."""
    cur = obj
    for part in path:
        if part == ".":
            continue
        if part.startswith("f:"):
            if not isinstance(cur, dict) or part[2:] not in cur:
                return False, None
            cur = cur[part[2:]]
        elif part.startswith("k:"):
            want = json.loads(part[2:])
            if not isinstance(cur, list):
                return False, None
            match = [x for x in cur if isinstance(x, dict) and all(x.get(k) == v for k, v in want.items())]
            if not match:
                return False, None
            cur = match[0]
        elif part.startswith("v:"):
            want = json.loads(part[2:])
            if not isinstance(cur, list) or want not in cur:
                return False, None
            cur = want
    return True, cur


def remove(obj: Any, path: Path) -> None:
    """Delete the field/item/value at ``path`` (no-op when absent)."""
    parts = [p for p in path if p != "."]
    if not parts:
        return
    ok, parent = lookup(obj, tuple(parts[:-1]))
    last = parts[-1]
    if not ok:
        return
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        want = json.loads(last[2:])
        parent[:] = [x for x in parent if not (isinstance(x, dict) and all(x.get(k) == v for k, v in want.items()))]
    elif last.startswith("v:") and isinstance(parent, list):
        want = json.loads(last[2:])
        parent[:] = [x for x in parent if x != want]


def merge(live: Any, applied: Any, node: Node | None) -> Any:
    """Structured merge of an applied configuration into the live object."""
    if isinstance(applied, dict) and isinstance(live, dict) and not (node is not None and node.atomic):
        out = dict(live)
        for k, v in applied.items():
            out[k] = merge(live.get(k), v, child(node, k) if node is not None else None)
        return out
    if (isinstance(applied, list) and isinstance(live, list) and node is not None and node.kind == "list"
            and node.list_type != "atomic"):
        if node.list_type == "set":
            return live + [x for x in applied if x not in live]
        out_list = list(live)
        for item in applied:
            key = item_key(item, node.keys)
            for i, cur in enumerate(out_list):
                if isinstance(cur, dict) and item_key(cur, node.keys) == key:
                    atomic = node.item is not None and node.item.atomic
                    out_list[i] = item if atomic else merge(cur, item, node.item)
                    break
            else:
                out_list.append(item)
        return out_list
    return applied
