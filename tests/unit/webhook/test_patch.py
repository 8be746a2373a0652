"""Which specs want a Pod and the JSON Patch that adds their Secrets: every combination the webhook meets.

The patch is applied with the fake API server's RFC 6902 implementation (the one it applies webhook patches with),
so "applies" means what the API server would do with it, including refusing `/-` on an absent list.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regcred.core.credentials.dockerconfig import parse_config_json
from regcred.core.credentials.keyring import Keyring, build_keyring, lookup_pull_credentials
from regcred.core.spec.model import RegistryCredential, parse_document
from regcred.core.webhook.patch import (
    OPT_OUT_LABEL,
    OPT_OUT_VALUE,
    Injection,
    opted_out,
    pod_images,
    pull_secrets_patch,
    spec_registry_keys,
    wanted_secrets,
)
from tests.support.fakekube.errors import ApiError
from tests.support.fakekube.patch import apply_json_patch


def spec(name: str = "harbor", servers: tuple[str, ...] = ("harbor.example.com",), include: tuple[str, ...] = ("*",),
         match_registries: bool = True, secret: str | None = None, extra: list[dict[str, Any]] | None = None,
         selector: dict[str, str] | None = None) -> RegistryCredential:
    registries: list[dict[str, Any]] = [{"server": s, "username": "u", "passwordFrom": {"env": "PW"}} for s in servers]
    namespaces: dict[str, Any] = {"include": list(include)}
    if selector:
        namespaces["selector"] = {"matchLabels": selector}
    body: dict[str, Any] = {"registries": registries + (extra or []), "namespaces": namespaces,
                            "workloads": {"matchRegistries": match_registries}}
    if secret:
        body["secretName"] = secret
    return parse_document({"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential",
                           "metadata": {"name": name}, "spec": body}, name)


def injection(**kw: Any) -> Injection:
    s = spec(**kw)
    return Injection.of(s, spec_registry_keys(s, lambda ns, name: None))


def pod(*images: str, init: tuple[str, ...] = (), pulls: list[Any] | None = None, labels: dict[str, str] | None = None,
        ephemeral: tuple[str, ...] = ()) -> dict[str, Any]:
    spec_: dict[str, Any] = {"containers": [{"name": f"c{i}", "image": img} for i, img in enumerate(images)]}
    if init:
        spec_["initContainers"] = [{"name": f"i{i}", "image": img} for i, img in enumerate(init)]
    if ephemeral:
        spec_["ephemeralContainers"] = [{"name": f"e{i}", "image": img} for i, img in enumerate(ephemeral)]
    if pulls is not None:
        spec_["imagePullSecrets"] = pulls
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": labels or {}}, "spec": spec_}


def patched(obj: dict[str, Any], secrets: list[str]) -> list[Any] | None:
    ops = pull_secrets_patch(obj, secrets)
    out = apply_json_patch(copy.deepcopy(obj), json.loads(json.dumps(ops)))
    result: list[Any] | None = out["spec"].get("imagePullSecrets")
    return result


# --- the patch ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("before", "after", "ops"), [
    (None, [{"name": "harbor"}], 1),  # no list: the whole list is added
    ([], [{"name": "harbor"}], 1),  # an empty list: appended to
    ([{"name": "other"}], [{"name": "other"}, {"name": "harbor"}], 1),  # the ServiceAccount plugin's entry kept
    ([{"name": "a"}, {"name": "b"}], [{"name": "a"}, {"name": "b"}, {"name": "harbor"}], 1),
    ([{"name": "harbor"}], [{"name": "harbor"}], 0),  # already present: no patch at all
    ([{"name": "a"}, {"name": "harbor"}, {"name": "b"}], [{"name": "a"}, {"name": "harbor"}, {"name": "b"}], 0),
    ([{}, {"name": "a"}], [{}, {"name": "a"}, {"name": "harbor"}], 1),  # an entry without a name is kept
])
def test_the_patch_keeps_every_entry_in_order_and_adds_once(before: list[Any] | None, after: list[Any],
                                                            ops: int) -> None:
    obj = pod("harbor.example.com/app:1", pulls=before)
    assert len(pull_secrets_patch(obj, ["harbor"])) == ops
    assert patched(obj, ["harbor"]) == after


def test_an_absent_list_gets_the_whole_list_and_a_present_one_is_appended_to() -> None:
    assert pull_secrets_patch(pod("x"), ["a", "b"]) == [
        {"op": "add", "path": "/spec/imagePullSecrets", "value": [{"name": "a"}, {"name": "b"}]}]
    assert pull_secrets_patch(pod("x", pulls=[{"name": "sa"}]), ["a", "b"]) == [
        {"op": "add", "path": "/spec/imagePullSecrets/-", "value": {"name": "a"}},
        {"op": "add", "path": "/spec/imagePullSecrets/-", "value": {"name": "b"}}]
    with pytest.raises(ApiError):  # why: the API server refuses `/-` on an absent list (even with Ignore)
        apply_json_patch(pod("x"), [{"op": "add", "path": "/spec/imagePullSecrets/-", "value": {"name": "a"}}])


def test_no_patch_when_it_could_not_apply_or_nothing_is_wanted() -> None:
    assert pull_secrets_patch({"kind": "Pod"}, ["a"]) == []  # no spec object
    assert pull_secrets_patch(pod("x", pulls="oops"), ["a"]) == []  # type: ignore[arg-type]
    assert pull_secrets_patch(pod("x"), []) == []
    assert pull_secrets_patch(pod("x", pulls=[{"name": "a"}]), ["a", "a"]) == []
    assert pull_secrets_patch(pod("x"), ["a", "a"])[0]["value"] == [{"name": "a"}]  # a wanted name twice: once


names = st.sampled_from(["a", "b", "harbor", "other", "regcred", ""])
entries = st.one_of(st.none(), st.lists(st.one_of(names.map(lambda n: {"name": n}), st.just({})), max_size=6))


@given(entries, st.lists(names.filter(bool), max_size=4))
@settings(max_examples=300, deadline=None)  # a shared 2-core machine: no per-example timing
def test_law_every_previous_entry_in_order_then_each_missing_secret_once(before: list[Any] | None,
                                                                        secrets: list[str]) -> None:
    obj = pod("x", pulls=before)
    after = patched(obj, secrets) or []
    prior = before or []
    assert after[:len(prior)] == prior  # every previous entry, in order, untouched
    added = [e["name"] for e in after[len(prior):]]
    present = {e.get("name") for e in prior}
    assert added == [s for s in dict.fromkeys(secrets) if s not in present]  # each missing one, once, in order
    assert not pull_secrets_patch({"kind": "Pod", "spec": {"imagePullSecrets": after}}, secrets) if after else True


# --- which specs want a Pod -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("images", "init", "wanted"), [
    (("harbor.example.com/team/app:1",), (), True),
    (("harbor.example.com/team/app@sha256:" + "a" * 64,), (), True),  # a digest
    (("harbor.example.com/team/app:1@sha256:" + "a" * 64,), (), True),  # tag and digest
    (("nginx:1.25",), ("harbor.example.com/tools/init:1",), True),  # only an init container's image matches
    (("nginx:1.25",), (), False),  # Docker Hub: not this registry
    (("harbor.example.com:5000/app:1",), (), False),  # another port is another registry
    (("evil-harbor.example.com/app:1",), (), False),
    (("sub.harbor.example.com/app:1",), (), False),  # a host glob would be needed
    ((), (), False),
])
def test_images_match_with_the_keyring_rules(images: tuple[str, ...], init: tuple[str, ...], wanted: bool) -> None:
    assert wanted_secrets(pod(*images, init=init), "ns", {}, [injection()]) == (["harbor"] if wanted else [])


@pytest.mark.parametrize(("server", "image", "wanted"), [
    ("registry.example:5000", "registry.example:5000/team/app:1", True),  # a port
    ("registry.example:5000", "registry.example/team/app:1", False),
    ("*.example.com", "harbor.example.com/app:1", True),  # a glob per label
    ("*.example.com", "a.b.example.com/app:1", False),  # a glob is one label
    ("harbor.example.com/team", "harbor.example.com/team/app:1", True),  # a path prefix
    ("harbor.example.com/team", "harbor.example.com/other/app:1", False),
    ("docker.io", "nginx:1.25", True),  # Docker Hub images, by every name of Docker Hub
    ("index.docker.io", "library/nginx", True),
    ("https://index.docker.io/v1/", "docker.io/library/nginx:latest", True),
    ("docker.io", "harbor.example.com/app:1", False),
])
def test_registry_keys_as_the_kubelet_reads_them(server: str, image: str, wanted: bool) -> None:
    assert bool(wanted_secrets(pod(image), "ns", {}, [injection(servers=(server,))])) is wanted


def test_match_registries_false_wants_every_pod_and_a_scope_without_keys_none() -> None:
    every = injection(match_registries=False)
    assert wanted_secrets(pod("nginx"), "ns", {}, [every]) == ["harbor"]
    assert wanted_secrets(pod(), "ns", {}, [every]) == ["harbor"]  # even a Pod whose images are unknown
    from_secret = spec(servers=(), extra=[{"fromSecret": {"namespace": "src", "name": "gone"}}])
    nothing = Injection.of(from_secret, spec_registry_keys(from_secret, lambda ns, name: None))
    assert wanted_secrets(pod("harbor.example.com/app"), "ns", {}, [nothing]) == []


def test_from_secret_keys_come_from_the_cached_source_without_reading_a_password() -> None:
    import base64

    payload = json.dumps({"auths": {"quay.example.org": {"auth": base64.b64encode(b"u:p").decode()},
                                    "bad key with spaces": {"auth": "eDp5"}}}).encode()
    source = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "src", "namespace": "ops"},
              "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": base64.b64encode(payload).decode()}}
    s = spec(servers=("harbor.example.com",), extra=[{"fromSecret": {"namespace": "ops", "name": "src"}}])
    keys = spec_registry_keys(s, lambda ns, name: source if (ns, name) == ("ops", "src") else None)
    assert keys == ("harbor.example.com", "quay.example.org")  # the key the kubelet skips is left out
    assert spec_registry_keys(s, lambda ns, name: {"type": "Opaque", "data": {}}) == ("harbor.example.com",)


def test_namespaces_are_selected_like_the_reconciler_selects_them() -> None:
    chosen = injection(include=("team-*",), selector={"tier": "apps"})
    assert wanted_secrets(pod("harbor.example.com/a"), "team-a", {"tier": "apps"}, [chosen]) == ["harbor"]
    assert wanted_secrets(pod("harbor.example.com/a"), "team-a", {}, [chosen]) == []
    assert wanted_secrets(pod("harbor.example.com/a"), "other", {"tier": "apps"}, [chosen]) == []


def test_several_specs_each_secret_once_in_spec_order() -> None:
    specs = [injection(name="a", servers=("a.example.com",)), injection(name="b", servers=("b.example.com",)),
             injection(name="c", servers=("a.example.com/x",), secret="a")]  # shares the Secret name "a"
    obj = pod("b.example.com/app", "a.example.com/x/app")
    assert wanted_secrets(obj, "ns", {}, specs) == ["a", "b"]
    assert patched(obj, wanted_secrets(obj, "ns", {}, specs)) == [{"name": "a"}, {"name": "b"}]


def test_ephemeral_containers_never_count_and_opt_out_is_one_label_value() -> None:
    assert pod_images(pod("a", init=("i",), ephemeral=("e",))) == ["i", "a"]
    assert opted_out(pod("a", labels={OPT_OUT_LABEL: OPT_OUT_VALUE}))
    assert opted_out(None, {"metadata": {"labels": {OPT_OUT_LABEL: "false"}}})
    assert not opted_out(pod("a", labels={OPT_OUT_LABEL: "true"}), None, {"metadata": {"labels": None}})
    assert not opted_out(pod("a", labels={OPT_OUT_LABEL: "False"}))  # label values are exact


# --- the same answer as `regcred match` (the kubelet's keyring lookup) -----------------------------------------

label = st.sampled_from(["harbor", "example", "com", "io", "reg", "*", "h?rbor", "docker", "index"])
hosts = st.lists(label, min_size=1, max_size=3).map(".".join)
ports = st.sampled_from(["", ":5000", ":443"])
paths = st.lists(st.sampled_from(["team", "app", "library"]), max_size=2).map(lambda p: "".join("/" + x for x in p))
image_hosts = st.lists(label.filter(lambda x: x.isalpha()), min_size=1, max_size=3).map(".".join)
images = st.one_of(
    st.tuples(image_hosts, ports, paths).map(lambda t: f"{t[0]}{t[1]}{t[2] or '/app'}:1"),
    st.sampled_from(["nginx", "library/nginx:1", "docker.io/library/nginx", "team/app@sha256:" + "b" * 64]))


@given(st.lists(st.tuples(hosts, ports, paths).map("".join), min_size=1, max_size=3), images)
@settings(max_examples=300, deadline=None)  # a shared 2-core machine: no per-example timing
def test_wants_exactly_when_regcred_match_finds_a_credential(keys: list[str], image: str) -> None:
    accepted = [k for k in keys if Keyring().add(_cred(k))]
    config = parse_config_json(json.dumps({"auths": {k: {"auth": "dTpw"} for k in accepted}}), "pull secret")
    from regcred.core.credentials.imageref import parse_image

    found = lookup_pull_credentials(parse_image(image).repository, build_keyring([(config, "pod")]))
    s = spec(servers=(), extra=[{"fromSecret": {"namespace": "n", "name": "s"}}])
    source = {"type": "kubernetes.io/dockerconfigjson",
              "stringData": {".dockerconfigjson": json.dumps(config.raw)}}
    inj = Injection.of(s, spec_registry_keys(s, lambda ns, name: source))
    assert bool(wanted_secrets(pod(image), "ns", {}, [inj])) is bool(found)


def _cred(key: str) -> Any:
    from regcred.core.credentials.keyring import Credential

    return Credential(key, "u", "p")
