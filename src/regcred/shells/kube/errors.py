"""API failures as regcred errors: one line naming the verb, the resource and the namespace.

The server's own Status message is kept, prefixed with what regcred was doing. The apiserver itself redacts
Secret contents (`<secret contents redacted>`), but an admission webhook's denial may quote the request: any
value of the Secret data regcred sent is cut out of the message before it is shown.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from typing import Any

from regcred.core.errors import InputError, OperationFailed


class KubeApiError(OperationFailed):
    """The API answered with an error Status (exit 1: that target failed)."""

    retry_after: float | None = None  # seconds, from a 429/503 answer's Retry-After header

    def __init__(self, message: str, *, status: int, reason: str = "", verb: str = "", resource: str = "",
                 namespace: str | None = None, name: str | None = None, hint: str | None = None,
                 detail: str = "") -> None:
        super().__init__(message, hint=hint)
        self.detail = detail  # the server's own Status message, one line
        self.status = status
        self.reason = reason
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.name = name


class KubeNotFound(KubeApiError):
    """404: the object (or, on create, its namespace) does not exist."""


class NamespaceGone(KubeNotFound):
    """404 about the namespace itself (a create into a namespace that does not, or no longer, exist)."""


class KubeForbidden(KubeApiError):
    """403 from RBAC: the identity lacks a verb on a resource."""


class NamespaceTerminating(KubeApiError):
    """403 NamespaceTerminating: the namespace is being deleted and refuses new objects."""


class KubeConflict(KubeApiError):
    """409: stale resourceVersion on an update, or AlreadyExists on a create (see .reason)."""


class KubeInvalid(KubeApiError):
    """422: the object (or a JSON patch) was rejected."""


class KubeUnreachable(InputError):
    """No answer from the API server (refused, DNS, TLS, timeout). Exit 2."""


class KubeConfigError(InputError):
    """No usable kubeconfig / context / in-cluster configuration. Exit 2."""


class KubeUnauthorized(InputError):
    """401: the credentials of the kubeconfig were refused. Exit 2."""


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (the API server sends whole seconds); None when absent or not a number."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return None if seconds is None or seconds != seconds or seconds < 0 else min(seconds, 3600.0)


def where(namespace: str | None) -> str:
    return f"in namespace {namespace}" if namespace else "cluster-wide"


def _forms(value: str) -> set[str]:
    """A secret value as a message may quote it: raw, JSON-escaped, Go-escaped (<>& as \\u003c...)."""
    escaped = json.dumps(value, ensure_ascii=False)[1:-1]
    go = escaped.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return {value, escaped, go}


def _credential_values(payload: str) -> set[str]:
    """password, auth and token values of a docker config payload (any nesting), when it is JSON."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return set()
    found: set[str] = set()
    todo = [doc]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and key.lower() in ("password", "auth", "identitytoken", "registrytoken"):
                    found.add(value)
                todo.append(value)
        elif isinstance(node, list):
            todo.extend(node)
    return found


def sent_secret_values(body: Any) -> list[str]:
    """Every form of the Secret data in a request body (`data` base64, `stringData` plain), longest first."""
    if not isinstance(body, dict):
        return []
    plain: set[str] = set()
    data = body.get("data")
    for encoded in data.values() if isinstance(data, dict) else ():
        if isinstance(encoded, str) and encoded:
            plain.add(encoded)
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                plain.add(base64.b64decode(encoded, validate=True).decode())
    string_data = body.get("stringData")
    if isinstance(string_data, dict):
        plain |= {v for v in string_data.values() if isinstance(v, str) and v}
    values: set[str] = set()
    for value in plain:
        for secret in {value} | _credential_values(value):
            values |= _forms(secret) | {base64.b64encode(secret.encode()).decode()}
    return sorted((v for v in values if len(v) >= 4), key=len, reverse=True)


def error_from_status(status_code: int, body: Any, *, verb: str, resource: str, namespace: str | None,
                      name: str | None, sent: Any = None) -> Exception:
    """The regcred error for an API error answer (body is the decoded Status, or text; sent: the request body)."""
    status = body if isinstance(body, dict) else {}
    message = str(status.get("message") or (body if isinstance(body, str) else "") or f"HTTP {status_code}")
    for secret in sent_secret_values(sent):
        message = message.replace(secret, "<redacted>")
    message = " ".join(message.split())  # one line, always
    reason = str(status.get("reason") or "")
    details = status.get("details") or {}
    causes = details.get("causes") or [] if isinstance(details, dict) else []
    target = f'{resource} "{name}"' if name else resource
    kw: dict[str, Any] = {
        "status": status_code, "reason": reason, "verb": verb, "resource": resource,
        "namespace": namespace, "name": name, "detail": message,
    }
    if status_code == 401:
        return KubeUnauthorized(
            f"unauthorized: the API server refused the credentials of the kubeconfig ({message})",
            hint="log in again or pick another --context",
        )
    if status_code == 403:
        if any(isinstance(c, dict) and c.get("reason") == "NamespaceTerminating" for c in causes):
            return NamespaceTerminating(
                f"namespace {namespace} is being terminated: cannot {verb} {target} in it", **kw
            )
        return KubeForbidden(f"forbidden: cannot {verb} {target} {where(namespace)} (RBAC): {message}", **kw)
    if status_code == 404:
        if isinstance(details, dict) and details.get("kind") == "namespaces" and resource != "namespaces":
            return NamespaceGone(f"namespace {details.get('name') or namespace} not found: cannot {verb} {target}",
                                 **kw)
        if not isinstance(body, dict):
            return KubeNotFound(f"cannot {verb} {target}: the API server does not serve {resource} "
                                f"(404 page not found)", **kw)
        return KubeNotFound(f"{target} not found {where(namespace)}", **kw)
    if status_code == 409:
        return KubeConflict(f"conflict: cannot {verb} {target} {where(namespace)}: {message}", **kw)
    if status_code == 422:
        return KubeInvalid(f"invalid: cannot {verb} {target} {where(namespace)}: {message}", **kw)
    return KubeApiError(f"cannot {verb} {target} {where(namespace)}: HTTP {status_code} {reason}: {message}", **kw)
