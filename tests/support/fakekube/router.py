"""Request pipeline: fault injection, authentication, routing, authorization, hooks, verbs.

Why this order: it is the apiserver's (authn -> RequestInfo -> authz -> route/405 ->
negotiation -> handler), so a denied request never reveals whether an object exists.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import discovery, events, table
from .admission import new_uid, now
from .auth import Attributes, allowed, forbidden_error
from .errors import (
    ApiError,
    bad_request,
    method_not_allowed,
    not_acceptable,
    not_found,
    status,
    unauthorized,
    unknown_resource,
)
from .request import ApiRequest, Response
from .resources import BY_PATH, GROUP_VERSIONS, REVIEW_GROUPS

if TYPE_CHECKING:
    from .server import FakeKube

NOT_FOUND_TEXT = b"404 page not found\n"
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
@dataclass
class WriteEvent:
    """What ``before_write`` hooks receive: the write about to be applied."""

    method: str
    path: str
    verb: str
    resource: str
    namespace: str
    name: str
    body: bytes
    user: str
    content_type: str = ""


def negotiate(accept: str) -> str | None:
    """Pick json/yaml from Accept; None means 406."""
    if not accept.strip():
        return "json"
    for part in accept.split(","):
        params = part.lower().replace(" ", "")
        mt = params.split(";", 1)[0]
        if ";as=" in params:
            continue  # Table / aggregated discovery variants: fall through to a plain type
        if mt in ("application/json", "*/*", "application/*", "application/vnd.kubernetes.protobuf"):
            return "json"
        if mt == "application/yaml":
            return "yaml"
    return None


def _request_info(req: ApiRequest) -> Attributes:
    """RequestInfoFactory: resource requests get verb/namespace/resource/name/subresource."""
    path = req.path
    parts = [p for p in path.split("/") if p]
    method = req.method
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return Attributes(verb="get" if method in ("GET", "HEAD") else method.lower(), path=path,
                          resource_request=False)
    ns = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        ns = rest[1]
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = "/".join(rest[2:]) if len(rest) > 2 else ""
    watch = (req.q("watch") or "").lower() in ("1", "true")
    verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method)
    if verb is None:
        if method == "DELETE":
            verb = "delete" if name else "deletecollection"
        elif method in ("GET", "HEAD"):
            verb = "watch" if watch else ("get" if name else "list")
        else:
            verb = method.lower()
    req.namespace, req.name, req.subresource, req.verb = ns, name, sub, verb
    return Attributes(verb=verb, group=group, resource=resource, subresource=sub, namespace=ns, name=name,
                      path=path, resource_request=True)


def dispatch(kube: FakeKube, req: ApiRequest) -> tuple[Response, str]:
    """Run the pipeline; returns the response and the chosen output format."""
    fmt = "json"
    try:
        fault = kube.faults.take(lambda f: f.by_path(req.method, req.path))
        if fault is not None and not fault.apply:
            return fault.response(), fmt
        user = kube.auth.authenticate(req.headers.get("authorization"))
        if user is None:
            raise unauthorized()
        req.user = user
        attrs = _request_info(req)
        if fault is None and kube.faults.items:
            key = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
            fault = kube.faults.take(lambda f: f.by_attributes(attrs, key))
            if fault is not None and not fault.apply:
                return fault.response(), fmt
        if not allowed(user, attrs):
            raise forbidden_error(user, attrs)
        if not attrs.resource_request:
            return _non_resource(kube, req), fmt
        negotiated = negotiate(req.headers.get("accept", ""))
        if negotiated is None and not table.wants_table(req):
            raise not_acceptable()
        fmt = negotiated or "json"
        resp = _resource(kube, req, attrs)
        if fault is not None:
            return fault.response(), fmt
        return resp, fmt
    except ApiError as e:
        return Response(e.code, e.body, dict(e.headers)), fmt


def _non_resource(kube: FakeKube, req: ApiRequest) -> Response:
    path = req.path.rstrip("/") or "/"
    parts = [p for p in path.split("/") if p]
    if req.method != "GET":
        return Response(404, NOT_FOUND_TEXT, {"Content-Type": "text/plain; charset=utf-8"})
    aggregated = "as=apigroupdiscoverylist" in req.headers.get("accept", "").lower().replace(" ", "")
    if path in ("/healthz", "/livez", "/readyz"):
        return Response(200, b"ok", {"Content-Type": "text/plain; charset=utf-8"})
    if path == "/version":
        return Response(200, discovery.VERSION)
    if path in ("/api", "/apis") and aggregated:
        body, etag = discovery.aggregated(path == "/api", kube.writer.crds.all())
        return Response(200, body, {"Content-Type": discovery.AGGREGATED, "Cache-Control": "public",
                                    "Etag": f'"{etag}"', "Vary": "Accept"})
    if path == "/api":
        return Response(200, discovery.api_versions(f"{kube.host}:{kube.port}"))
    if path == "/apis":
        return Response(200, discovery.api_group_list(kube.writer.crds.all()))
    doc: dict[str, Any] | None = None
    if parts[:1] == ["api"] and len(parts) == 2:
        doc = discovery.resource_list("", parts[1])
    elif parts[:1] == ["apis"] and len(parts) == 3:
        doc = discovery.resource_list(parts[1], parts[2], kube.writer.crds.all())
    if doc is None:
        return Response(404, NOT_FOUND_TEXT, {"Content-Type": "text/plain; charset=utf-8",
                                              "X-Content-Type-Options": "nosniff"})
    return Response(200, doc)


def _resource(kube: FakeKube, req: ApiRequest, a: Attributes) -> Response:
    parts = [p for p in req.path.split("/") if p]
    version = parts[1] if parts[0] == "api" else parts[2]
    if a.group in REVIEW_GROUPS and version == "v1":
        return _review(kube, req, a)
    custom = kube.writer.crds
    if version not in GROUP_VERSIONS.get(a.group, ()) and not custom.serves(a.group, version):
        return Response(404, NOT_FOUND_TEXT, {"Content-Type": "text/plain; charset=utf-8",
                                              "X-Content-Type-Options": "nosniff"})
    rt = BY_PATH.get((a.group, version, a.resource)) or custom.get(a.group, version, a.resource)
    if rt is not None and rt.custom and a.namespace and not rt.namespaced:
        return Response(404, NOT_FOUND_TEXT, {"Content-Type": "text/plain; charset=utf-8",
                                              "X-Content-Type-Options": "nosniff"})
    status_sub = a.subresource == "status" and rt is not None and "status" in rt.subresources
    if rt is not None and rt.plural == "serviceaccounts" and a.subresource == "token" and req.name:
        if a.verb != "create":
            raise method_not_allowed()
        req.rt = rt
        return _token_request(kube, req)
    if rt is None or (a.subresource and not status_sub) or (
            a.namespace and not rt.namespaced and rt.plural != "namespaces"):
        raise unknown_resource()
    if rt.plural == "namespaces":
        req.namespace = ""
    req.rt = rt
    cluster_wide = rt.namespaced and not req.namespace
    verb = a.verb
    if cluster_wide and (req.name or verb not in ("list", "watch")):
        if req.name:
            raise unknown_resource()
        raise method_not_allowed()
    if req.name and verb == "create":
        raise method_not_allowed()
    if verb == "deletecollection" and "deletecollection" not in rt.verbs:
        raise method_not_allowed()
    if verb in ("create", "update") and req.content_type not in (
            "application/json", "application/yaml", "application/x-yaml", "text/yaml", ""):
        raise ApiError(415, status(415, "UnsupportedMediaType",
                                   "the body of the request was in an unknown format - accepted media types include: "
                                   "application/json, application/yaml, application/vnd.kubernetes.protobuf", {}))
    if verb in WRITE_VERBS:
        if kube.faults.races:
            race = kube.faults.take_race(verb, rt.plural, rt.key, req.name)
            if race is not None:
                kube.concurrent_write(rt, req.namespace, req.name, race.mutate)
        hook: Callable[[WriteEvent], None] | None = kube.before_write
        if hook is not None:
            hook(WriteEvent(req.method, req.path, verb, rt.key, req.namespace, req.name, req.body,
                            req.user.name if req.user else "", req.content_type))
    if rt.group == "events.k8s.io":
        return events.serve_v1(kube, req, verb)
    if status_sub:
        if verb == "get":
            return kube.reader.get(req)
        if verb == "update":
            return kube.writer.update_status(req)
        if verb == "patch":
            return kube.writer.patch(req)
        raise method_not_allowed()
    if table.wants_table(req) and not rt.custom and negotiate(req.headers.get("accept", "")) is None:
        raise not_acceptable()  # Tables are served for custom resources only
    if rt.custom and verb in ("get", "list") and table.wants_table(req):
        return table.table(req, rt, kube.reader.get(req) if verb == "get" else kube.reader.list(req))
    if verb == "get":
        return kube.reader.get(req)
    if verb in ("list", "watch"):
        return kube.reader.list(req)
    if verb == "create":
        return kube.writer.create(req)
    if verb == "update":
        return kube.writer.update(req)
    if verb == "patch":
        return kube.writer.patch(req)
    if verb == "delete":
        return kube.writer.delete(req)
    raise method_not_allowed()  # deletecollection: no scenario deletes a whole collection


def _token_request(kube: FakeKube, req: ApiRequest) -> Response:
    """POST serviceaccounts/<name>/token: a bearer token for system:serviceaccount:<ns>:<name>.

    The identity has no permissions until ``FakeKube.grant`` gives it rules (RBAC bindings).
    """
    rt = req.rt
    assert rt is not None
    with kube.store.lock:
        sa = kube.store.get(rt, req.namespace, req.name)
        if sa is None:
            raise not_found(rt.plural, rt.group, req.name)
        uid = sa.obj["metadata"]["uid"]
    try:
        body = json.loads(req.body or b"{}")
    except ValueError as e:
        raise bad_request(str(e)) from None
    spec = body.get("spec") or {}
    seconds = int(spec.get("expirationSeconds") or 3600)
    name = f"system:serviceaccount:{req.namespace}:{req.name}"
    claims = {"sub": name, "kubernetes.io": {"namespace": req.namespace, "serviceaccount": {"name": req.name,
                                                                                           "uid": uid}}}
    segs = [base64.urlsafe_b64encode(json.dumps(x).encode()).decode().rstrip("=")
            for x in ({"alg": "RS256", "typ": "JWT"}, claims)]
    token = ".".join([*segs, secrets.token_urlsafe(32)])
    kube.auth.add(name, kube.grants.get(name, []), token,
                  groups=("system:serviceaccounts", f"system:serviceaccounts:{req.namespace}"))
    expires = datetime.now(UTC) + timedelta(seconds=seconds)
    out = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
           "metadata": {"name": req.name, "namespace": req.namespace, "uid": new_uid(), "creationTimestamp": now()},
           "spec": {"audiences": spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"],
                    "expirationSeconds": seconds, "boundObjectRef": spec.get("boundObjectRef")},
           "status": {"token": token, "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}}
    return Response(201, out)


def _review(kube: FakeKube, req: ApiRequest, a: Attributes) -> Response:
    plural, kind = REVIEW_GROUPS[a.group]
    if a.resource != plural:
        raise unknown_resource()
    if req.method != "POST":
        raise method_not_allowed()
    if req.content_type not in ("application/json", ""):
        raise ApiError(415, status(415, "UnsupportedMediaType",
                                   "the body of the request was in an unknown format - accepted media types include: "
                                   "application/json, application/yaml, application/vnd.kubernetes.protobuf", {}))
    user = req.user
    assert user is not None
    try:
        body = json.loads(req.body or b"{}")
    except ValueError as e:
        raise bad_request(str(e)) from None
    out: dict[str, Any] = {"kind": kind, "apiVersion": f"{a.group}/v1", "metadata": {}}
    if kind == "SelfSubjectReview":
        out["status"] = {"userInfo": {"username": user.name, "groups": list(user.groups)}}
        return Response(201, out)
    spec = body.get("spec") or {}
    ra = spec.get("resourceAttributes") or {}
    if ra:
        attrs = Attributes(verb=ra.get("verb", ""), group=ra.get("group", ""), resource=ra.get("resource", ""),
                           subresource=ra.get("subresource", ""), namespace=ra.get("namespace", ""),
                           name=ra.get("name", ""))
    else:
        nra = spec.get("nonResourceAttributes") or {}
        attrs = Attributes(verb=nra.get("verb", ""), path=nra.get("path", ""), resource_request=False)
    ok = allowed(user, attrs)
    out["spec"] = spec
    out["status"] = {"allowed": ok} if ok or user.is_admin else {"allowed": False}
    if ok and not user.is_admin:
        out["status"]["reason"] = f'RBAC: allowed by RoleBinding for User "{user.name}"'
    return Response(201, out)
