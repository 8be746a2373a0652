"""Audit: simulate the kubelet for every Pod and pod template, from manifests or a live cluster.

Which credential each image gets, and findings for what will fail; with `verify`, each credential that would
be tried is also checked against its registry for the images it would pull.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regcred.core.audit.anonymous import anonymous_findings
from regcred.core.audit.findings import AuditReport, ClusterState, CredentialCheck, CredentialUse
from regcred.core.audit.simulation import audit as simulate
from regcred.core.audit.verification import verification_findings
from regcred.core.credentials.imageref import ImageReference, parse_image
from regcred.core.errors import ImageReferenceError, InputError
from regcred.core.verify.plan import CheckRequest
from regcred.core.verify.repository import RepositoryRef
from regcred.usecases.kubeapi import KubeApi, Obj
from regcred.usecases.namespaces import NamespaceQuery
from regcred.usecases.verification import CheckOptions

Note = Callable[[str], None]  # says something on the side (stderr), never a result

# Kinds read live, in this order; the optional ones are skipped (with a note) when RBAC forbids them.
LIVE_KINDS = ("Secret", "ServiceAccount", "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job",
              "CronJob", "ReplicationController", "PodTemplate")
OPTIONAL_KINDS = frozenset({"ReplicationController", "PodTemplate"})


@dataclass(frozen=True, slots=True)
class AuditRequest:
    """What to audit: manifest files (else the live cluster), node credential files, and whether to verify."""

    files: tuple[str, ...] = ()
    node_configs: tuple[Path, ...] = ()
    namespaces: NamespaceQuery = field(default_factory=NamespaceQuery)
    verify: CheckOptions | None = None  # None: no registry is contacted


def audit(request: AuditRequest, connect: Callable[[], AbstractContextManager[KubeApi]], note: Note) -> AuditReport:
    """Gather the state, simulate, and (when asked) verify the credentials that would be tried."""
    state, default_ns, only_ns = gather(request, connect, note)
    report = simulate(state, default_namespace=default_ns, namespace=only_ns)
    if request.verify is not None:
        verify_uses(report, request.verify)
        verify_anonymous(report, request.verify)
        report.findings.sort(key=lambda f: (f.severity != "error", f.code, f.object, f.message))
    return report


def gather(request: AuditRequest, connect: Callable[[], AbstractContextManager[KubeApi]],
           note: Note) -> tuple[ClusterState, str, str | None]:
    """The state to simulate, the namespace given to objects without one, and the namespace filter."""
    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells.clusterdump import node_keyring, read_manifests

    keyring, source = node_keyring(request.node_configs, note)
    query = request.namespaces
    if request.files:
        if query.selector:
            raise InputError("--namespace-selector needs a live cluster", hint="use -n NS with -f")
        state = ClusterState(read_manifests(request.files), keyring, source, live=False)
        return state, query.namespace or "default", query.namespace
    with connect() as api:
        if query.all_namespaces:
            namespaces: list[str] | None = None
        else:
            selection = query.select(api)
            for name, reason in selection.skipped.items():
                note(f"namespace {name} skipped: {reason}")
            namespaces = selection.active
        objects = read_live(api, namespaces, note)
        default_ns = api.default_namespace
    return ClusterState(objects, keyring, source, live=True), default_ns, None


def read_live(api: KubeApi, namespaces: list[str] | None, note: Note) -> list[Obj]:
    """One LIST per kind: cluster-wide when `namespaces` is None, else one per kind and namespace."""
    # lazy: httpx + lightkube, cluster commands only
    from regcred.shells.kube import KubeForbidden, KubeNotFound

    objects: list[Obj] = []
    for kind in LIVE_KINDS:
        scopes: list[str | None] = [None] if namespaces is None else list(namespaces)
        for ns in scopes:
            try:
                objects.extend(api.iter_list(kind, ns))
            except (KubeForbidden, KubeNotFound) as exc:
                if kind not in OPTIONAL_KINDS:
                    raise
                note(f"{kind} not read ({exc.line()}); its templates are not audited")
                break
    return objects


def repository_ref(img: ImageReference) -> RepositoryRef:
    """The manifest a pull of this image asks for."""
    return RepositoryRef(img.path, img.digest or img.tag or "latest", img.registry, by_digest=img.digest is not None)


def verify_uses(report: AuditReport, options: CheckOptions) -> None:
    """Each credential that would be tried is verified once, for the images it would pull."""
    checked = check_uses(report.credential_uses, options)
    report.findings.extend(verification_findings([use for use, _ in checked], [row for _, row in checked]))
    report.checks = [CredentialCheck(use.credential.source, use.credential.key, use.credential.username, row)
                     for use, row in checked]


def check_uses(uses: list[CredentialUse], options: CheckOptions) -> list[tuple[CredentialUse, dict[str, Any]]]:
    """The verify row of each credential for each registry of the images it would pull (in the order of `uses`)."""
    # lazy: only this path needs it; the other commands of the module skip it
    from regcred.usecases.verification import run_checks

    checked: list[CredentialUse] = []
    requests: list[CheckRequest] = []
    for use in uses:
        by_registry: dict[str, list[RepositoryRef]] = {}
        for image in use.images:
            img = parse_image(image)
            by_registry.setdefault(img.registry, []).append(repository_ref(img))
        for registry, refs in by_registry.items():
            checked.append(use)
            requests.append(CheckRequest(use.credential, tuple(refs), registry))
    if not requests:
        return []
    return list(zip(checked, run_checks(requests, options), strict=True))


def verify_anonymous(report: AuditReport, options: CheckOptions) -> None:
    """Each image pulled without credentials is checked the same way, anonymously, once per repository."""
    outcomes = anonymous_outcomes([pull.image for pull in report.anonymous_pulls], options)
    if outcomes:
        report.findings.extend(anonymous_findings(report.anonymous_pulls, outcomes))


def anonymous_outcomes(images: list[str], options: CheckOptions) -> dict[str, tuple[bool, str | None]]:
    """image -> (an anonymous pull is allowed, the registry's reason if not); one check per registry."""
    # lazy: only this path needs it; the other commands of the module skip it
    from regcred.usecases.verification import check_anonymous

    refs: dict[str, list[RepositoryRef]] = {}
    keys: dict[str, tuple[str, str]] = {}
    for image in dict.fromkeys(images):
        try:
            img = parse_image(image)
        except ImageReferenceError:
            continue  # reported as invalid-image
        ref = repository_ref(img)
        refs.setdefault(img.registry, []).append(ref)
        keys[image] = (img.registry, ref.label)
    if not refs:
        return {}
    outcomes = check_anonymous(refs, options)
    return {image: outcomes[key] for image, key in keys.items()}
