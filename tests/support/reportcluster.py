"""A realistic cluster for `audit --report`: many namespaces, several registries, findings of several codes.

Namespace i (named `<prefix>-NNNN`) is one of five shapes, so every cell state and several finding codes appear:
  0 covered   a pull Secret on the default ServiceAccount covers its private images; public nginx too
  1 missing   a private image of a registry the cluster has credentials for, pulled anonymously
  2 broken    a pull Secret the kubelet cannot decode (secret-unusable) listed by a Deployment
  3 dangling  a Deployment listing a Secret that does not exist (missing-secret), a duplicate entry
  4 verified  a Secret for the `verify_registry` (a real or dead registry): --verify rejects or accepts it
The same objects serve as a manifest dump (`objects`) and are created in an API server (`populate`).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.support.clusterobjects import make_sa

PRIVATE = ("reg-a.example.com", "reg-b.example.com:5000")
SENTINEL = 'S3ntinel-p@ss:word"<&>'  # the password of every Secret: must never reach the report
SHAPES = ("covered", "missing", "broken", "dangling", "verified")


def _secret(name: str, ns: str, registry: str, login: tuple[str, str] = ("robot", SENTINEL), *,
            raw: str | None = None) -> dict[str, Any]:
    auth = base64.b64encode(":".join(login).encode()).decode()
    payload = raw if raw is not None else json.dumps({"auths": {registry: {"auth": auth}}})
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(payload.encode()).decode()}}


def _deployment(name: str, ns: str, images: list[str], pull: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]}
    if pull is not None:
        spec["imagePullSecrets"] = [{"name": n} for n in pull]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def _account(ns: str, pull: list[str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns},
            "imagePullSecrets": [{"name": n} for n in pull]}


def namespace_names(count: int, prefix: str = "team") -> list[str]:
    return [f"{prefix}-{i:04d}" for i in range(count)]


def shape_of(ns: str) -> str:
    return SHAPES[int(ns.rsplit("-", 1)[1]) % len(SHAPES)]


def namespace_objects(ns: str, verify_registry: str,
                      verify_login: tuple[str, str] = ("robot", SENTINEL)) -> list[dict[str, Any]]:
    """The objects of one namespace (not the Namespace itself), by its shape."""
    reg_a, reg_b = PRIVATE
    shape = shape_of(ns)
    if shape == "covered":
        return [_secret("pull", ns, reg_a), _account(ns, ["pull"]),
                _deployment("web", ns, [f"{reg_a}/shop/web:1.4", "nginx:1.27"])]
    if shape == "missing":
        return [_deployment("api", ns, [f"{reg_a}/shop/api:2.0"]), _deployment("cache", ns, ["redis:7"])]
    if shape == "broken":
        return [_secret("bad", ns, reg_b, raw='{"auths": []}'),
                _deployment("batch", ns, [f"{reg_b}/data/batch:3"], pull=["bad"])]
    if shape == "dangling":
        return [_secret("pull", ns, reg_b), _deployment("etl", ns, [f"{reg_b}/data/etl:1"], pull=["pull", "pull", "gone"])]
    return [_secret("remote", ns, verify_registry, verify_login), _account(ns, ["remote"]),
            _deployment("app", ns, [f"{verify_registry}/team/app:v1"])]


def objects(count: int, verify_registry: str = "127.0.0.1:9", prefix: str = "team") -> list[dict[str, Any]]:
    """A manifest dump of `count` namespaces."""
    return [obj for ns in namespace_names(count, prefix) for obj in namespace_objects(ns, verify_registry)]


def populate(kube: Any, count: int, verify_registry: str, verify_login: tuple[str, str],
             label: dict[str, str]) -> list[str]:
    """Create `count` namespaces (unique names, same shapes, labelled `label`) in `kube`; returns their names."""
    names = []
    for i in range(count):
        ns = f"{kube.unique_ns('rep')}-{i:04d}"
        kube.create_namespace(ns, labels=label)
        for obj in namespace_objects(ns, verify_registry, verify_login):
            if obj["kind"] == "ServiceAccount":  # the namespace's default one exists already
                make_sa(kube, ns, "default", pull=[ref["name"] for ref in obj["imagePullSecrets"]])
            else:
                kube.create(obj)
        names.append(ns)
    return names
