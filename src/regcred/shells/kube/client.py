"""A thin Kubernetes API client: raw JSON objects over lightkube's authenticated httpx client.

Requests go through the httpx client that `kubeconfig.connect` built (TLS, tokens, exec plugins) with plain dict
bodies, so an object is written back exactly as read; every request passes the client-side token bucket
(`ratelimit`), and every failure becomes a regcred error with one clear line (`errors`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
from lightkube.core.exceptions import ConfigError as PluginError

from regcred.core.errors import InputError
from regcred.shells.kube.errors import (
    KubeApiError,
    KubeConfigError,
    KubeNotFound,
    KubeUnreachable,
    error_from_status,
    retry_after_seconds,
)
from regcred.shells.kube.ratelimit import RequestCounter, TokenBucket
from regcred.shells.kube.resources import ResourceType, resource_type

FIELD_MANAGER = "regcred"
LIST_PAGE_SIZE = 500
PATCH_CONTENT_TYPES = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}


def _verb(method: str, name: str | None) -> str:
    return {"GET": "get" if name else "list", "POST": "create", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete"}.get(method, method.lower())


class KubeApi:
    """Objects in, objects out (dicts); every failure is a regcred error with one clear line."""

    def __init__(self, http: httpx.Client, *, server: str, namespace: str, qps: float = 50.0,
                 burst: int = 100) -> None:
        self.http = http
        self.server = server
        self.default_namespace = namespace
        self.bucket = TokenBucket(qps, burst)
        self.requests = RequestCounter()
        # Called after every request with (verb, HTTP status or None): the controller's metrics.
        self.observer: Callable[[str, int | None], None] | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> KubeApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -----------------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, rt: ResourceType, name: str | None = None,
                namespace: str | None = None, params: dict[str, str] | None = None, body: Any = None,
                content_type: str = "application/json") -> Any:
        """Send one request; return the decoded JSON body or raise the regcred error for the answer."""
        self.bucket.acquire()
        self.requests.add(method)
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        code: int | None = None  # None: no answer (the observer's "<error>")
        try:
            response = self.http.request(method, path, params=params, json=body, headers=headers)
            code = response.status_code
        except httpx.TimeoutException as exc:
            raise KubeUnreachable(f"cannot reach the Kubernetes API at {self.server}: timed out ({type(exc).__name__})",
                                  hint="check the network, the server address and --context") from None
        except httpx.HTTPError as exc:
            raise KubeUnreachable(f"cannot reach the Kubernetes API at {self.server}: {_describe(exc)}",
                                  hint="check the server address, the network and --context") from None
        except (PluginError, OSError, ValueError, KeyError, TypeError) as exc:  # the auth flow (exec plugin, token file)
            if type(self.http.auth).__name__ == "ExecAuth":
                raise KubeConfigError(
                    f"cannot get credentials from the kubeconfig's exec plugin: {_plugin_failure(exc)}",
                    hint="run the plugin by hand, or log in again") from None
            if isinstance(exc, (PluginError, OSError)):  # a token file that is missing or unreadable
                why = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) else _plugin_failure(exc)
                raise KubeConfigError(f"cannot read the kubeconfig's credentials: {why}",
                                      hint="check the token file the kubeconfig names") from None
            raise
        finally:
            if self.observer is not None:
                self.observer(_verb(method, name), code)
        if response.status_code >= 400:
            try:
                decoded: Any = response.json()
            except ValueError:
                decoded = response.text.strip()[:200]
            error = error_from_status(response.status_code, decoded, verb=_verb(method, name),
                                      resource=rt.qualified, namespace=namespace, name=name, sent=body)
            if isinstance(error, KubeApiError):
                error.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise error
        try:
            return response.json()
        except ValueError:
            raise KubeUnreachable(f"the Kubernetes API at {self.server} answered something that is not JSON "
                                  f"to {method} {path}") from None

    # -- objects -------------------------------------------------------------------------------------------

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """One object (raises KubeNotFound when absent)."""
        rt = resource_type(kind)
        obj: dict[str, Any] = self.request("GET", rt.item_path(name, namespace), rt=rt, name=name, namespace=namespace)
        return obj

    def get_optional(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return self.get(kind, name, namespace)
        except KubeNotFound:
            return None

    def iter_list(self, kind: str, namespace: str | None = None, *, label_selector: str | None = None,
                  field_selector: str | None = None, page_size: int = LIST_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Objects of a kind in one namespace, or in all (namespace None), page by page.

        List items carry no kind/apiVersion on a real server: they are filled in here.
        """
        rt = resource_type(kind)
        params: dict[str, str] = {"limit": str(page_size)}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        while True:
            try:
                page = self.request("GET", rt.collection_path(namespace), rt=rt, namespace=namespace, params=params)
            except KubeApiError as exc:
                if exc.status == 400 and label_selector:  # the only user text in a list request: exit 2
                    raise InputError(f"invalid label selector {label_selector!r}: {exc.detail}",
                                     hint="e.g. team=a,env!=prod or 'env in (a,b)'") from None
                raise
            for item in page.get("items") or []:
                item.setdefault("apiVersion", rt.api_version)
                item.setdefault("kind", rt.kind)
                yield item
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            params = {**params, "continue": token}

    def list(self, kind: str, namespace: str | None = None, *, label_selector: str | None = None,
             field_selector: str | None = None) -> list[dict[str, Any]]:
        return list(self.iter_list(kind, namespace, label_selector=label_selector, field_selector=field_selector))

    def create(self, obj: dict[str, Any], namespace: str | None = None, *, dry_run: bool = False) -> dict[str, Any]:
        """POST obj (its kind picks the resource); dry_run sends dryRun=All (nothing persisted)."""
        rt = resource_type(str(obj.get("kind")))
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        body = {"apiVersion": rt.api_version, **obj}
        created: dict[str, Any] = self.request(
            "POST", rt.collection_path(ns), rt=rt, name=(obj.get("metadata") or {}).get("name"), namespace=ns,
            params=_write_params(dry_run), body=body,
        )
        return created

    def replace(self, obj: dict[str, Any], namespace: str | None = None, *, dry_run: bool = False) -> dict[str, Any]:
        """PUT obj; a metadata.resourceVersion in it makes the write conditional (409 when stale)."""
        rt = resource_type(str(obj.get("kind")))
        meta = obj.get("metadata") or {}
        ns = namespace or meta.get("namespace")
        name = str(meta.get("name"))
        replaced: dict[str, Any] = self.request(
            "PUT", rt.item_path(name, ns), rt=rt, name=name, namespace=ns, params=_write_params(dry_run), body=obj,
        )
        return replaced

    def patch(self, kind: str, name: str, namespace: str | None, patch: Any, *, patch_type: str = "merge",
              dry_run: bool = False, subresource: str | None = None) -> dict[str, Any]:
        """PATCH with patch_type json | merge | strategic; `subresource="status"` writes a custom resource's status."""
        rt = resource_type(kind)
        path = rt.item_path(name, namespace) + (f"/{subresource}" if subresource else "")
        patched: dict[str, Any] = self.request(
            "PATCH", path, rt=rt, name=name, namespace=namespace,
            params=_write_params(dry_run), body=patch, content_type=PATCH_CONTENT_TYPES[patch_type],
        )
        return patched

    def delete(self, kind: str, name: str, namespace: str | None = None, *, dry_run: bool = False) -> dict[str, Any]:
        rt = resource_type(kind)
        params = {"dryRun": "All"} if dry_run else None
        deleted: dict[str, Any] = self.request("DELETE", rt.item_path(name, namespace), rt=rt, name=name,
                                               namespace=namespace, params=params)
        return deleted


def _write_params(dry_run: bool) -> dict[str, str]:
    params = {"fieldManager": FIELD_MANAGER}
    if dry_run:
        params["dryRun"] = "All"
    return params


def _describe(exc: httpx.HTTPError) -> str:
    """A short cause for a transport error: refused, DNS, TLS..."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    low = text.lower()
    if "certificate" in low or "ssl" in low or "tls" in low:
        return f"TLS failure: {text}"
    if "name or service not known" in low or "nodename nor servname" in low or "name resolution" in low:
        return f"cannot resolve the host name: {text}"
    if "refused" in low:
        return "connection refused"
    return text


def _plugin_failure(exc: Exception) -> str:
    """Why the exec plugin gave no token; never its output (a token may be in it), at most its stderr's first line."""
    if isinstance(exc, FileNotFoundError):
        return f"executable {exc.filename} not found"
    if isinstance(exc, OSError):
        return f"cannot run it: {exc.strerror or type(exc).__name__}"
    if isinstance(exc, PluginError):  # lightkube: the plugin exited non-zero ("Exec CMD returned N: stderr")
        first = (str(exc).strip().splitlines() or [""])[0]
        return first[:200]
    return "its output is not an ExecCredential with status.token"
