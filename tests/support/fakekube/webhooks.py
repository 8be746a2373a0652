"""The MutatingAdmissionWebhook plugin: which registered webhooks a create calls, the call, and what its answer does.

Why faithful here: the product's webhook and its failure modes are tested against this as well as against a real
apiserver. As kube-apiserver v1.36 does (recorded in api-responses-controller.md, section 6): configurations in
name order, webhooks in list order; rules, namespaceSelector and objectSelector decide; the AdmissionReview v1 is
POSTed to ``clientConfig.url?timeout=<timeoutSeconds>s`` verified against ``caBundle``; ``failurePolicy: Ignore``
covers only *call* failures (refused, timeout, bad answer, wrong uid, patch without patchType), while a patch that
does not apply is a 500 whatever the policy; a denial carries the webhook's code; ``response.warnings`` become
Warning headers; ``reinvocationPolicy: IfNeeded`` webhooks run again (after the built-in plugins) when a later
webhook changed the object. Webhooks are called without the store lock held: they may call the API back.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from .admission import builtin_plugins, check_namespace
from .defaults import default_object
from .errors import ApiError, bad_request, status
from .patch import PatchFailed, apply_ops
from .request import deep_copy
from .resources import BY_KEY, ResourceType
from .selectors import Requirement, labels_match

if TYPE_CHECKING:
    from .request import ApiRequest
    from .store import Store

MUTATING = "mutatingwebhookconfigurations.admissionregistration.k8s.io"
NAMESPACES = BY_KEY["namespaces"]
EXEMPT = ("mutatingwebhookconfigurations", "validatingwebhookconfigurations")


@dataclass(frozen=True)
class Hook:
    """One webhook of one configuration, as registered (defaults applied)."""

    key: str  # configuration name + index: what reinvocation tracks
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))


class CallFailed(Exception):
    """The call did not give a usable answer: failurePolicy decides."""


def selector_requirements(sel: dict[str, Any] | None) -> list[Requirement] | None:
    """A metav1.LabelSelector as requirements; None for a selector that matches nothing (unknown operator)."""
    reqs = [Requirement(k, "=", (str(v),)) for k, v in ((sel or {}).get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in (sel or {}).get("matchExpressions") or []:
        op = ops.get(expr.get("operator", ""))
        if op is None:
            return None
        reqs.append(Requirement(expr.get("key", ""), op, tuple(expr.get("values") or ())))
    return reqs


def _selects(sel: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
    reqs = selector_requirements(sel)
    return reqs is not None and labels_match(reqs, labels)


def _rule_matches(rule: dict[str, Any], rt: ResourceType, operation: str) -> bool:
    def has(key: str, value: str) -> bool:
        return value in (rule.get(key) or []) or "*" in (rule.get(key) or [])

    resources = rule.get("resources") or []
    scope = rule.get("scope") or "*"
    return (has("operations", operation) and has("apiGroups", rt.group) and has("apiVersions", rt.version)
            and (rt.plural in resources or "*" in resources or "*/*" in resources)
            and (scope == "*" or (scope == "Namespaced") == rt.namespaced))


class Dispatcher:
    """Finds and calls the mutating webhooks for a write; one per FakeKube (keeps HTTP clients alive)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._clients: dict[tuple[str, str], httpx.Client] = {}
        self._lock = threading.Lock()

    def matching(self, rt: ResourceType, obj: dict[str, Any], namespace: str, operation: str = "CREATE") -> list[Hook]:
        """The webhooks to call, in the apiserver's order (call with the store lock held)."""
        if rt.plural in EXEMPT and rt.group == "admissionregistration.k8s.io":
            return []
        configs = [entry.obj for _, entry in self.store.entries(BY_KEY[MUTATING], "")]  # by name
        if not configs:
            return []
        ns_labels: dict[str, str] | None = None
        if rt is NAMESPACES:
            ns_labels = (obj.get("metadata") or {}).get("labels") or {}
        elif rt.namespaced:
            entry = self.store.get(NAMESPACES, "", namespace)
            ns_labels = ((entry.obj["metadata"].get("labels") or {}) if entry is not None else {})
        labels = (obj.get("metadata") or {}).get("labels") or {}
        out = []
        for config in configs:
            for i, spec in enumerate(config.get("webhooks") or []):
                if not any(_rule_matches(r, rt, operation) for r in spec.get("rules") or []):
                    continue
                if ns_labels is not None and not _selects(spec.get("namespaceSelector"), ns_labels):
                    continue
                if not _selects(spec.get("objectSelector"), labels):
                    continue
                out.append(Hook(f"{config['metadata']['name']}/{i}", deep_copy(spec)))
        return out

    def admission(self, req: ApiRequest, rt: ResourceType, obj: dict[str, Any], *, dry: bool, name_generated: bool,
                  sa_wait: float) -> dict[str, Any]:
        """The mutating admission of a create: NamespaceLifecycle, the built-in plugins, then the webhooks."""
        builtin = builtin_plugins(self.store, rt.kind, req.namespace, sa_wait)
        with self.store.lock:
            if rt.namespaced:
                check_namespace(self.store, rt.plural, rt.group, req.namespace, obj["metadata"].get("name", ""))
            builtin(obj)
            hooks = self.matching(rt, obj, req.namespace)
        if not hooks:
            return obj
        obj = self.admit(req, rt, obj, hooks, dry=dry, name_generated=name_generated, builtin=builtin)
        default_object(rt, obj, creating=True)
        return obj

    def admit(self, req: ApiRequest, rt: ResourceType, obj: dict[str, Any], hooks: list[Hook], *, dry: bool,
              name_generated: bool, builtin: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Run the webhooks over ``obj`` (with reinvocation); returns the mutated object or raises the ApiError."""
        if dry:
            for hook in hooks:
                if hook.spec.get("sideEffects") not in ("None", "NoneOnDryRun"):
                    raise bad_request(f'admission webhook "{hook.name}" does not support dry run')
        invoked: list[str] = []  # IfNeeded webhooks already called
        reinvoke: set[str] = set()
        for round_ in (1, 2):
            if round_ == 2:
                if not reinvoke:
                    break
                before = deep_copy(obj)
                builtin(obj)  # the built-in mutating plugins run again on reinvocation
                if obj != before:
                    reinvoke.update(invoked)
            for hook in hooks:
                if round_ == 2 and hook.key not in reinvoke:
                    continue
                changed, obj = self._call(req, rt, obj, hook, dry=dry, name_generated=name_generated)
                if changed:
                    reinvoke.update(k for k in invoked if k != hook.key)
                if hook.spec.get("reinvocationPolicy") == "IfNeeded" and hook.key not in invoked:
                    invoked.append(hook.key)
        return obj

    def _call(self, req: ApiRequest, rt: ResourceType, obj: dict[str, Any], hook: Hook, *, dry: bool,
              name_generated: bool) -> tuple[bool, dict[str, Any]]:
        try:
            response = self._post(req, rt, obj, hook, dry=dry, name_generated=name_generated)
        except CallFailed as exc:
            if hook.spec.get("failurePolicy") == "Ignore":
                return False, obj  # failing open: admitted unchanged, only the apiserver's log knows
            message = f'failed calling webhook "{hook.name}": {exc}'
            raise ApiError(500, status(500, "InternalError", f"Internal error occurred: {message}",
                                       {"causes": [{"message": message}]})) from None
        if not response.get("allowed"):
            st = response.get("status") or {}
            code = int(st.get("code") or 400)
            text = st.get("message") or ""
            message = (f'admission webhook "{hook.name}" denied the request: {text}' if text
                       else f'admission webhook "{hook.name}" denied the request without explanation')
            raise ApiError(code, status(code, st.get("reason") or "", message, st.get("details")))
        req.warnings += [w for w in response.get("warnings") or [] if isinstance(w, str)]
        raw = response.get("patch")
        if not raw:
            return False, obj
        try:
            ops = json.loads(base64.b64decode(raw))
            patched = apply_ops(obj, ops)
        except PatchFailed as exc:  # not a call failure: rejected whatever the policy
            raise ApiError(500, status(500, "InternalError", f"Internal error occurred: {exc}",
                                       {"causes": [{"message": str(exc)}]})) from None
        except ValueError as exc:
            raise ApiError(500, status(500, "InternalError", f"Internal error occurred: {exc}",
                                       {"causes": [{"message": str(exc)}]})) from None
        patched["kind"], patched["apiVersion"] = rt.kind, rt.api_version
        return patched != obj, patched

    def _post(self, req: ApiRequest, rt: ResourceType, obj: dict[str, Any], hook: Hook, *, dry: bool,
              name_generated: bool) -> dict[str, Any]:
        spec = hook.spec
        versions = [v for v in spec.get("admissionReviewVersions") or [] if v in ("v1", "v1beta1")]
        if not versions:
            raise CallFailed("webhook does not accept known AdmissionReview versions")
        api_version = f"admission.k8s.io/{versions[0]}"
        cc = spec.get("clientConfig") or {}
        timeout = int(spec.get("timeoutSeconds") or 10)
        if cc.get("service"):
            svc = cc["service"]
            url = (f"https://{svc.get('name')}.{svc.get('namespace')}.svc:{svc.get('port', 443)}"
                   f"{svc.get('path') or ''}?timeout={timeout}s")
            raise CallFailed(f'failed to call webhook: Post "{url}": service "{svc.get("name")}" not found')
        url = f"{cc.get('url')}?timeout={timeout}s"
        uid = str(uuid.uuid4())
        body = {"kind": "AdmissionReview", "apiVersion": api_version,
                "request": self._request(req, rt, obj, uid, dry=dry, name_generated=name_generated)}
        try:
            resp = self._client(cc).post(url, content=json.dumps(body, separators=(",", ":")).encode(),
                                         timeout=timeout, headers={
                                             "Content-Type": "application/json", "Accept": "application/json, */*",
                                             "User-Agent": "kube-apiserver-admission", "Accept-Encoding": "gzip"})
        except httpx.TimeoutException:
            raise CallFailed(f'failed to call webhook: Post "{url}": context deadline exceeded') from None
        except httpx.ConnectError as exc:
            raise CallFailed(f'failed to call webhook: Post "{url}": {_dial_error(url, exc)}') from None
        except httpx.HTTPError as exc:
            raise CallFailed(f'failed to call webhook: Post "{url}": {exc}') from None
        if resp.status_code < 200 or resp.status_code >= 300:
            raise CallFailed(f"failed to call webhook: an error on the server ({resp.text[:200]!r}) has prevented "
                             "the request from succeeding")
        try:
            review = resp.json()
        except ValueError as exc:
            raise CallFailed(f"received invalid webhook response: {exc}") from None
        response = review.get("response") if isinstance(review, dict) else None
        if not isinstance(response, dict):
            raise CallFailed("received invalid webhook response: webhook response was absent")
        if review.get("apiVersion") != api_version or review.get("kind") != "AdmissionReview":
            raise CallFailed(f'received invalid webhook response: expected webhook response of '
                             f'{api_version}, Kind=AdmissionReview, got {review.get("apiVersion")}, '
                             f'Kind={review.get("kind")}')
        if response.get("uid") != uid:
            raise CallFailed(f'received invalid webhook response: expected response.uid="{uid}", '
                             f'got "{response.get("uid")}"')
        if response.get("patch") and response.get("patchType") != "JSONPatch":
            raise CallFailed("received invalid webhook response: webhook returned response.patch but not "
                             "response.patchType" if not response.get("patchType") else
                             f"received invalid webhook response: webhook returned invalid "
                             f"response.patchType of {response.get('patchType')!r}")
        return response

    @staticmethod
    def _request(req: ApiRequest, rt: ResourceType, obj: dict[str, Any], uid: str, *, dry: bool,
                 name_generated: bool) -> dict[str, Any]:
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        gvr = {"group": rt.group, "version": rt.version, "resource": rt.plural}
        sent = deep_copy(obj)
        meta = sent.setdefault("metadata", {})
        if name_generated:
            meta.pop("name", None)  # the name is generated after admission
        for key in ("uid", "creationTimestamp", "resourceVersion", "generation"):
            meta.pop(key, None)
        if rt.kind == "Pod":
            sent["status"] = {}  # phase and qosClass are set after admission (PrepareForCreate)
        user = req.user
        groups = list(user.groups) if user is not None else []
        if "system:authenticated" not in groups:
            groups.append("system:authenticated")
        out: dict[str, Any] = {"uid": uid, "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr}
        if meta.get("name"):
            out["name"] = meta["name"]
        if req.namespace:
            out["namespace"] = req.namespace
        options: dict[str, Any] = {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}
        if dry:
            options["dryRun"] = ["All"]
        if req.q("fieldManager"):
            options["fieldManager"] = req.q("fieldManager")
        out.update({"operation": "CREATE", "userInfo": {"username": user.name if user else "", "groups": groups},
                    "object": sent, "oldObject": None, "dryRun": dry, "options": options})
        return out

    def _client(self, cc: dict[str, Any]) -> httpx.Client:
        url = urlsplit(str(cc.get("url")))
        key = (f"{url.scheme}://{url.netloc}", str(cc.get("caBundle") or ""))
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                if key[1]:
                    verify = ssl.create_default_context(cadata=base64.b64decode(key[1]).decode("ascii", "replace"))
                else:
                    verify = ssl.create_default_context()
                client = self._clients[key] = httpx.Client(verify=verify, http2=False)
            return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def _dial_error(url: str, exc: Exception) -> str:
    host = urlsplit(url).netloc
    text = str(exc)
    if "refused" in text.lower():
        return f"dial tcp {host}: connect: connection refused"
    if "certificate" in text.lower():
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    return f"dial tcp {host}: {text}"
