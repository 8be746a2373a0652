"""Pod specs inside Kubernetes objects, and the one edit regcred makes to them.

Where each kind keeps its pod spec, which images a spec pulls, whether a pull secret covers them
(the kubelet's keyring rules: a `--registry` pattern is a registry key, and an image is covered when a
keyring holding that key would hand out a credential for its repository), and the edit: append
`{name: SECRET}` keeping existing entries, optionally point the spec at a ServiceAccount, refusing to
change a ServiceAccount other than `default` unless forced (that changes the workload's API rights).
Data in, data out: the YAML editor and the API commands share these rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from regcred.core.credentials.imageref import parse_image
from regcred.core.credentials.keyring import Credential, Keyring
from regcred.core.credentials.registrykey import index_key
from regcred.core.errors import ImageReferenceError, InputError

# kind -> path of keys from the object to its pod spec
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")
DEFAULT_SERVICE_ACCOUNT = "default"


def pod_spec_path(kind: object) -> tuple[str, ...] | None:
    """The path to the pod spec of an object of this kind; None for kinds without one."""
    return POD_SPEC_PATHS.get(kind) if isinstance(kind, str) else None


def is_list_kind(obj: Mapping[str, Any]) -> bool:
    """`kind: List` (and `*List` with items), whose `items` are objects in their own right."""
    kind = obj.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list)


def find_pod_specs(obj: object) -> Iterator[tuple[Mapping[str, Any], dict[str, Any]]]:
    """(object, its pod spec) for every pod spec in an object, expanding List items."""
    if not isinstance(obj, Mapping):
        return
    if is_list_kind(obj):
        for item in obj["items"]:
            yield from find_pod_specs(item)
        return
    path = pod_spec_path(obj.get("kind"))
    if path is None:
        return
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    if isinstance(node, dict):
        yield obj, node


def spec_images(spec: Mapping[str, Any]) -> list[str]:
    """Images of init, regular and ephemeral containers, in that order."""
    images: list[str] = []
    for fieldname in CONTAINER_FIELDS:
        containers = spec.get(fieldname)
        if not isinstance(containers, list):
            continue
        for container in containers:
            if isinstance(container, Mapping) and isinstance(container.get("image"), str):
                images.append(container["image"])
    return images


def pull_secret_names(spec: Mapping[str, Any]) -> list[str]:
    """Names already in `imagePullSecrets` (entries without a name are kept but not listed)."""
    entries = spec.get("imagePullSecrets")
    if not isinstance(entries, list):
        return []
    return [e["name"] for e in entries if isinstance(e, Mapping) and isinstance(e.get("name"), str)]


def current_service_account(spec: Mapping[str, Any]) -> str:
    """serviceAccountName, else the deprecated serviceAccount, else `default` (admission's default)."""
    for key in ("serviceAccountName", "serviceAccount"):
        value = spec.get(key)
        if isinstance(value, str) and value:
            return value
    return DEFAULT_SERVICE_ACCOUNT


_REMEMBERED = 4096  # repositories a scope keeps answers for (bounded: Pod images are attacker-chosen)


class RegistryScope:
    """Which images a secret for these registry keys covers; no patterns means every image."""

    def __init__(self, patterns: Sequence[str] = ()) -> None:
        self.patterns = tuple(patterns)
        self._keyring: Keyring | None = None
        self._answers: dict[str, bool] = {}  # repository -> covered: the webhook asks again Pod after Pod
        if self.patterns:
            self._keyring = Keyring()
            for pattern in self.patterns:
                if not index_key(pattern) or not self._keyring.add(Credential(pattern, "", "")):  # '' has no host
                    raise InputError(
                        f"--registry {pattern!r}: not a registry key the kubelet accepts",
                        hint="give host[:port][/path], globs allowed in the host, e.g. *.example.com",
                    )

    @property
    def everything(self) -> bool:
        return self._keyring is None

    def covers(self, image: str) -> bool:
        """True when a keyring of the patterns would return a credential for this image."""
        if self._keyring is None:
            return True
        try:
            repository = parse_image(image).repository
        except ImageReferenceError:
            return False
        return bool(self._keyring.lookup_repository(repository))

    def covers_repository(self, repository: str) -> bool:
        """`covers` for an image already normalised to its repository (several scopes, one parse); remembered."""
        if self._keyring is None:
            return True
        answer = self._answers.get(repository)
        if answer is None:
            if len(self._answers) >= _REMEMBERED:
                self._answers.clear()
            answer = self._answers[repository] = bool(self._keyring.lookup_repository(repository))
        return answer

    def covered_images(self, images: Iterable[str]) -> list[str]:
        return [image for image in images if self.covers(image)]


@dataclass(frozen=True, slots=True)
class EditRequest:
    """What the user asked for: the secret, the registries it serves, an optional ServiceAccount."""

    secret: str
    scope: RegistryScope = field(default_factory=RegistryScope)
    service_account: str | None = None
    force: bool = False


@dataclass(frozen=True, slots=True)
class SpecPlan:
    """The decision for one pod spec: what to add or set, or why nothing happens."""

    add_secret: bool = False
    set_service_account: str | None = None
    skipped: str | None = None  # the reason a wanted change was refused
    reason: str = ""  # why nothing is needed (for reports)
    covered: bool = False  # nothing is needed because the spec already names the secret

    @property
    def changes(self) -> bool:
        return self.add_secret or self.set_service_account is not None


def plan_spec(spec: Mapping[str, Any], request: EditRequest) -> SpecPlan:
    """Decide the edit of one pod spec; never removes or reorders anything."""
    images = spec_images(spec)
    if not request.scope.everything and not request.scope.covered_images(images):
        return SpecPlan(reason="no image from the given registries")
    set_sa: str | None = None
    if request.service_account is not None:
        current = current_service_account(spec)
        if current != request.service_account:
            if current != DEFAULT_SERVICE_ACCOUNT and not request.force:
                return SpecPlan(
                    skipped=(
                        f"uses ServiceAccount {current!r}; changing it to {request.service_account!r} "
                        "changes its API permissions (use --force)"
                    )
                )
            set_sa = request.service_account
    add = request.secret not in pull_secret_names(spec)
    if add or set_sa:
        return SpecPlan(add_secret=add, set_service_account=set_sa)
    return SpecPlan(reason="already has the secret", covered=True)


def apply_plan(spec: dict[str, Any], plan: SpecPlan, secret: str) -> None:
    """Apply a plan to a plain dict (JSON documents, API objects): append, never duplicate."""
    if plan.add_secret:
        entries = spec.get("imagePullSecrets")
        if not isinstance(entries, list):
            entries = []
            spec["imagePullSecrets"] = entries
        if secret not in pull_secret_names(spec):
            entries.append({"name": secret})
    if plan.set_service_account is not None:
        spec["serviceAccountName"] = plan.set_service_account


def template_patch(kind: str, plan: SpecPlan, secret: str) -> dict[str, Any]:
    """A strategic merge patch for a workload's pod template; imagePullSecrets merges by name."""
    path = pod_spec_path(kind)
    if path is None or kind == "Pod":
        raise InputError(f"{kind}: no pod template to patch")
    spec: dict[str, Any] = {}
    if plan.add_secret:
        spec["imagePullSecrets"] = [{"name": secret}]
    if plan.set_service_account is not None:
        spec["serviceAccountName"] = plan.set_service_account
    patch: dict[str, Any] = spec
    for key in reversed(path):
        patch = {key: patch}
    return patch


def object_label(obj: Mapping[str, Any]) -> str:
    """`Kind/namespace/name` (namespace omitted when absent) for reports."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    name = meta.get("name") or "<unnamed>"
    namespace = meta.get("namespace")
    kind = obj.get("kind") or "<no kind>"
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"
