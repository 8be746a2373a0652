"""The finalizer writes from a stale copy: what two workers, or a status write, leave the second writer with.

On the fake API and on a real kube-apiserver (the `kube` fixture): the JSON patch's `test` fails (422), the spec
is read again and the write tried once more; a release that another worker already made is not an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from regcred.controller.finalizer import FINALIZER, ensure_finalizer, release_finalizer
from regcred.shells.kube.kubeconfig import ClusterConfig, connect
from tests.kube.controller.test_reconcile import spec_doc
from tests.kube.controller.test_status import SPECS, install_crd


@pytest.fixture
def spec(kube: Any) -> Iterator[dict[str, Any]]:
    install_crd(kube)
    name = kube.unique_ns("fin")
    doc = {**spec_doc(["x"], name=name), "metadata": {"name": name, "finalizers": ["example.com/keep"]}}
    created: dict[str, Any] = kube.request("POST", SPECS, json=doc).json()
    yield created
    kube.request("PATCH", f"{SPECS}/{name}", content=b'{"metadata":{"finalizers":null}}',
                 content_type="application/merge-patch+json")
    kube.request("DELETE", f"{SPECS}/{name}")


def test_adding_from_a_stale_copy_reads_again_and_adds_once(kube: Any, spec: dict[str, Any]) -> None:
    name = spec["metadata"]["name"]
    with connect(ClusterConfig(kubeconfig=str(kube.kubeconfig))) as api:
        first = ensure_finalizer(api, spec)  # the other worker
        assert first["metadata"]["finalizers"] == ["example.com/keep", FINALIZER]
        second = ensure_finalizer(api, spec)  # the same cached copy, now stale
    assert second["metadata"]["finalizers"] == ["example.com/keep", FINALIZER]
    stored = kube.request("GET", f"{SPECS}/{name}").json()
    assert stored["metadata"]["finalizers"] == ["example.com/keep", FINALIZER]


def test_releasing_what_another_worker_released_is_not_an_error(kube: Any, spec: dict[str, Any]) -> None:
    name = spec["metadata"]["name"]
    with connect(ClusterConfig(kubeconfig=str(kube.kubeconfig))) as api:
        held = ensure_finalizer(api, spec)
        assert kube.request("DELETE", f"{SPECS}/{name}").status_code == 200
        deleting = kube.request("GET", f"{SPECS}/{name}").json()
        released = release_finalizer(api, deleting)
        assert released is not None and released["metadata"]["finalizers"] == ["example.com/keep"]
        assert release_finalizer(api, deleting) is None  # stale: re-read, regcred's finalizer is gone
        kube.request("PATCH", f"{SPECS}/{name}", content=b'{"metadata":{"finalizers":null}}',
                     content_type="application/merge-patch+json")  # the other controller lets go: deleted
        assert release_finalizer(api, held) is None  # and from a copy of a spec that no longer exists
