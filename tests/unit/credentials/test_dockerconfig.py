"""config.json and .dockercfg read as the kubelet reads them, rewritten without losing anything."""

import json

import pytest

from regcred.core.credentials import dockerconfig as dc
from regcred.core.errors import ConfigFormatError


def parse(text: str) -> dc.DockerConfig:
    return dc.parse_config_json(text, "config.json")


def test_auth_overrides_username_and_password() -> None:
    cfg = parse('{"auths":{"r":{"username":"foo","password":"bar","auth":"cGluZzpwb25n"}}}')
    entry = cfg.get("r")
    assert entry is not None and (entry.username, entry.password) == ("ping", "pong")


def test_field_names_match_case_insensitively_and_last_duplicate_wins() -> None:
    cfg = parse('{"Auths":{"r":{"USERNAME":"a","Password":"p","username":"b"}}}')
    entry = cfg.get("r")
    assert entry is not None and (entry.username, entry.password) == ("b", "p")


def test_field_names_fold_like_go_encoding_json() -> None:
    # Go folds each rune with unicode.ToUpper(unicode.ToLower(r)): the long s, the Kelvin sign and the
    # dotted capital I fold onto ASCII letters; 'ß' folds to nothing ASCII, so 'paßword' is not 'password'.
    cfg = parse('{"auth\u017f":{"r":{"u\u017fername":"a","ema\u0130l":"e","paßword":"x","\u212aeep":"y"}}}')
    entry = cfg.get("r")
    assert entry is not None and (entry.username, entry.email, entry.password) == ("a", "e", "")
    assert parse('{"auths":{"r":{"\u00fcsername":"a"}}}').get("r") == dc.Entry("r")


def test_null_entry_is_an_empty_entry_and_null_documents_are_empty() -> None:
    assert parse('{"auths":{"r":null}}').get("r") == dc.Entry("r")
    for text in ("null", "{}", '{"auths":null}', '{"credsStore":"desktop"}'):
        assert parse(text).is_empty
    assert not parse('{"credsStore":"desktop"}').has_auths


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"auths":[]}', "'auths' must be a JSON object, not array"),
        ('{"auths":{"r":{"username":1}}}', "field 'username' must be a string, not number"),
        ('{"auths":{"r":{"email":false}}}', "field 'email' must be a string, not bool"),
        ('{"auths":{"r":"x"}}', "entry must be a JSON object"),
        ('{"auths":{"r":{"auth":"cGFudHM="}}}', "cannot be decoded"),
        ('{"auths":{"r":{"auth":"Zm9vOmJhcg== "}}}', "cannot be decoded"),
        ("[]", "must be a JSON object"),
        ('{"auths":{}', "not valid JSON"),
        ("", "is empty"),
        ('{"auths":{"r":{"username":NaN}}}', "not valid JSON"),
        ('{"HttpHeaders":{"a":1}}', "HttpHeaders"),
    ],
)
def test_invalid_documents_name_the_problem(text: str, reason: str) -> None:
    with pytest.raises(ConfigFormatError) as info:
        parse(text)
    assert reason in info.value.line()
    assert info.value.line().startswith("config.json")


def test_error_names_the_registry_key_but_never_the_secret() -> None:
    with pytest.raises(ConfigFormatError) as info:
        parse('{"auths":{"reg.example.com":{"password":"hunter2","auth":"!!!"}}}')
    assert "'reg.example.com'" in info.value.line()
    assert "hunter2" not in info.value.line()


def test_legacy_layout() -> None:
    cfg = dc.parse_dockercfg('{"https://index.docker.io/v1/":{"auth":"Zm9vOmJhcg==","email":"e"}}', ".dockercfg")
    assert [(e.key, e.username, e.password, e.email) for e in cfg] == [("https://index.docker.io/v1/", "foo", "bar", "e")]
    # config.json content read as legacy: one registry literally named "auths" (derived rule)
    legacy = dc.parse_dockercfg('{"auths":{}}', ".dockercfg")
    assert legacy.registry_keys() == ["auths"]


def test_ignored_fields_are_reported_not_used() -> None:
    cfg = parse('{"auths":{"acr.io":{"identitytoken":"tok"}},"credHelpers":{"gcr.io":"gcloud"}}')
    entry = cfg.get("acr.io")
    assert entry is not None and entry.ignored_fields == ("identitytoken",) and entry.username == ""
    assert cfg.ignored_top_level == ("credHelpers",)


def test_with_entry_keeps_everything_else_in_order() -> None:
    original = {
        "auths": {"a.io": {"auth": "YTpi", "identitytoken": "keep-me"}, "b.io": {"username": "u", "password": "p"}},
        "credsStore": "desktop",
        "HttpHeaders": {"User-Agent": "x"},
    }
    cfg = parse(json.dumps(original))
    raw = dc.with_entry(cfg, "c.io:5000", "alice", "pw", "a@example.com")
    assert raw["credsStore"] == "desktop" and raw["HttpHeaders"] == {"User-Agent": "x"}
    assert raw["auths"]["a.io"] == original["auths"]["a.io"]
    assert list(raw["auths"]) == ["a.io", "b.io", "c.io:5000"]
    assert list(raw["auths"]["c.io:5000"]) == ["username", "password", "email", "auth"]
    assert raw["auths"]["c.io:5000"]["auth"] == "YWxpY2U6cHc="
    assert cfg.raw == original  # the parsed document itself is not mutated


def test_without_entry() -> None:
    cfg = parse('{"auths":{"a.io":{},"b.io":{}},"x":1}')
    assert dc.without_entry(cfg, "a.io") == {"auths": {"b.io": {}}, "x": 1}


def test_written_file_is_read_back_identically() -> None:
    cfg = parse("{}")
    raw = dc.with_entry(cfg, "r.io", "u", "p:ü")
    again = parse(dc.dumps_file(raw))
    assert [(e.key, e.username, e.password) for e in again] == [("r.io", "u", "p:ü")]


def test_reprs_never_show_a_password_or_auth() -> None:
    """A parsed config, a pull Secret, an install plan or a Secret patch may end up in a log or a traceback."""
    import base64 as b64
    import json as js

    from regcred.core.cluster.secretsync import plan_secret
    from regcred.core.credentials.pullsecret import read_pull_secret
    from regcred.core.node.ownership import plan_install

    auth = b64.b64encode(b"u:hunter2").decode()
    doc = {"auths": {"r.io": {"username": "u", "password": "hunter2", "auth": auth}}}
    payload = js.dumps(doc).encode()
    secret = {"metadata": {"name": "s", "namespace": "n"}, "type": "kubernetes.io/dockerconfigjson",
              "data": {".dockerconfigjson": b64.b64encode(payload).decode()}}
    config = dc.parse_config_json(js.dumps(doc), "x")
    managed = {**secret, "metadata": {**secret["metadata"], "labels": {"app.kubernetes.io/managed-by": "regcred"}}}
    objects = [config, config.entries[0], read_pull_secret(secret),
               plan_install(config, [("q.io", "u", "hunter2", "")], {}),
               plan_secret(managed, payload.replace(b"hunter2", b"hunter3"))]
    for obj in objects:
        text = repr(obj)
        assert "hunter" not in text and auth not in text and "aHVudGVy" not in text, text
