"""Which keys an event enqueues (pure), and selectors answered from a cache as the API server would."""

from __future__ import annotations

from typing import Any

import pytest

from regcred.core.cluster.serviceaccounts import ADDED_ANNOTATION
from regcred.core.controller.keys import keys_for_event
from regcred.core.controller.selectors import field_predicate, label_predicate
from regcred.core.errors import InputError
from regcred.core.spec.model import parse_document


def spec(name: str, include: list[str], *, selector: dict[str, str] | None = None, secret_name: str | None = None,
         source: tuple[str, str] | None = None, accounts: list[str] | None = None) -> Any:
    registry: dict[str, Any] = {"server": "r.example.com", "username": "u", "passwordFrom": {"env": "X"}}
    if source:
        registry["passwordFrom"] = {"secretKeyRef": {"namespace": source[0], "name": source[1], "key": "k"}}
    body: dict[str, Any] = {"registries": [registry], "namespaces": {"include": include}}
    if selector:
        body["namespaces"]["selector"] = {"matchLabels": selector}
    if secret_name:
        body["secretName"] = secret_name
    if accounts:
        body["serviceAccounts"] = accounts
    return parse_document({"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential",
                           "metadata": {"name": name}, "spec": body}, name)


def ns(name: str, **labels: str) -> dict[str, Any]:
    return {"kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def obj(kind: str, name: str, namespace: str, labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": name, "namespace": namespace, "labels": labels or {},
                                       "annotations": annotations or {}}}


SPECS = [spec("a", ["*"], selector={"team": "a"}), spec("b", ["b-*"], secret_name="bsec", accounts=["default", "ci-*"]),
         spec("c", ["*"], source=("vault", "src"))]
NAMESPACES = [ns("x", team="a"), ns("b-1"), ns("y")]


def test_namespace_events_name_the_specs_that_match_before_or_after() -> None:
    assert keys_for_event("Namespace", None, ns("x", team="a"), SPECS) == {("a", "x"), ("c", "x")}
    left = keys_for_event("Namespace", ns("x", team="a"), ns("x"), SPECS)
    assert ("a", "x") in left  # leaving the selector: its key cleans up
    assert keys_for_event("Namespace", None, ns("b-2"), SPECS) == {("b", "b-2"), ("c", "b-2")}


def test_service_account_events() -> None:
    assert keys_for_event("ServiceAccount", None, obj("ServiceAccount", "ci-1", "b-1"), SPECS, NAMESPACES) == \
        {("b", "b-1")}
    assert keys_for_event("ServiceAccount", None, obj("ServiceAccount", "ci-1", "y"), SPECS, NAMESPACES) == set()
    recorded = obj("ServiceAccount", "builder", "y", annotations={ADDED_ANNOTATION: "bsec"})
    assert keys_for_event("ServiceAccount", recorded, None, SPECS, NAMESPACES) == {("b", "y")}
    assert keys_for_event("ServiceAccount", None, obj("ServiceAccount", "default", "x"), SPECS, NAMESPACES) == \
        {("a", "x"), ("c", "x")}


def test_secret_events_managed_same_name_and_sources() -> None:
    managed = obj("Secret", "old-name", "y", labels={"regcred.dev/credential": "b"})
    assert keys_for_event("Secret", managed, None, SPECS, NAMESPACES) == {("b", "y")}
    assert keys_for_event("Secret", obj("Secret", "bsec", "z"), None, SPECS, NAMESPACES) == {("b", "z")}
    rotated = keys_for_event("Secret", obj("Secret", "src", "vault"), obj("Secret", "src", "vault"), SPECS, NAMESPACES)
    assert rotated == {("c", "x"), ("c", "b-1"), ("c", "y")}
    assert keys_for_event("Secret", obj("Secret", "unrelated", "y"), None, SPECS, NAMESPACES) == set()


def test_spec_events_fan_out_to_every_namespace() -> None:
    doc = {"kind": "RegistryCredential", "metadata": {"name": "a"}}
    assert keys_for_event("RegistryCredential", None, doc, SPECS, NAMESPACES) == {("a", "x"), ("a", "b-1"), ("a", "y")}
    assert keys_for_event("Pod", None, obj("Pod", "p", "x"), SPECS, NAMESPACES) == set()


