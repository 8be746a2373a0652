"""`KubeApi`: exactly the Kubernetes API calls the use cases make, as a structural type.

The HTTP client in `regcred.shells.kube.client` satisfies it without naming it (mypy checks that below), and
so do the tests' in-memory fakes: a use case can run against either.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

Obj = dict[str, Any]  # a Kubernetes object as the API returns it (never a typed model: no field is dropped)


class KubeApi(Protocol):
    """Objects in, objects out; each failure raises a `regcred.shells.kube` error (KubeNotFound, KubeConflict...)."""

    @property
    def default_namespace(self) -> str:
        """The kubeconfig context's namespace (`default` when it names none)."""
        ...

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        """One object; raises KubeNotFound when it does not exist."""
        ...

    def get_optional(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """One object, or None when it does not exist."""
        ...

    def iter_list(self, kind: str, namespace: str | None = None, *, label_selector: str | None = None,
                  field_selector: str | None = None) -> Iterator[Obj]:
        """The objects of a kind in one namespace (or all: None), read page by page."""
        ...

    def list(self, kind: str, namespace: str | None = None, *, label_selector: str | None = None,
             field_selector: str | None = None) -> list[Obj]:
        """`iter_list`, read to the end."""
        ...

    def create(self, obj: Obj, namespace: str | None = None, *, dry_run: bool = False) -> Obj:
        """POST; `dry_run` sends dryRun=All (the server checks, nothing is stored)."""
        ...

    def patch(self, kind: str, name: str, namespace: str | None, patch: Any, *, patch_type: str = "merge",
              dry_run: bool = False) -> Obj:
        """PATCH (json | merge | strategic); a resourceVersion in a merge patch makes it conditional (409)."""
        ...

    def delete(self, kind: str, name: str, namespace: str | None = None, *, dry_run: bool = False) -> Obj:
        """DELETE one object."""
        ...


if TYPE_CHECKING:  # the HTTP client must keep satisfying the protocol: mypy fails here when it does not
    from regcred.shells.kube.client import KubeApi as HttpKubeApi

    def _http_client_is_a_kube_api(api: HttpKubeApi) -> KubeApi:
        return api
