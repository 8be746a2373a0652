"""API failures as regcred errors: one line naming the verb, the resource and the namespace.

The server's own Status message is kept (it never holds secret values: the apiserver redacts Secret
contents as `<secret contents redacted>`), prefixed with what regcred was doing.
"""

from __future__ import annotations

from typing import Any

from regcred.core.errors import InputError, OperationFailed


class KubeApiError(OperationFailed):
    """The API answered with an error Status (exit 1: that target failed)."""

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


def where(namespace: str | None) -> str:
    return f"in namespace {namespace}" if namespace else "cluster-wide"


def error_from_status(status_code: int, body: Any, *, verb: str, resource: str, namespace: str | None,
                      name: str | None) -> Exception:
    """The regcred error for an API error answer (body is the decoded Status, or text)."""
    status = body if isinstance(body, dict) else {}
    message = str(status.get("message") or (body if isinstance(body, str) else "") or f"HTTP {status_code}")
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
