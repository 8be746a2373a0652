"""An in-memory `regcred.usecases.kubeapi.KubeApi` (dict objects, resourceVersion preconditions, request log).

It runs the use cases (read, plan, apply, retry) without HTTP; the HTTP-level fake and envtest run the same
scenarios through the real CLI (tests/kube/spec/test_spec_cluster.py, tests/kube/cluster). `before_write` lets a
test play a concurrent writer between a use case's read and its write.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any

from regcred.shells.kube import KubeConflict, KubeNotFound, NamespaceTerminating
from regcred.shells.kube.errors import NamespaceGone
from tests.support.fakekube.patch import merge_patch  # RFC 7386, as the HTTP-level fake applies it


class MemApi:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.rv = 100
        self.log: list[tuple[str, str, str, str]] = []  # (verb, kind, namespace, name)
        self.default_namespace = "default"
        self.before_write: Callable[[str, str, str, str], None] | None = None  # (verb, kind, namespace, name)

    def _next(self) -> str:
        self.rv += 1
        return str(self.rv)

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = self._next()
        self.objects[(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj
        return obj

    def namespace(self, name: str, labels: dict[str, str] | None = None, sas: tuple[str, ...] = ("default",)) -> None:
        self.add({"kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}})
        for sa in sas:
            self.add({"kind": "ServiceAccount", "metadata": {"name": sa, "namespace": name}})

    def get_obj(self, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        return self.objects.get((kind, namespace, name))

    def _about_to_write(self, verb: str, kind: str, namespace: str, name: str) -> None:
        self.log.append((verb, kind, namespace, name))
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None  # once: the concurrent writer acts a single time
            hook(verb, kind, namespace, name)

    # -- the KubeApi protocol (regcred.usecases.kubeapi) ----------------------------------------------------
    def close(self) -> None:
        pass

    def __enter__(self) -> MemApi:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def iter_list(self, kind: str, namespace: str | None = None, *, label_selector: str | None = None,
                  field_selector: str | None = None) -> Iterator[dict[str, Any]]:
        self.log.append(("list", kind, namespace or "", ""))
        for (k, ns, name), obj in sorted(self.objects.items()):
            if k != kind or (namespace and ns != namespace):
                continue
            if field_selector and field_selector != f"metadata.name={name}":
                continue
            if label_selector:
                m = re.fullmatch(r"(\S+) in \((.*)\)", label_selector)
                assert m, label_selector
                if (obj["metadata"].get("labels") or {}).get(m.group(1)) not in m.group(2).split(","):
                    continue
            yield copy.deepcopy(obj)

    def list(self, kind: str, namespace: str | None = None, **kw: Any) -> list[dict[str, Any]]:
        return list(self.iter_list(kind, namespace, **kw))

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        obj = self.get_optional(kind, name, namespace)
        if obj is None:
            raise KubeNotFound(f'{kind} "{name}" not found', status=404)
        return obj

    def get_optional(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        self.log.append(("get", kind, namespace or "", name))
        obj = self.objects.get((kind, namespace or "", name))
        return copy.deepcopy(obj) if obj else None

    def _check_namespace(self, namespace: str, verb: str) -> None:
        ns = self.objects.get(("Namespace", "", namespace))
        if ns is None:
            raise NamespaceGone(f"namespace {namespace} not found: cannot {verb}", status=404,
                                resource="secrets", namespace=namespace)
        if (ns.get("status") or {}).get("phase") == "Terminating" and verb == "create":
            raise NamespaceTerminating(f"namespace {namespace} is being terminated", status=403)

    def create(self, obj: dict[str, Any], namespace: str | None = None, *, dry_run: bool = False) -> dict[str, Any]:
        ns = namespace or obj["metadata"]["namespace"]
        self._about_to_write("create", obj["kind"], ns, obj["metadata"]["name"])
        self._check_namespace(ns, "create")
        if (obj["kind"], ns, obj["metadata"]["name"]) in self.objects:
            raise KubeConflict("already exists", status=409, reason="AlreadyExists")
        return self.add(obj)

    def patch(self, kind: str, name: str, namespace: str | None, patch: Any, *, patch_type: str = "merge",
              dry_run: bool = False) -> dict[str, Any]:
        assert patch_type == "merge"
        self._about_to_write("patch", kind, namespace or "", name)
        key = (kind, namespace or "", name)
        if key not in self.objects:
            raise KubeNotFound(f'{kind} "{name}" not found in namespace {namespace}', status=404)
        current = self.objects[key]
        wanted_rv = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted_rv is not None and wanted_rv != current["metadata"]["resourceVersion"]:
            raise KubeConflict("the object has been modified", status=409, reason="Conflict")
        new = merge_patch(current, patch)
        new["metadata"]["resourceVersion"] = self._next()
        self.objects[key] = new
        return new

    def delete(self, kind: str, name: str, namespace: str | None = None, *, dry_run: bool = False) -> dict[str, Any]:
        self._about_to_write("delete", kind, namespace or "", name)
        if self.objects.pop((kind, namespace or "", name), None) is None:
            raise KubeNotFound(f'{kind} "{name}" not found', status=404)
        return {}

    def writes(self) -> list[tuple[str, str, str, str]]:
        return [entry for entry in self.log if entry[0] in ("create", "patch", "delete")]
