"""The credential-provider rules (pure): matchImages as the kubelet matches them (URLsMatchStr, upstream test
cases), Go durations, the config's validation, merging, and where the kubelet's flags go."""

from __future__ import annotations

import json

import pytest

from regcred.core.credentials.matchimage import matches, never_matches
from regcred.core.errors import ConfigFormatError, InputError
from regcred.core.node import credproviders as cp
from regcred.core.node import flagsources
from regcred.core.node.kubeletflags import parse_units

V1 = "credentialprovider.kubelet.k8s.io/v1"


# kubernetes pkg/credentialprovider keyring_test.go TestURLsMatch and plugin_test.go isImageAllowed cases
@pytest.mark.parametrize(("pattern", "image", "expected"), [
    ("*.kubernetes.io", "prefix.kubernetes.io", True),
    ("prefix.*.io", "prefix.kubernetes.io", True),
    ("prefix.kubernetes.*", "prefix.kubernetes.io", True),
    ("*-good.kubernetes.io", "prefix-good.kubernetes.io", True),
    ("*.kubernetes.io/blah", "prefix.kubernetes.io/blah", True),
    ("prefix.*.io/foo", "prefix.kubernetes.io/foo/bar", True),
    ("*.kubernetes.io:1111/blah", "prefix.kubernetes.io:1111/blah", True),
    ("prefix.*.io:1111/foo", "prefix.kubernetes.io:1111/foo/bar", True),
    ("*.test.io", "test.io", False),
    ("*.*.test.io", "test.io", False),
    ("*.kubernetes.io", "kubernetes.io", False),
    ("*kubernetes.io", "a.kubernetes.io", False),
    ("*-good.kubernetes.io", "prefix-bad.kubernetes.io", False),
    ("*.kubernetes.io:1111/blah", "prefix.kubernetes.io:1112/blah", False),
    ("*.kubernetes.io:1111", "prefix.kubernetes.io/blah", False),
    ("*.dkr.ecr.*.amazonaws.com", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app", True),
    ("docker.io", "docker.io/library/nginx", True),
    ("bar.example.com/pong", "bar.example.com/pongz", True),  # the path is a plain string prefix
    ("https://quay.io", "quay.io/foo", False),  # ParseSchemelessURL puts https:// in front anyway
    ("a[.example.com", "a.example.com/x", False),  # a malformed glob never matches
])
def test_match_images_as_the_kubelet(pattern, image, expected):
    assert matches(pattern, image) is expected


def test_patterns_that_can_never_match_are_named():
    assert "scheme" in never_matches("https://quay.io")
    assert "malformed" in never_matches("a[.example.com")
    assert never_matches("*.gcr.io") is None


@pytest.mark.parametrize(("text", "seconds"), [
    ("12h", 43200), ("0", 0), ("0s", 0), ("1h30m", 5400), ("1.5h", 5400), ("300ms", 0.3), ("-1m", -60),
])
def test_go_durations(text, seconds):
    assert cp.parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "12", "1d", "h", "1 h", "--1h", "12hours"])
def test_durations_go_refuses(text):
    assert cp.parse_go_duration(text) is None


def _config(*providers, **extra):
    return json.dumps({"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig",
                       "providers": list(providers), **extra})


GOOD = {"name": "p", "matchImages": ["*.gcr.io"], "defaultCacheDuration": "1h", "apiVersion": V1}


def test_a_valid_config_in_json_and_yaml():
    assert [p.name for p in cp.parse_config(_config(GOOD), "c.json").providers] == ["p"]
    yaml_text = ("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: CredentialProviderConfig\nproviders:\n"
                 "- name: p\n  matchImages: ['*.gcr.io']\n  defaultCacheDuration: 0s\n  apiVersion: " + V1 + "\n")
    assert cp.parse_config(yaml_text, "c.yaml").providers[0].default_cache_duration == "0s"


