"""MutatingWebhookConfiguration (admissionregistration.k8s.io/v1): the defaults and validation the apiserver applies.

Why: a registration the fake accepts must be one a real apiserver accepts (manifests are tested against both), and
the dispatcher (webhooks.py) reads the defaulted form (scope "*", failurePolicy Fail, timeoutSeconds 10, ...).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from .errors import FieldError

WEBHOOK_ORDER = ("name", "clientConfig", "rules", "failurePolicy", "matchPolicy", "namespaceSelector",
                 "objectSelector", "sideEffects", "timeoutSeconds", "admissionReviewVersions", "reinvocationPolicy",
                 "matchConditions")
RULE_ORDER = ("operations", "apiGroups", "apiVersions", "resources", "scope")
SIDE_EFFECTS = ("None", "NoneOnDryRun")
REVIEW_VERSIONS = ("v1", "v1beta1")
_DNS1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def default_configuration(obj: dict[str, Any]) -> None:
    """SetDefaults_MutatingWebhook and SetDefaults_Rule, in the stored key order."""
    hooks = obj.get("webhooks")
    if not isinstance(hooks, list):
        return
    out = []
    for hook in hooks:
        if not isinstance(hook, dict):
            out.append(hook)
            continue
        hook = dict(hook)
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("namespaceSelector", {})
        hook.setdefault("objectSelector", {})
        hook.setdefault("timeoutSeconds", 10)
        hook.setdefault("reinvocationPolicy", "Never")
        service = (hook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)
        if isinstance(hook.get("rules"), list):
            hook["rules"] = [_ordered({**r, "scope": r.get("scope") or "*"}, RULE_ORDER) if isinstance(r, dict) else r
                             for r in hook["rules"]]
        out.append(_ordered(hook, WEBHOOK_ORDER))
    obj["webhooks"] = out


def _ordered(d: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    return {**{k: d[k] for k in order if k in d}, **{k: v for k, v in d.items() if k not in order}}


def validate_configuration(obj: dict[str, Any]) -> list[FieldError]:
    """ValidateMutatingWebhookConfiguration (v1) for what registrations use."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, hook in enumerate(obj.get("webhooks") or []):
        p = f"webhooks[{i}]"
        name = hook.get("name") or ""
        if not name:
            errs.append(FieldError("Required", f"{p}.name"))
        elif len(name.split(".")) < 3 or not _DNS1123.fullmatch(name):
            errs.append(FieldError("Invalid", f"{p}.name", name,
                                   "should be a domain with at least three segments separated by dots"))
        elif name in seen:
            errs.append(FieldError("Duplicate", f"{p}.name", name))
        seen.add(name)
        errs += _client_config(hook.get("clientConfig") or {}, f"{p}.clientConfig")
        for j, rule in enumerate(hook.get("rules") or []):
            errs += _rule(rule, f"{p}.rules[{j}]")
        effects = hook.get("sideEffects")
        if not effects:
            errs.append(FieldError("Required", f"{p}.sideEffects", detail="must specify one of None, NoneOnDryRun"))
        elif effects not in SIDE_EFFECTS:
            errs.append(FieldError("NotSupported", f"{p}.sideEffects", effects, supported=list(SIDE_EFFECTS)))
        versions = hook.get("admissionReviewVersions") or []
        if not versions:
            errs.append(FieldError("Required", f"{p}.admissionReviewVersions",
                                   detail="must specify one of v1, v1beta1"))
        elif not set(versions) & set(REVIEW_VERSIONS):
            errs.append(FieldError("Invalid", f"{p}.admissionReviewVersions", versions,
                                   "must include at least one of v1, v1beta1"))
        timeout = hook.get("timeoutSeconds")
        if not isinstance(timeout, int) or not 1 <= timeout <= 30:
            errs.append(FieldError("Invalid", f"{p}.timeoutSeconds", timeout,
                                   "the timeout value must be between 1 and 30 seconds"))
        for key, allowed in (("failurePolicy", ("Fail", "Ignore")), ("matchPolicy", ("Equivalent", "Exact")),
                             ("reinvocationPolicy", ("IfNeeded", "Never"))):
            if hook.get(key) not in allowed:
                errs.append(FieldError("NotSupported", f"{p}.{key}", hook.get(key), supported=list(allowed)))
    return errs


def _client_config(cc: dict[str, Any], p: str) -> list[FieldError]:
    url, service = cc.get("url"), cc.get("service")
    if bool(url) == bool(service):
        return [FieldError("Required", p, detail="exactly one of url or service is required")]
    if service:
        return []
    parts = urlsplit(url)
    if parts.scheme != "https":  # the values are the URL's parts, as webhook.ValidateWebhookURL reports them
        return [FieldError("Invalid", f"{p}.url", parts.scheme,
                           "'https' is the only allowed URL scheme; desired format: https://host[/path]")]
    if not parts.hostname:
        return [FieldError("Invalid", f"{p}.url", parts.netloc,
                           "host must be specified; desired format: https://host[/path]")]
    if parts.query:
        return [FieldError("Invalid", f"{p}.url", parts.query, "query parameters are not permitted in the URL")]
    if parts.fragment:
        return [FieldError("Invalid", f"{p}.url", parts.fragment, "fragments are not permitted in the URL")]
    return []


def _rule(rule: dict[str, Any], p: str) -> list[FieldError]:
    errs = [FieldError("Required", f"{p}.{k}") for k in ("operations", "apiGroups", "apiVersions", "resources")
            if not rule.get(k)]
    if rule.get("scope") not in ("*", "Cluster", "Namespaced"):
        errs.append(FieldError("NotSupported", f"{p}.scope", rule.get("scope"),
                               supported=["Cluster", "Namespaced", "*"]))
    return errs
