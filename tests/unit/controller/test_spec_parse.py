"""The reconciler parses a cached RegistryCredential once per uid and resourceVersion: a plugin's refresh reconciles every
namespace twice (the write, then its watch event), and parsing the same object 2,000 times was a tenth of the
controller's time (docs/benchmarks.md, credential-provider refresh)."""

from __future__ import annotations

from typing import Any

import pytest

from regcred.controller import reconciler
from regcred.controller.reconciler import parse_spec
from regcred.core.spec.model import SpecInvalid


def spec(version: str | None, server: str = "r.example.com", uid: str | None = "u1") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "parse-once", "generation": 1}
    if version is not None:
        meta["resourceVersion"] = version
    if uid is not None:
        meta["uid"] = uid
    return {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": meta,
            "spec": {"registries": [{"server": server, "username": "u", "passwordFrom": {"env": "PW"}}],
                     "namespaces": {"include": ["*"]}}}


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = reconciler.parse_document
    monkeypatch.setattr(reconciler, "parse_document", lambda obj, where: calls.append(where) or real(obj, where))
    monkeypatch.setattr(reconciler, "_PARSED", {})
    return calls


def test_one_parse_per_resource_version(parses: list[str]) -> None:
    first = parse_spec(spec("5"))
    assert all(parse_spec(spec("5")) is first for _ in range(10)) and len(parses) == 1
    edited = parse_spec(spec("6", server="other.example.com"))
    assert edited.registries[0].server == "other.example.com" and len(parses) == 2
    assert parse_spec(spec("6")) is edited  # one resourceVersion is one content: never parsed again


def test_a_spec_recreated_under_its_name_is_parsed_again(parses: list[str]) -> None:
    parse_spec(spec("5"))
    assert parse_spec(spec("5", server="other.example.com", uid="u2")).registries[0].server == "other.example.com"
    assert len(parses) == 2


def test_an_object_without_a_uid_or_resource_version_is_parsed_every_time(parses: list[str]) -> None:
    """As from an in-memory API (tests): several of them in one process may give one name the same version."""
    for version, uid in ((None, "u1"), ("5", None)):
        parse_spec(spec(version, uid=uid))
        parse_spec(spec(version, uid=uid))
    assert len(parses) == 4


def test_an_invalid_spec_fails_every_time(parses: list[str]) -> None:
    broken = spec("7")
    broken["spec"]["registries"] = []
    for _ in range(2):
        with pytest.raises(SpecInvalid):
            parse_spec(broken)
    assert len(parses) == 2
