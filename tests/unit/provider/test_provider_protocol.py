"""The credential-provider protocol, pure: request, strict response decoding, matching, lifetime, spec rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regcred.core.credentials.provider import (
    CredentialProvider,
    PluginResponseError,
    choose,
    lifetime,
    parse_go_duration,
    parse_response,
    request_document,
    request_image,
)
from regcred.core.spec.model import SpecInvalid, parse_document, parse_documents

V1 = "credentialprovider.kubelet.k8s.io/v1"
TOKEN = "s3cr3t-token-value"


def response(**fields: Any) -> bytes:
    base: dict[str, Any] = {"kind": "CredentialProviderResponse", "apiVersion": V1, "cacheKeyType": "Registry",
                            "auth": {"*.dkr.ecr.eu-west-1.amazonaws.com": {"username": "AWS", "password": TOKEN}}}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None}).encode()


@pytest.mark.parametrize(("text", "seconds"), [("10s", 10), ("1h30m", 5400), ("0", 0), ("1.5m", 90), ("500ms", 0.5),
                                               ("-1s", -1), ("10", None), ("1d", None), ("", None), ("s", None)])
def test_go_durations(text: str, seconds: float | None) -> None:
    assert parse_go_duration(text) == seconds


@pytest.mark.parametrize(("image", "server", "asked"), [
    ("nginx:1.25", "docker.io", "docker.io/library/nginx"),
    (None, "registry.example.com:5000", "registry.example.com:5000"),
    (None, "https://r.example.com/v2/team", "r.example.com/team"),
    ("r.example.com/team/app@sha256:" + "a" * 64, "r.example.com", "r.example.com/team/app")])
def test_the_request_names_the_normalised_repository(image: str | None, server: str, asked: str) -> None:
    assert request_image(image, server) == asked
    sent = json.loads(request_document(CredentialProvider("/p", image=asked)))
    assert sent == {"kind": "CredentialProviderRequest", "apiVersion": V1, "image": asked}


def test_a_glob_key_matches_the_image_and_the_first_match_wins() -> None:
    parsed = parse_response(response(auth={"*.dkr.ecr.eu-west-1.amazonaws.com": {"username": "AWS", "password": "a"},
                                           "1.dkr.ecr.eu-west-1.amazonaws.com/app": {"username": "AWS",
                                                                                      "password": "b"}}), V1)
    assert choose(parsed, "1.dkr.ecr.eu-west-1.amazonaws.com/app").password == "b"  # the longer key first
    assert choose(parsed, "1.dkr.ecr.eu-west-1.amazonaws.com/other").password == "a"
    with pytest.raises(PluginResponseError, match="no auth entry matching"):
        choose(parsed, "gcr.io/x")


def test_lifetime_is_the_response_duration_else_the_default() -> None:
    provider = CredentialProvider("/p", default_cache_duration=60)
    assert lifetime(parse_response(response(cacheDuration="12h"), V1), provider) == 43200
    assert lifetime(parse_response(response(), V1), provider) == 60
    assert lifetime(parse_response(response(cacheDuration="0s"), V1), provider) == 0


@pytest.mark.parametrize(("data", "message"), [
    (b"<html>", "not JSON"),
    (b"[1]", "not a JSON object"),
    (response(apiVersion="credentialprovider.kubelet.k8s.io/v1beta1"), "apiVersion 'credentialprovider"),
    (response(apiVersion=TOKEN), "apiVersion another value"),
    (response(kind="Status"), "kind 'Status'"),
    (response(cacheKeyType="Pod"), "no valid cacheKeyType"),
    (response(cacheKeyType=None), "no valid cacheKeyType"),
    (response(cacheDuration="12"), "not a Go duration"),
    (response(auth=[TOKEN]), "auth is not an object"),
    (response(auth={"a.io": {"username": "u", "token": TOKEN}}), "unknown field 'token'"),
    (response(auth={"a.io": {"username": "u", "password": 1}}), "password is not a string"),
    (response(extra=TOKEN), "unknown field 'extra'"),
    (response(Kind="CredentialProviderResponse"), "unknown field 'Kind'"),  # case-sensitive, as apimachinery
    (response()[:-1] + b', "auth": {}}', "duplicate field 'auth'"),
    (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    (b" " * (2 << 20), "larger than"),
])
def test_a_hostile_response_is_one_line_without_its_content(data: bytes, message: str) -> None:
    with pytest.raises(PluginResponseError) as info:
        parse_response(data, V1)
    assert message in info.value.line() and "\n" not in info.value.line()
    assert TOKEN not in info.value.line()


def spec_with(registry: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": "ecr"},
            "spec": {"registries": [registry]}}


def test_a_provider_entry_gets_its_defaults() -> None:
    spec = parse_document(spec_with({"server": "1.dkr.ecr.eu-west-1.amazonaws.com",
                                     "credentialProvider": {"command": "/usr/bin/ecr-credential-provider",
                                                            "env": [{"name": "AWS_PROFILE", "value": "prod"}]}}), "f")
    provider = spec.registries[0].credential_provider
    assert provider == CredentialProvider("/usr/bin/ecr-credential-provider", (), (("AWS_PROFILE", "prod"),), V1,
                                          "1.dkr.ecr.eu-west-1.amazonaws.com", 10.0, 0.0)
    assert spec.servers() == ("1.dkr.ecr.eu-west-1.amazonaws.com",)


@pytest.mark.parametrize(("registry", "message"), [
    ({"server": "*.azurecr.io", "credentialProvider": {"command": "/p"}},
     "spec.registries[0].credentialProvider.image: required when the server '*.azurecr.io' is a glob"),
    ({"server": "a.io", "credentialProvider": {"command": "/p", "image": "b.io/app"}},
     "spec.registries[0].credentialProvider.image: 'b.io/app' is not served by the server 'a.io'"),
    ({"server": "a.io/team", "credentialProvider": {"command": "/p", "image": "a.io/other/app"}},
     "is not served by the server"),
    ({"server": "a.io", "credentialProvider": {"command": "/p", "image": "a.io/App"}}, "must be lowercase"),
    ({"server": "a.io", "credentialProvider": {"command": "/p", "timeout": "0s"}}, "timeout: must be more than 0"),
    ({"server": "a.io", "credentialProvider": {"command": "p"}}, "command: 'p' is not an absolute path"),
    ({"server": "a.io", "credentialProvider": {"command": "/p", "timeout": "10"}}, "'10' is not a Go duration"),
    ({"server": "a.io", "credentialProvider": {"command": "/p"}, "username": "u"}, "give exactly one of"),
])
def test_provider_entries_are_checked_with_one_line_each(registry: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecInvalid) as info:
        parse_document(spec_with(registry), "f.yaml")
    assert any(message in p for p in info.value.problems), info.value.problems


def test_a_glob_server_with_an_image_it_serves_is_valid() -> None:
    spec = parse_document(spec_with({"server": "*.azurecr.io", "credentialProvider": {
        "command": "/p", "image": "team.azurecr.io/app:1.0"}}), "f")
    assert spec.registries[0].credential_provider is not None
    assert spec.registries[0].credential_provider.image == "team.azurecr.io/app"


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=3), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["kind", "apiVersion", "cacheKeyType", "cacheDuration", "auth", "x"]),
                       JSON_VALUES, max_size=5) | JSON_VALUES, st.binary(max_size=40))
def test_any_output_is_a_response_or_one_line(doc: Any, raw: bytes) -> None:
    for data in (json.dumps(doc).encode(), raw, response(auth=doc)):
        try:
            parsed = parse_response(data, V1)
        except PluginResponseError as exc:
            assert "\n" not in exc.line()
            continue
        assert parsed.cache_key_type in ("Image", "Registry", "Global")
        assert all(isinstance(c.username, str) and isinstance(c.password, str) for c in parsed.auth)


def test_two_specs_sharing_a_secret_name_need_the_same_plugin_and_env() -> None:
    def doc(name: str, profile: str) -> dict[str, Any]:
        out = spec_with({"server": "a.io", "credentialProvider": {"command": "/p",
                                                                   "env": [{"name": "PROFILE", "value": profile}]}})
        out["metadata"]["name"] = name
        out["spec"]["secretName"] = "pull"
        return out

    assert len(parse_documents([(doc("a", "prod"), "a.yaml"), (doc("b", "prod"), "b.yaml")])) == 2
    with pytest.raises(SpecInvalid, match="both write Secret 'pull' with different registries"):
        parse_documents([(doc("a", "prod"), "a.yaml"), (doc("b", "dev"), "b.yaml")])


def test_a_static_password_may_say_when_it_expires() -> None:
    entry = {"server": "a.io", "username": "u", "passwordFrom": {"env": "X"}}
    spec = parse_document(spec_with({**entry, "expiresAt": "2027-01-31T00:00:00Z"}), "f")
    assert spec.registries[0].expires_at == 1801353600.0
    assert parse_document(spec_with(entry), "f").registries[0].expires_at is None
    with pytest.raises(SpecInvalid, match=r"expiresAt: '2027-13-01T00:00:00Z' is not a valid time"):
        parse_document(spec_with({**entry, "expiresAt": "2027-13-01T00:00:00Z"}), "f")
    with pytest.raises(SpecInvalid, match="only a passwordFrom credential takes expiresAt"):
        parse_document(spec_with({"server": "a.io", "credentialProvider": {"command": "/p"},
                                  "expiresAt": "2027-01-31T00:00:00Z"}), "f")


def test_a_long_field_name_or_kind_is_not_echoed() -> None:
    for data in (response(kind=TOKEN * 3), response(**{TOKEN * 3: 1}),
                 response(auth={"a.io": {"username": "u", TOKEN * 3: "x"}})):
        with pytest.raises(PluginResponseError) as info:
            parse_response(data, V1)
        assert TOKEN not in info.value.line()
