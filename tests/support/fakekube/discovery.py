"""Discovery documents (/version, /api, /apis, group/version resource lists, aggregated v2).

Why: kubectl-style clients and lightkube's generic resources discover before they act; the
documents mirror the recorded shapes (e.g. /api/v1 has no apiVersion, /apis/apps/v1 has one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from .resources import GROUP_VERSIONS, RESOURCES, REVIEW_GROUPS, ResourceType

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

VERSION = {
    "major": "1", "minor": "36", "emulationMajor": "1", "emulationMinor": "36",
    "minCompatibilityMajor": "1", "minCompatibilityMinor": "35", "gitVersion": "v1.36.2",
    "gitCommit": "98b35193b2ac7a23a673325f5e9b830ecd5ba406", "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.26.4", "compiler": "gc", "platform": "linux/amd64",
}


def _served_groups(extra: Sequence[ResourceType] = ()) -> dict[str, tuple[str, ...]]:
    groups = {g: v for g, v in GROUP_VERSIONS.items() if g}
    for g in REVIEW_GROUPS:
        groups[g] = ("v1",)
    for rt in extra:  # served custom resources
        groups[rt.group] = tuple(dict.fromkeys((*groups.get(rt.group, ()), rt.version)))
    return groups


def api_versions(host: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]}


def _group(name: str, versions: tuple[str, ...]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def api_group_list(extra: Sequence[ResourceType] = ()) -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(g, v) for g, v in _served_groups(extra).items()]}


def _resource_entry(rt: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                            "kind": rt.kind, "verbs": list(rt.verbs)}
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    if rt.storage_hash:
        main["storageVersionHash"] = rt.storage_hash
    out = [main]
    for sub in rt.subresources:
        entry: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                                 "kind": rt.kind, "verbs": ["get", "patch", "update"]}
        if sub == "token":
            entry.update(group="authentication.k8s.io", version="v1", kind="TokenRequest", verbs=["create"])
        elif sub == "scale":
            entry.update(group="autoscaling", version="v1", kind="Scale")
        elif sub == "finalize":
            entry["verbs"] = ["update"]
        out.append(entry)
    return out


def resource_list(group: str, version: str, extra: Sequence[ResourceType] = ()) -> dict[str, Any] | None:
    if group in REVIEW_GROUPS and version == "v1":
        plural, kind = REVIEW_GROUPS[group]
        resources = [{"name": plural, "singularName": plural[:-1], "namespaced": False, "kind": kind,
                      "verbs": ["create"]}]
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/v1", "resources": resources}
    if version not in _served_groups(extra).get(group, GROUP_VERSIONS.get(group, ())):
        return None
    resources = [e for rt in (*RESOURCES, *extra) if rt.group == group and rt.version == version
                 for e in _resource_entry(rt)]
    doc: dict[str, Any] = {"kind": "APIResourceList"}
    if group:
        doc["apiVersion"] = "v1"
    doc["groupVersion"] = f"{group}/{version}" if group else version
    doc["resources"] = resources
    return doc


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    d: dict[str, Any] = {"resource": rt.plural, "responseKind": {"group": "", "version": "", "kind": rt.kind},
                         "scope": "Namespaced" if rt.namespaced else "Cluster", "singularResource": rt.singular,
                         "verbs": list(rt.verbs)}
    if rt.short_names:
        d["shortNames"] = list(rt.short_names)
    if rt.categories:
        d["categories"] = list(rt.categories)
    subs = []
    for sub in rt.subresources:
        kind = {"token": ("authentication.k8s.io", "v1", "TokenRequest"), "scale": ("autoscaling", "v1", "Scale")}
        g, v, k = kind.get(sub, ("", "", rt.kind))
        verbs = ["create"] if sub == "token" else (["update"] if sub == "finalize" else ["get", "patch", "update"])
        subs.append({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": k}, "verbs": verbs})
    if subs:
        d["subresources"] = subs
    return d


def aggregated(legacy: bool, extra: Sequence[ResourceType] = ()) -> tuple[bytes, str]:
    """APIGroupDiscoveryList for /api (legacy=True) or /apis, with its Etag."""
    items = []
    groups = {"": ("v1",)} if legacy else _served_groups(extra)
    for g, versions in groups.items():
        vlist = []
        for v in versions:
            if g in REVIEW_GROUPS:
                plural, kind = REVIEW_GROUPS[g]
                res = [{"resource": plural, "responseKind": {"group": "", "version": "", "kind": kind},
                        "scope": "Cluster", "singularResource": plural[:-1], "verbs": ["create"]}]
            else:
                res = [_aggregated_resource(rt) for rt in (*RESOURCES, *extra) if rt.group == g and rt.version == v]
            vlist.append({"version": v, "resources": res, "freshness": "Current"})
        items.append({"metadata": {"name": g} if g else {}, "versions": vlist})
    body = json.dumps({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
                       "items": items}, separators=(",", ":")).encode()
    return body, hashlib.sha256(body).hexdigest()[:32].upper()