@pytest.mark.parametrize(("provider", "reason"), [
    ({**GOOD, "defaultCacheDuration": 0}, "defaultCacheDuration is required"),  # YAML `0` is a number: Go refuses
    ({**GOOD, "apiVersion": "v1"}, "apiVersion 'v1'"),
    ({**GOOD, "matchImages": []}, "at least one pattern"),
    ({**GOOD, "matchImages": ["r.io:port"]}, "not a valid"),
    ({**GOOD, "name": "a b"}, "may not contain"),
    ({**GOOD, "env": [{"name": "A", "valu": "x"}]}, "env must be"),
    ({**GOOD, "tokenAttributes": {}, "apiVersion": "credentialprovider.kubelet.k8s.io/v1beta1"}, "tokenAttributes"),
])
def test_the_kubelets_validation(provider, reason):
    with pytest.raises(ConfigFormatError, match=reason):
        cp.parse_config(_config(provider), "c.json")


def test_every_problem_is_counted_on_one_line():
    with pytest.raises(ConfigFormatError) as info:
        cp.parse_config(_config({"name": "a/b"}), "c.json")
    assert "(and 3 more)" in info.value.line() and "\n" not in info.value.line()


def test_with_and_without_a_provider_keep_the_rest():
    other = {**GOOD, "name": "other"}
    text = cp.with_provider(_config(other), GOOD)
    assert [p["name"] for p in json.loads(text)["providers"]] == ["other", "p"]
    replaced = cp.with_provider(text, {**GOOD, "defaultCacheDuration": "5m"})
    assert json.loads(replaced)["providers"][1]["defaultCacheDuration"] == "5m"
    assert [p["name"] for p in json.loads(cp.without_provider(replaced, "p"))["providers"]] == ["other"]
    assert cp.without_provider(_config(GOOD), "p") is None  # an empty list would stop the kubelet


def test_new_provider_refuses_what_could_never_match():
    with pytest.raises(InputError, match="scheme"):
        cp.check_new_provider(cp.provider_object("p", ["https://r.io"], "1h", V1))


# --- flags -------------------------------------------------------------------------------------------------------

FLAGS = {cp.CONFIG_FLAG: "/etc/c.yaml", cp.BIN_DIR_FLAG: "/opt/bin"}


@pytest.mark.parametrize(("command", "expected"), [
    ("--v=2", "--v=2 --image-credential-provider-config=/etc/c.yaml --image-credential-provider-bin-dir=/opt/bin"),
    ("--image-credential-provider-config /old.yaml --v=2",
     "--v=2 --image-credential-provider-config=/etc/c.yaml --image-credential-provider-bin-dir=/opt/bin"),
    ("--image_credential_provider_bin_dir=/x --v=2",
     "--v=2 --image-credential-provider-config=/etc/c.yaml --image-credential-provider-bin-dir=/opt/bin"),
])
def test_with_flags_sets_each_flag_once(command, expected):
    assert flagsources.with_flags(command, FLAGS) == expected
    assert flagsources.with_flags(expected, FLAGS) == expected


def test_a_variable_with_quotes_round_trips():
    text = 'KUBELET_EXTRA_ARGS="--node-labels=\\"a=b\\" --v=2"\n'
    unit = parse_units([("/etc/systemd/system/kubelet.service",
                         "[Service]\nEnvironmentFile=/etc/default/kubelet\nExecStart=/k $KUBELET_EXTRA_ARGS\n")])
    edit = flagsources.plan_flags(unit, [("/etc/default/kubelet", text)], FLAGS)
    assert edit is not None and edit.variable == "KUBELET_EXTRA_ARGS"
    after = flagsources.flag_sources(unit, [("/etc/default/kubelet", edit.text)], list(FLAGS))
    assert after == {f: (v, "/etc/default/kubelet") for f, v in FLAGS.items()}
    before = flagsources.kubelet_words(unit, [("/etc/default/kubelet", text)])
    words = flagsources.kubelet_words(unit, [("/etc/default/kubelet", edit.text)])
    assert words[: len(before)] == before and "--node-labels=a=b" in words  # the other flags unchanged
    assert flagsources.plan_flags(unit, [("/etc/default/kubelet", edit.text)], FLAGS) is None


@pytest.mark.parametrize("value", ["relative", "/with space", "/a$b", '/q"'])
def test_flag_values_must_be_plain_absolute_paths(value):
    with pytest.raises(InputError):
        flagsources.check_value(cp.CONFIG_FLAG, value)
