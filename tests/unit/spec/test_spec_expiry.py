"""When a spec's credentials expire: `expiresAt`, a source Secret's `regcred.dev/expires-at` annotation, a plugin's
answer; each known per registry with its origin, a malformed annotation one clear line."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regcred.core.spec.expiry import (
    EXPIRES_AT_ANNOTATION,
    Expiry,
    annotated_expiry,
    earliest,
    parse_time,
    rfc3339,
)
from regcred.core.spec.model import SpecInvalid, parse_document
from regcred.shells.spec.source import resolve_all
from tests.support.memapi import MemApi

JAN, FEB, MAR = "2027-01-31T00:00:00Z", "2027-02-28T00:00:00Z", "2027-03-31T12:00:00+02:00"


def secret(name: str, data: dict[str, str], expires: str | None, type_: str = "Opaque") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "vault"}
    if expires is not None:
        meta["annotations"] = {EXPIRES_AT_ANNOTATION: expires, "other.example.com/note": "x"}
    return {"kind": "Secret", "type": type_, "metadata": meta,
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def spec(*registries: dict[str, Any]) -> Any:
    return parse_document({"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential",
                           "metadata": {"name": "harbor"}, "spec": {"registries": list(registries)}}, "h.yaml")


def resolved(api: MemApi, *registries: dict[str, Any]) -> tuple[Expiry, ...]:
    (desired,) = resolve_all([spec(*registries)], lambda ns, name: api.get_optional("Secret", name, ns))
    return desired.expiries


def test_each_registry_gets_its_expiry_and_where_it_comes_from() -> None:
    api = MemApi()
    config = {"auths": {"a.example.com": {"auth": base64.b64encode(b"r:t").decode()},
                        "b.example.com": {"auth": base64.b64encode(b"r:t").decode()}}}
    api.add(secret("pw", {"password": "robot-pw"}, JAN))
    api.add(secret("cfg", {".dockerconfigjson": json.dumps(config)}, MAR, "kubernetes.io/dockerconfigjson"))
    api.add(secret("plain", {"password": "pw"}, None))
    api.log.clear()
    found = resolved(api,
                     {"server": "harbor.example.com", "username": "robot$ci", "expiresAt": FEB,
                      "passwordFrom": {"secretKeyRef": {"namespace": "vault", "name": "pw", "key": "password"}}},
                     {"fromSecret": {"namespace": "vault", "name": "cfg"}},
                     {"server": "plain.example.com", "username": "u",
                      "passwordFrom": {"secretKeyRef": {"namespace": "vault", "name": "plain", "key": "password"}}})
    assert sorted(e for e in api.log if e[0] == "get") == [  # the password's Secret gives its expiry too: one read
        ("get", "Secret", "vault", "cfg"), ("get", "Secret", "vault", "plain"), ("get", "Secret", "vault", "pw")]
    annotation = f"annotation {EXPIRES_AT_ANNOTATION} of Secret vault"
    assert set(found) == {
        Expiry("harbor.example.com", parse_time(FEB) or 0, "expiresAt"),
        Expiry("harbor.example.com", parse_time(JAN) or 0, f"{annotation}/pw"),
        Expiry("a.example.com", parse_time(MAR) or 0, f"{annotation}/cfg"),
        Expiry("b.example.com", parse_time(MAR) or 0, f"{annotation}/cfg")}
    first = earliest(found)
    assert first is not None and (first.registry, rfc3339(first.at)) == ("harbor.example.com", JAN)
    assert parse_time(MAR) == parse_time("2027-03-31T10:00:00Z")  # an offset is honoured


def test_a_malformed_annotation_is_one_line_naming_the_secret_and_the_fix() -> None:
    api = MemApi()
    api.add(secret("pw", {"password": "robot-pw"}, "next tuesday"))
    with pytest.raises(SpecInvalid) as info:
        resolved(api, {"server": "h.example.com", "username": "u",
                       "passwordFrom": {"secretKeyRef": {"namespace": "vault", "name": "pw", "key": "password"}}})
    assert info.value.problems == [
        f"h.yaml: spec.registries[0].passwordFrom.secretKeyRef: Secret vault/pw: annotation {EXPIRES_AT_ANNOTATION} "
        "is not an RFC 3339 time (e.g. 2027-01-31T00:00:00Z) (fix or remove the annotation)"]


@given(st.one_of(st.text(max_size=80), st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=3)))
def test_any_annotation_value_is_a_time_or_a_problem_never_a_crash(value: Any) -> None:
    at, problem = annotated_expiry({"metadata": {"annotations": {EXPIRES_AT_ANNOTATION: value}}})
    assert (at is None) != (problem is None) or (value is None and at is None and problem is None)


def test_a_time_without_a_zone_or_a_date_only_is_not_taken() -> None:
    assert parse_time("2027-01-31T00:00:00") is None  # no zone: ambiguous
    assert parse_time("2027-01-31") is None
    assert parse_time("2027-01-31t00:00:00z") == parse_time(JAN)
