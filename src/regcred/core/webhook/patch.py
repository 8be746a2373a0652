"""Which RegistryCredentials want a Pod, and the JSON Patch that adds their Secrets to its `imagePullSecrets`.

Why a JSON Patch shaped by the Pod: the API server applies it to the Pod exactly as the webhook received it. When
`spec.imagePullSecrets` is absent the patch adds the whole list; when it is present (the ServiceAccount admission
plugin may have filled it) it appends one entry at a time with `/-`: an `add` of the whole path would replace the
list, and appending to an absent list makes the API server refuse the Pod with a 500 even under
`failurePolicy: Ignore`. Existing entries are never removed or reordered, and a name is never added twice.

Images are matched with the kubelet's keyring rules, the ones `regcred match` and the planner use
(`RegistryScope`): a spec wants a Pod when one of its images (containers, initContainers) would get a credential
from a keyring holding the spec's registry keys, or every Pod when `workloads.matchRegistries` is false.
`ephemeralContainers` cannot be set on CREATE, so they never count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from regcred.core.cluster.podspec import RegistryScope, pull_secret_names
from regcred.core.credentials.imageref import parse_image
from regcred.core.credentials.pullsecret import read_pull_secret
from regcred.core.errors import ImageReferenceError, InputError
from regcred.core.spec.model import NamespaceTargets, RegistryCredential

OPT_OUT_LABEL = "regcred.dev/inject"
OPT_OUT_VALUE = "false"  # the label's only value that opts out (on the Pod or on its Namespace)
POD_IMAGE_FIELDS = ("initContainers", "containers")
PULL_SECRETS_PATH = "/spec/imagePullSecrets"


SecretLookup = Callable[[str, str], Mapping[str, Any] | None]  # (namespace, name) -> the Secret, or None


def spec_registry_keys(spec: RegistryCredential, source_secret: SecretLookup) -> tuple[str, ...]:
    """The registry keys the spec's Secret holds: each `server`, and the keys of each `fromSecret` source.

    Only keys, never a password: a `fromSecret` source that is missing or not a pull secret adds none (the
    reconciler reports it), and a key the kubelet would skip is left out (it can never match an image).
    """
    keys: list[str] = []
    for registry in spec.registries:
        if registry.server is not None:
            keys.append(registry.server)
        elif registry.from_secret is not None:
            secret = source_secret(registry.from_secret.namespace, registry.from_secret.name)
            try:
                config = read_pull_secret(dict(secret)).config if secret is not None else None
            except InputError:
                config = None
            keys += config.registry_keys() if config is not None else []
    return tuple(k for k in dict.fromkeys(keys) if _accepted(k))


def _accepted(key: str) -> bool:
    try:
        RegistryScope((key,))
    except InputError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Injection:
    """What one RegistryCredential wants of new Pods: its Secret, where, and for which images.

    `scope` None: every Pod (`matchRegistries: false`); a scope without keys matches no image.
    """

    spec: str
    secret: str
    namespaces: NamespaceTargets
    scope: RegistryScope | None = None

    @classmethod
    def of(cls, spec: RegistryCredential, registry_keys: Sequence[str]) -> Injection:
        scope = RegistryScope(registry_keys) if spec.workloads.match_registries else None
        return cls(spec.name, spec.secret_name, spec.namespaces, scope)

    def targets(self, namespace: str, namespace_labels: Mapping[str, str]) -> bool:
        """Does the spec select this namespace (as the reconciler selects it)?"""
        return self.namespaces.matches(namespace, namespace_labels)

    def covers(self, repositories: Sequence[str]) -> bool:
        """Does the spec want a Pod pulling these (normalised) repositories?"""
        if self.scope is None:
            return True
        return not self.scope.everything and any(self.scope.covers_repository(r) for r in repositories)

    def wants(self, namespace: str, namespace_labels: Mapping[str, str], images: Sequence[str]) -> bool:
        """Does this spec want a Pod with these images in this namespace?"""
        return self.targets(namespace, namespace_labels) and self.covers(repositories(images))


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    meta = (obj or {}).get("metadata")
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def opted_out(*objects: Mapping[str, Any] | None) -> bool:
    """True when any of the objects (the Pod, its Namespace) carries `regcred.dev/inject: "false"`."""
    return any(_labels(obj).get(OPT_OUT_LABEL) == OPT_OUT_VALUE for obj in objects)


def pod_spec(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spec = pod.get("spec")
    return spec if isinstance(spec, Mapping) else None


def pod_images(pod: Mapping[str, Any]) -> list[str]:
    """Images of the init containers, then of the containers (what a CREATE can pull)."""
    spec = pod_spec(pod) or {}
    images: list[str] = []
    for name in POD_IMAGE_FIELDS:
        containers = spec.get(name)
        if isinstance(containers, list):
            images += [c["image"] for c in containers if isinstance(c, Mapping) and isinstance(c.get("image"), str)]
    return images


@lru_cache(maxsize=4096)
def _repository(image: str) -> str | None:
    """The repository of an image reference; None when the runtime would refuse it (the same images come back
    Pod after Pod, so the parse is kept)."""
    try:
        return parse_image(image).repository
    except ImageReferenceError:
        return None


def repositories(images: Iterable[str]) -> list[str]:
    """Each image as the repository the kubelet looks up (`nginx` -> `docker.io/library/nginx`); references the
    runtime would refuse are left out (no credential is looked up for them)."""
    return [r for r in map(_repository, images) if r is not None]


def secrets_for(pod: Mapping[str, Any], injections: Iterable[Injection]) -> list[str]:
    """The Secret names of the `injections` (already selecting the Pod's namespace) that want the Pod's images,
    each once, in the order of `injections`; the images are parsed once, and only when a spec looks at them."""
    names: dict[str, None] = {}
    pulled: list[str] | None = None
    for injection in injections:
        if injection.secret in names:
            continue
        if injection.scope is not None and pulled is None:
            pulled = repositories(pod_images(pod))
        if injection.covers(pulled or []):
            names[injection.secret] = None
    return list(names)


def wanted_secrets(pod: Mapping[str, Any], namespace: str, namespace_labels: Mapping[str, str],
                   injections: Iterable[Injection]) -> list[str]:
    """The Secret names the specs want on this Pod, each once, in the order of `injections`."""
    return secrets_for(pod, (i for i in injections if i.targets(namespace, namespace_labels)))


def pull_secrets_patch(pod: Mapping[str, Any], secrets: Sequence[str]) -> list[dict[str, Any]]:
    """RFC 6902 operations adding the missing `secrets` to the Pod's `spec.imagePullSecrets`; [] when none is.

    A Pod without a spec object, or whose `imagePullSecrets` is neither absent nor a list, gets no patch: a patch
    that does not apply would make the API server refuse the Pod.
    """
    spec = pod_spec(pod)
    if spec is None:
        return []
    current = spec.get("imagePullSecrets")
    present = set(pull_secret_names(spec))
    missing = [name for name in dict.fromkeys(secrets) if name not in present]
    if not missing:
        return []
    if current is None:
        return [{"op": "add", "path": PULL_SECRETS_PATH, "value": [{"name": name} for name in missing]}]
    if not isinstance(current, list):
        return []
    return [{"op": "add", "path": f"{PULL_SECRETS_PATH}/-", "value": {"name": name}} for name in missing]
