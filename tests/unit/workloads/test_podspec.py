"""The pure rules: where pod specs live, which images a --registry pattern covers, the edit plan."""

from __future__ import annotations

import copy

import pytest

from regcred.core.cluster.podspec import (
    EditRequest,
    RegistryScope,
    apply_plan,
    find_pod_specs,
    plan_spec,
    spec_images,
    template_patch,
)
from regcred.core.errors import InputError


def _spec(*images: str, secrets: tuple[str, ...] = (), sa: str | None = None) -> dict:
    spec: dict = {"containers": [{"name": f"c{i}", "image": img} for i, img in enumerate(images)]}
    if secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in secrets]
    if sa is not None:
        spec["serviceAccountName"] = sa
    return spec


@pytest.mark.parametrize(
    ("obj", "count"),
    [
        ({"kind": "Pod", "spec": _spec("a")}, 1),
        ({"kind": "Deployment", "spec": {"template": {"spec": _spec("a")}}}, 1),
        ({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": _spec("a")}}}}}, 1),
        ({"kind": "PodTemplate", "template": {"spec": _spec("a")}}, 1),
        ({"kind": "ReplicationController", "spec": {"template": {"spec": _spec("a")}}}, 1),
        ({"kind": "List", "items": [{"kind": "Pod", "spec": _spec("a")}, {"kind": "Job", "spec": {
            "template": {"spec": _spec("b")}}}, {"kind": "ConfigMap", "data": {}}]}, 2),
        ({"kind": "DeploymentList", "items": [{"kind": "Deployment", "spec": {"template": {"spec": _spec()}}}]}, 1),
        ({"kind": "ConfigMap", "data": {"spec": "x"}}, 0),
        ({"kind": "Deployment", "spec": None}, 0),
        ({"kind": "MyCRD", "spec": {"template": {"spec": _spec("a")}}}, 0),
    ],
)
def test_find_pod_specs_knows_every_workload_kind_and_nothing_else(obj: dict, count: int) -> None:
    assert len(list(find_pod_specs(obj))) == count


def test_images_cover_init_regular_and_ephemeral_containers() -> None:
    spec = {"initContainers": [{"image": "i"}], "containers": [{"image": "c"}], "ephemeralContainers": [{"image": "e"}]}
    assert spec_images(spec) == ["i", "c", "e"]


@pytest.mark.parametrize(
    ("patterns", "image", "covered"),
    [
        (["registry.example.com"], "registry.example.com/team/app:1", True),
        (["registry.example.com"], "registry.example.com:5000/app", False),  # ports must be equal
        (["*.example.com"], "eu.registry.example.com/app", False),  # one label per *
        (["*.example.com"], "registry.example.com/app", True),
        (["quay.io/team"], "quay.io/team-b/app", True),  # a path is a plain string prefix
        (["quay.io/team"], "quay.io/other/app", False),
        (["docker.io"], "nginx", True),  # docker.io/library/nginx
        (["https://index.docker.io/v1/"], "nginx", True),  # the Docker Hub fallback, as the kubelet does
        (["https://index.docker.io/v1/"], "quay.io/x/y", False),
        (["registry.example.com"], "{{ .Values.image }}", False),  # not an image: never covered
    ],
)
def test_registry_scope_follows_kubelet_matching(patterns: list[str], image: str, covered: bool) -> None:
    assert RegistryScope(patterns).covers(image) is covered


def test_bad_registry_pattern_is_input_error() -> None:
    with pytest.raises(InputError, match="--registry 'host:abc'"):
        RegistryScope(["host:abc"])


def test_plan_appends_keeps_existing_never_duplicates() -> None:
    request = EditRequest("new")
    spec = _spec("a", secrets=("other",))
    plan = plan_spec(spec, request)
    assert plan.add_secret
    apply_plan(spec, plan, "new")
    assert spec["imagePullSecrets"] == [{"name": "other"}, {"name": "new"}]
    again = plan_spec(spec, request)
    assert not again.changes and again.reason == "already has the secret"


def test_plan_respects_registry_filter() -> None:
    request = EditRequest("s", RegistryScope(["registry.example.com"]))
    assert not plan_spec(_spec("nginx"), request).changes
    assert plan_spec(_spec("nginx", "registry.example.com/x"), request).add_secret


@pytest.mark.parametrize(
    ("current", "force", "expect_set", "expect_skip"),
    [
        (None, False, "svc1", False),
        ("default", False, "svc1", False),
        ("svc1", False, None, False),
        ("other", False, None, True),
        ("other", True, "svc1", False),
    ],
)
def test_service_account_change_refused_unless_default_or_forced(
    current: str | None, force: bool, expect_set: str | None, expect_skip: bool
) -> None:
    plan = plan_spec(_spec("a", sa=current), EditRequest("s", service_account="svc1", force=force))
    assert plan.set_service_account == expect_set
    assert bool(plan.skipped) is expect_skip
    if expect_skip:
        assert not plan.changes and "'other'" in (plan.skipped or "")


def test_deprecated_service_account_field_counts_as_current() -> None:
    spec = {"containers": [{"image": "a"}], "serviceAccount": "legacy"}
    assert plan_spec(spec, EditRequest("s", service_account="svc1")).skipped


def test_template_patch_shapes() -> None:
    plan = plan_spec(_spec("a"), EditRequest("s", service_account="svc1"))
    assert template_patch("Deployment", plan, "s") == {
        "spec": {"template": {"spec": {"imagePullSecrets": [{"name": "s"}], "serviceAccountName": "svc1"}}}
    }
    assert template_patch("CronJob", plan, "s")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    with pytest.raises(InputError):
        template_patch("Pod", plan, "s")


def test_apply_plan_does_not_touch_other_fields() -> None:
    spec = _spec("a", secrets=("x",))
    spec["volumes"] = [{"name": "v"}]
    before = copy.deepcopy(spec)
    apply_plan(spec, plan_spec(spec, EditRequest("s")), "s")
    assert spec["volumes"] == before["volumes"] and spec["containers"] == before["containers"]


@pytest.mark.parametrize("pattern", ["", "http://", "https://"])
def test_registry_pattern_without_a_host_is_input_error(pattern: str) -> None:
    """It would match no image: `--registry ''` must not silently turn a run into a no-op."""
    with pytest.raises(InputError, match="not a registry key"):
        RegistryScope([pattern])
