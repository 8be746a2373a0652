"""Simulate the kubelet for every Pod and pod template, and say which pulls will fail and why.

Rules: a template without pull secrets gets its ServiceAccount's list when its Pods are created (a copy,
never a merge); a Pod's own list never changes afterwards. The kubelet skips missing secrets and ignores
those of the wrong type or key, but one secret whose JSON it cannot decode fails every pull of the Pod. Pod
secrets are looked up first, then the node files; credentials from node files make an image usable by
every Pod on the node (KEP-2535). See docs/concepts/kubelet-rules.md#0, #d, #e and #i (the same page).

Speed: a keyring is built once per (namespace, secret list) and each (keyring, repository) looked up once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from regcred.core.audit.anonymous import PullContext, anonymous_fix, miss_message, near_misses
from regcred.core.audit.findings import (
    ERROR,
    AnonymousPull,
    AuditReport,
    ClusterState,
    CredentialUse,
    Finding,
    object_name,
)
from regcred.core.cluster.podspec import CONTAINER_FIELDS, POD_SPEC_PATHS, current_service_account
from regcred.core.credentials.imageref import DEFAULT_DOMAIN, parse_image
from regcred.core.credentials.keyring import Credential, Keyring, kubelet_skips
from regcred.core.credentials.pullsecret import PULL_SECRET_TYPES, read_pull_secret
from regcred.core.errors import ConfigFormatError, ImageReferenceError

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
# what decides an anonymous pull's fix, kept raw until an image needs it: namespace, pod spec, the Secrets listed
# (after the admission copy), a Pod (not a template), and for a stale Pod its ServiceAccount's list now
_Context = tuple[str, dict[str, Any], tuple[str, ...], bool, tuple[str, ...]]


def _dig(obj: Any, path: Iterable[str]) -> Any:
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _secret_names(spec: dict[str, Any]) -> list[str]:
    refs = spec.get("imagePullSecrets") or []
    return [str(r.get("name") or "") if isinstance(r, dict) else "" for r in refs] if isinstance(refs, list) else []


@dataclass(slots=True)
class _SecretInfo:
    """A Secret as the kubelet sees it: usable config, ignored (reason), or fatal (reason)."""

    ref: str
    keyring_entries: list[Credential] = field(default_factory=list)
    fatal: str | None = None


@dataclass(slots=True)
class _PodRing:
    keyring: Keyring
    fatal: str | None  # a secret the kubelet cannot decode: every pull of the pod fails


class _Audit:
    """One run over a ClusterState; holds the caches."""

    def __init__(self, state: ClusterState, default_namespace: str, namespace: str | None) -> None:
        self.state = state
        self.default_namespace = default_namespace
        self.only_namespace = namespace
        self.report = AuditReport()
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.accounts: dict[tuple[str, str], dict[str, Any]] = {}
        self.workloads: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = []
        self.templates_by_owner: dict[tuple[str, str, str], list[str]] = {}
        self.secret_infos: dict[tuple[str, str], _SecretInfo] = {}
        self.missing: dict[tuple[str, str], list[str]] = {}
        self.rings: dict[tuple[str, tuple[str, ...]], _PodRing] = {}
        self.lookups: dict[tuple[int, str], tuple[list[Credential], str | None]] = {}
        self.parsed_images: dict[str, tuple[str, str] | str] = {}
        self.covered_domains: set[str] = set()
        self.uncovered: list[tuple[str, str, str, str]] = []  # object, image, repository, domain
        self.anonymous: list[tuple[str, str, str, str, _Context]] = []  # the same, and what decides the fix
        self.node_shared: dict[str, tuple[Credential, list[str]]] = {}
        self.uses: dict[Credential, set[str]] = {}

    # --- indexing -----------------------------------------------------------------------------------

    def namespace_of(self, obj: dict[str, Any]) -> str:
        return str((obj.get("metadata") or {}).get("namespace") or self.default_namespace)

    def index(self) -> None:
        for obj in self.state.objects:
            kind = obj.get("kind")
            meta = obj.get("metadata") or {}
            if not isinstance(kind, str) or not isinstance(meta, dict):
                continue
            ns = self.namespace_of(obj)
            if self.only_namespace is not None and ns != self.only_namespace:
                continue
            name = str(meta.get("name") or "")
            if kind == "Secret":
                self.secrets[(ns, name)] = obj
            elif kind == "ServiceAccount":
                self.accounts[(ns, name)] = obj
            elif kind in POD_SPEC_PATHS:
                spec = _dig(obj, POD_SPEC_PATHS[kind])
                if isinstance(spec, dict):
                    self.workloads.append((kind, ns, name, spec, obj))
                    if kind != "Pod":
                        self.templates_by_owner[(kind, ns, name)] = _secret_names(spec)

    # --- secrets and keyrings -------------------------------------------------------------------------

    def secret_info(self, ns: str, name: str) -> _SecretInfo | None:
        """None when the Secret does not exist; otherwise what the kubelet makes of it (cached)."""
        key = (ns, name)
        info = self.secret_infos.get(key)
        if info is not None or key not in self.secrets:
            return info
        obj = self.secrets[key]
        ref = object_name("Secret", ns, name)
        info = _SecretInfo(ref)
        try:
            secret = read_pull_secret(obj)
        except ConfigFormatError as exc:
            info.fatal = exc.reason
            self.add("secret-unusable", ref, f"the kubelet cannot use it ({exc.reason}): every pull of the pods "
                     "listing it fails; recreate it with regcred secret create")
        else:
            secret_type = secret.type
            wanted = PULL_SECRET_TYPES.get(secret_type)
            if wanted is None:
                self.add("secret-wrong-type", ref, f"type {secret_type} is ignored for image pulls; recreate it "
                         "as kubernetes.io/dockerconfigjson")
            elif secret.config is None:
                self.add("secret-missing-key", ref, f"type {secret_type} needs a non-empty {wanted[0]!r} key; "
                         "recreate it with regcred secret create")
            elif not secret.config.has_auths and wanted[0] == ".dockerconfigjson":
                self.add("secret-no-auths", ref, "its .dockerconfigjson has no 'auths' object (legacy .dockercfg "
                         "content?), so it gives no credential; rewrite it as {\"auths\": {...}}")
            elif wanted[0] == ".dockercfg" and any(e.key == "auths" for e in secret.config.entries):
                self.add("secret-wrong-layout", ref, "its .dockercfg holds config.json content ({\"auths\": ...}): "
                         "the kubelet reads one registry named 'auths' and no credential; recreate it as "
                         "kubernetes.io/dockerconfigjson (regcred secret create)")
            elif secret.config.is_empty:
                self.add("secret-empty", ref, "it holds no registry entry; add one or stop referencing it")
            else:
                info.keyring_entries = [Credential(e.key, e.username, e.password, e.email, ref)
                                        for e in secret.config.entries]
                for entry in secret.config.entries:
                    if kubelet_skips(entry.key):
                        self.add("secret-key-skipped", ref, f"registry key {entry.key!r} is not a URL the kubelet "
                                 "can parse and is ignored; use host[:port][/path]")
        self.secret_infos[key] = info
        return info

    def pod_ring(self, ns: str, names: tuple[str, ...]) -> _PodRing:
        key = (ns, names)
        ring = self.rings.get(key)
        if ring is None:
            keyring = Keyring()
            fatal: str | None = None
            for name in names:
                info = self.secret_info(ns, name) if name else None
                if info is None:
                    continue
                if info.fatal is not None and fatal is None:
                    fatal = f"{info.ref} cannot be decoded by the kubelet"
                for cred in info.keyring_entries:
                    keyring.add(cred)
            ring = self.rings[key] = _PodRing(keyring, fatal)
        return ring

    def lookup(self, ring: _PodRing, repository: str) -> tuple[list[Credential], str | None]:
        """(pod credentials, node source if node credentials come first) — cached per (ring, repository)."""
        key = (id(ring), repository)
        hit = self.lookups.get(key)
        if hit is None:
            pod = ring.keyring.lookup_repository(repository)
            node = self.state.node_keyring.lookup_repository(repository) if len(self.state.node_keyring) else []
            hit = self.lookups[key] = (pod + node, self.state.node_source if node and not pod else None)
        return hit

    # --- the walk ------------------------------------------------------------------------------------

    def run(self) -> AuditReport:
        self.index()
        for (ns, name), sa in self.accounts.items():
            self.check_account(ns, name, sa)
        for kind, ns, name, spec, obj in self.workloads:
            self.check_workload(kind, ns, name, spec, obj)
        self.finish()
        return self.report

    def add(self, code: str, obj: str, message: str) -> None:
        self.report.findings.append(Finding(code, obj, message))

    def check_names(self, ref: str, names: list[str], where: str) -> None:
        if any(n == "" for n in names):
            self.add("empty-pull-secret-name", ref, f"{where} has an entry with an empty name; the kubelet skips "
                     "it: remove it")
        seen: set[str] = set()
        dups: list[str] = []
        for n in names:
            if n and n in seen and n not in dups:
                dups.append(n)
            seen.add(n)
        for dup in dups:
            self.add("duplicate-pull-secret", ref, f"{where} lists {dup!r} more than once: remove the duplicate")

    def check_account(self, ns: str, name: str, sa: dict[str, Any]) -> None:
        ref = object_name("ServiceAccount", ns, name)
        names = _secret_names(sa)
        self.check_names(ref, names, "imagePullSecrets")
        for secret in dict.fromkeys(n for n in names if n):
            if self.secret_info(ns, secret) is None:
                self.add("sa-missing-secret", ref, f"lists Secret {secret!r}, which does not exist in namespace "
                         f"{ns}; new pods get a dangling reference: create it or remove it from the list")

    def service_account_names(self, ns: str, spec: dict[str, Any], ref: str) -> list[str] | None:
        sa_name = current_service_account(spec)
        sa = self.accounts.get((ns, sa_name))
        if sa is not None:
            return _secret_names(sa)
        if self.state.live:
            self.add("missing-service-account", ref, f"ServiceAccount {sa_name!r} does not exist in {ns}: pods "
                     "cannot be created; create it")
        elif sa_name != "default":
            self.add("unknown-service-account", ref, f"ServiceAccount {sa_name!r} is not in the manifests; its "
                     "imagePullSecrets could not be taken into account: add it to the input")
        return None

    def check_workload(self, kind: str, ns: str, name: str, spec: dict[str, Any], obj: dict[str, Any]) -> None:
        ref = object_name(kind, ns, name)
        own = _secret_names(spec)
        self.check_names(ref, own, "imagePullSecrets")
        for secret in dict.fromkeys(n for n in own if n):
            if self.secret_info(ns, secret) is None:
                self.missing.setdefault((ns, secret), []).append(ref)
        effective = own
        created = kind == "Pod" and self.created(obj)
        stale: list[str] | None = None
        if not created and not own:  # the admission copy at pod creation (templates, Pod manifests)
            effective = self.service_account_names(ns, spec, ref) or []
        elif created:
            stale = self.check_stale(ref, ns, spec, obj, own)
        listed = tuple(n for n in effective if n)
        ring = self.pod_ring(ns, listed)
        context = (ns, spec, listed, kind == "Pod", tuple(stale or ()))  # a PullContext when an image needs it
        for container_field in CONTAINER_FIELDS:
            for container in spec.get(container_field) or []:
                if isinstance(container, dict):
                    self.check_image(ref, container, ring, context)

    def created(self, obj: dict[str, Any]) -> bool:
        """A Pod that exists (read live, or dumped with a uid): its list was fixed at creation."""
        meta = obj.get("metadata") or {}
        return self.state.live or bool(meta.get("uid") or meta.get("creationTimestamp"))

    def check_stale(self, ref: str, ns: str, spec: dict[str, Any], obj: dict[str, Any],
                    own: list[str]) -> list[str] | None:
        """The ServiceAccount's list when the Pod kept an older copy of it (a finding says so), else None."""
        meta = obj.get("metadata") or {}
        if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
            return None
        sa_name = current_service_account(spec)
        sa = self.accounts.get((ns, sa_name))
        if sa is None:
            return None
        from_sa = not own
        for owner in meta.get("ownerReferences") or []:
            template = self.templates_by_owner.get((str(owner.get("kind")), ns, str(owner.get("name"))))
            if template is not None:
                from_sa = not template
        wanted = _secret_names(sa)
        if from_sa and own != wanted:
            self.add("pod-stale-pull-secrets", ref, f"its imagePullSecrets {own} differ from what ServiceAccount "
                     f"{sa_name!r} gives new pods {wanted} (created before the ServiceAccount changed): recreate "
                     "the pod (kubectl rollout restart its workload)")
            return [n for n in wanted if n]
        return None

    def check_image(self, ref: str, container: dict[str, Any], ring: _PodRing, context: _Context) -> None:
        image = str(container.get("image") or "")
        parsed = self.parsed_images.get(image)
        if parsed is None:
            try:
                img = parse_image(image)
                parsed = self.parsed_images[image] = (img.repository, img.domain)
            except ImageReferenceError as exc:
                parsed = self.parsed_images[image] = exc.message
        row: dict[str, Any] = {"object": ref, "container": str(container.get("name") or ""), "image": image}
        if isinstance(parsed, str):
            self.add("invalid-image", ref, f"container {row['container']!r}: {parsed}")
            row.update(repository=None, credential=None, anonymous=False, fails=parsed)
            self.report.images.append(row)
            self.report.tried.append(())
            return
        repository, domain = parsed
        credentials, node_source = self.lookup(ring, repository)
        first = credentials[0] if credentials else None
        row.update(
            repository=repository,
            credential={"key": first.key, "source": first.source, "username": first.username} if first else None,
            anonymous=first is None and ring.fatal is None,
            fails=ring.fatal,
        )
        self.report.images.append(row)
        self.report.tried.append(tuple(credentials))
        if ring.fatal is not None:
            return
        if first is None:
            self.uncovered.append((ref, image, repository, domain))
            self.anonymous.append((ref, image, repository, domain, context))
            return
        self.covered_domains.add(domain)
        if node_source is not None:
            entry = self.node_shared.setdefault(repository, (first, []))
            entry[1].append(ref)
        for cred in credentials:
            self.uses.setdefault(replace(cred, email=""), set()).add(image)  # the e-mail plays no part in a pull

    def finish(self) -> None:
        for (ns, secret), refs in self.missing.items():
            shown = ", ".join(refs[:3]) + (f" and {len(refs) - 3} more" if len(refs) > 3 else "")
            self.add("missing-secret", object_name("Secret", ns, secret), f"referenced by {shown} but does not "
                     f"exist; the kubelet skips it: create it in {ns} (regcred secret create) or fix the name")
        for ref, image, repository, domain in self.uncovered:
            if domain not in self.covered_domains:
                continue
            code = "uncovered-public-image" if domain == DEFAULT_DOMAIN else "uncovered-image"
            self.add(code, ref, f"image {image} ({repository}) matches no credential while other images of {domain} "
                     "do: it is pulled anonymously; add a pull secret whose key covers it")
        self.finish_anonymous()
        for repository, (cred, refs) in self.node_shared.items():
            self.add("node-credentials-shared", cred.source, f"{repository} is pulled "
                     f"with node credentials ({cred.key}) for {len(refs)} object(s) such as {refs[0]}: once pulled, "
                     "every pod on the node may use it (KEP-2535); give those workloads a pull secret instead")
        self.report.credential_uses = [
            CredentialUse(credential, tuple(sorted(images))) for credential, images in self.uses.items()
        ]
        self.report.namespaces = sorted({ns for ns, _ in self.secrets} | {ns for ns, _ in self.accounts}
                                        | {w[1] for w in self.workloads})
        self.report.secrets_created = {
            object_name("Secret", ns, name): _created(obj) for (ns, name), obj in self.secrets.items()
            if obj.get("type") in PULL_SECRET_TYPES
        }

    def finish_anonymous(self) -> None:
        """The anonymous pulls with their fixes (for --verify), and a warning where listed Secrets miss an image."""
        fixes: dict[tuple[Any, ...], tuple[str, str]] = {}
        for ref, image, repository, domain, (ns, spec, listed, is_pod, account_list) in self.anonymous:
            stale_secret = None
            if account_list:  # a stale Pod: the ServiceAccount's Secret that would cover the image
                found = self.pod_ring(ns, account_list).keyring.lookup_repository(repository)
                stale_secret = found[0].source.rsplit("/", 1)[-1] if found else None
            key = (ns, current_service_account(spec), listed, is_pod, stale_secret, domain)
            fix = fixes.get(key)
            if fix is None:
                context = PullContext(ns, key[1], listed, is_pod, account_list, stale_secret)
                reason, command = anonymous_fix(context, domain)
                fix = fixes[key] = (f"{reason}: {command}", command)
            self.report.anonymous_pulls.append(AnonymousPull(ref, image, *fix))
            if not listed or domain in self.covered_domains:
                continue
            keys = [c.key for n in listed for c in getattr(self.secret_infos.get((ns, n)), "keyring_entries", ())]
            if keys:
                misses = near_misses(keys, domain, repository[len(domain) + 1:])
                self.add("pull-secrets-miss-image", ref, miss_message(listed, image, domain, misses))


def _created(obj: dict[str, Any]) -> str | None:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    return stamp if isinstance(stamp, str) else None


def audit(state: ClusterState, *, default_namespace: str = "default", namespace: str | None = None) -> AuditReport:
    """Simulate the kubelet over `state`; findings in a stable order (severity, code, object)."""
    report = _Audit(state, default_namespace, namespace).run()
    report.findings.sort(key=lambda f: (f.severity != ERROR, f.code, f.object, f.message))
    return report