def test_spec_status_writes_fan_out_to_nothing() -> None:
    """The controller's own status writes (and finalizer patches) leave the generation alone: no key, else every
    status write would re-plan every namespace; a spec change or a deletion still fans out."""
    old = {"kind": "RegistryCredential", "metadata": {"name": "a", "generation": 3}}
    status = {**old, "status": {"secretsInSync": 2}}
    assert keys_for_event("RegistryCredential", old, status, SPECS, NAMESPACES) == set()
    changed = {"kind": "RegistryCredential", "metadata": {"name": "a", "generation": 4}}
    assert len(keys_for_event("RegistryCredential", old, changed, SPECS, NAMESPACES)) == 3
    deleting = {"kind": "RegistryCredential", "metadata": {**old["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert len(keys_for_event("RegistryCredential", old, deleting, SPECS, NAMESPACES)) == 3
    unversioned = {"kind": "RegistryCredential", "metadata": {"name": "a"}}
    assert len(keys_for_event("RegistryCredential", unversioned, unversioned, SPECS, NAMESPACES)) == 3


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ("a=1", {"a": "1"}, True), ("a==1", {"a": "2"}, False), ("a!=1", {}, True), ("a", {"a": ""}, True),
    ("!a", {"a": "x"}, False), ("a in (x, y),b", {"a": "y", "b": "1"}, True), ("a notin (x)", {"a": "x"}, False),
    ("a in (x)", {}, False), ("", {}, True),
])
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert label_predicate(selector)({"metadata": {"labels": labels}}) is expected


def test_field_selectors_and_bad_input() -> None:
    secret = {"metadata": {"name": "n", "namespace": "s"}, "type": "Opaque"}
    assert field_predicate("metadata.name=n,metadata.namespace==s")(secret)
    assert not field_predicate("metadata.name!=n")(secret)
    assert field_predicate("type=Opaque")(secret)
    with pytest.raises(InputError):
        label_predicate("a b c")


def test_layered_caches_and_write_through_keep_the_newest() -> None:
    from regcred.controller.cachedapi import Layered, Store

    def secret(name: str, rv: str) -> dict[str, Any]:
        return {"kind": "Secret", "metadata": {"name": name, "namespace": "n", "resourceVersion": rv}}

    managed, sources = Store([secret("harbor", "5")]), Store([secret("src", "3")])
    both = Layered(managed, sources)
    assert both.get("src", "n") == secret("src", "3") and both.get("harbor", "n") == secret("harbor", "5")
    assert sorted(o["metadata"]["name"] for o in both.list("n")) == ["harbor", "src"]
    both.write_through(secret("src", "4"))
    assert sources.get("src", "n") == secret("src", "4") and managed.get("src", "n") is None
    both.write_through(secret("harbor", "4"))  # older than the cached copy (a watch event won): kept
    assert managed.get("harbor", "n") == secret("harbor", "5")
    both.write_through(secret("new", "9"))
    assert managed.get("new", "n") is not None


def test_an_object_no_cache_holds_goes_where_its_watch_would_bring_it() -> None:
    import threading

    from regcred.controller.cachedapi import Layered
    from regcred.controller.informer import Informer
    from regcred.controller.manager import MANAGED, SOURCES
    from regcred.core.controller.cachefields import secret_fields, secret_identity_fields

    managed = Informer(None, "Secret", label_selector=MANAGED, transform=secret_fields,  # type: ignore[arg-type]
                       stop=threading.Event())
    sources = Informer(None, "Secret", label_selector=SOURCES,  # type: ignore[arg-type]
                       transform=secret_identity_fields, stop=threading.Event())
    both = Layered(managed, sources)
    theirs = {"kind": "Secret", "type": "Opaque", "data": {"token": "c2VjcmV0"},
              "metadata": {"name": "harbor", "namespace": "n", "resourceVersion": "4"}}
    both.write_through(theirs)  # another owner's Secret, read after the create's 409
    assert managed.get("harbor", "n") is None  # never in the managed cache, where it would stay for ever
    assert sources.get("harbor", "n") == {"apiVersion": None, "kind": "Secret", "type": "Opaque",
                                          "metadata": theirs["metadata"]}  # identity only, no data
    ours = {**theirs, "metadata": {**theirs["metadata"], "name": "mine",
                                   "labels": {"app.kubernetes.io/managed-by": "regcred"}}}
    both.write_through(ours)
    assert managed.get("mine", "n") is not None and sources.get("mine", "n") is None
