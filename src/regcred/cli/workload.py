"""`regcred workload attach SECRET`: add a pull secret to live workloads' pod templates.

One strategic merge patch per workload that needs it (PodSpec.imagePullSecrets merges by name on the
server, so other entries survive and nothing is duplicated); no request for a workload already covered.
Bare Pods and Jobs are reported, never patched: their pod spec cannot change. `restart_stuck` (also for
`sa attach --restart-stuck`) replaces Pods stuck pulling an image the secret covers.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import click

from regcred.cli.clusteropts import ClusterOptions, cluster_options, report
from regcred.core.cluster.podspec import EditRequest, RegistryScope
from regcred.core.errors import InputError, OperationFailed
from regcred.core.names import validate_subdomain
from regcred.shells.targets import TargetResult, run_per_namespace, skipped_rows

if TYPE_CHECKING:
    from regcred.shells.kube import KubeApi

PATCHABLE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "CronJob", "ReplicationController",
                   "PodTemplate")
REPORTED_KINDS = ("Job", "Pod")  # their pod spec cannot change: reported when they lack the secret
DEFAULT_KINDS = PATCHABLE_KINDS + REPORTED_KINDS


@click.group()
def workload() -> None:
    """Put a pull Secret on workloads' pod templates in a cluster."""


@workload.command("attach")
@click.argument("secret")
@click.option("--kind", "kinds", multiple=True, metavar="KIND",
              help=f"Only these kinds (repeatable; default: {', '.join(DEFAULT_KINDS)}).")
@click.option("-l", "--selector", metavar="SELECTOR", help="Only workloads matching this label selector.")
@click.option("--registry", "registries", multiple=True, metavar="PATTERN",
              help="Only workloads pulling an image this registry key covers (kubelet matching). Repeatable.")
@click.option("--service-account", "service_account", metavar="NAME",
              help="Also point the pod templates at this ServiceAccount (serviceAccountName).")
@click.option("--force", is_flag=True, help="Change serviceAccountName even when it names another ServiceAccount.")
@click.option("--restart-stuck", is_flag=True,
              help="Restart the owners of Pods stuck in ErrImagePull/ImagePullBackOff on a covered image.")
@cluster_options(output_choices=("table", "json", "yaml"))
def attach(secret: str, kinds: tuple[str, ...], selector: str | None, registries: tuple[str, ...],
           service_account: str | None, force: bool, restart_stuck: bool, cluster: ClusterOptions) -> None:
    """Add SECRET to imagePullSecrets of workload pod templates that need it (other entries kept).

    SECRET must exist in each namespace. Exit 1 when a namespace failed or a workload was refused
    (it names another ServiceAccount and --force was not given).
    """
    validate_subdomain(secret, "Secret")
    if service_account is not None:
        validate_subdomain(service_account, "--service-account")
    request = EditRequest(secret, RegistryScope(registries), service_account, force)
    wanted = _kinds(kinds)
    from regcred.shells.kube.namespaces import named_per_namespace

    with cluster.connect() as api:
        selection = cluster.select_namespaces(api)
        scope = cluster.list_scope(selection)
        objects: dict[str, list[dict[str, Any]]] = {}
        secrets: dict[str, dict[str, Any]] = {}
        if selection.active:
            for kind in wanted:
                for obj in api.iter_list(kind, scope, label_selector=selector):
                    objects.setdefault(str(obj["metadata"].get("namespace")), []).append(obj)
            secrets = named_per_namespace(api, "Secret", secret, scope)

        def work(ns: str) -> list[TargetResult]:
            rows, covered = attach_in_namespace(api, ns, objects.get(ns, []), secrets.get(ns), request, cluster)
            if restart_stuck and not any(r.failed and not r.name for r in rows):
                listed = None  # reuse the Pod list when it was read unfiltered
                if "Pod" in wanted and not selector:
                    listed = [o for o in objects.get(ns, []) if o.get("kind") == "Pod"]
                patched = {tuple(r.name.split("/", 1)) for r in rows if r.status in ("patched", "would-patch")}
                rows += restart_stuck_pods(api, ns, scope=request.scope, owners=covered, dry_run=cluster.dry_run,
                                           pods=listed, rolled_out=patched)
            return rows

        rows = run_per_namespace(selection.active, work, workers=cluster.workers, what="namespaces")
    rows += skipped_rows(selection.skipped)
    refused = [r for r in rows if r.status == "refused"]
    report(rows, cluster, document={"kind": "WorkloadResult", "operation": "attach", "secret": secret})
    if refused:
        raise OperationFailed(f"{len(refused)} workload(s) refused: they name another ServiceAccount",
                              hint="review them, then rerun with --force to change it")


def _kinds(kinds: tuple[str, ...]) -> tuple[str, ...]:
    from regcred.shells.kube import resource_type

    if not kinds:
        return DEFAULT_KINDS
    chosen = []
    for kind in kinds:
        try:
            rt = resource_type(kind)
        except InputError:
            rt = None
        if rt is None or rt.kind not in DEFAULT_KINDS:
            raise InputError(f"--kind {kind}: not a workload kind", hint=f"use one of {', '.join(DEFAULT_KINDS)}")
        chosen.append(rt.kind)
    return tuple(dict.fromkeys(chosen))


def attach_in_namespace(api: KubeApi, ns: str, objects: list[dict[str, Any]], secret_obj: dict[str, Any] | None,
                        request: EditRequest, cluster: ClusterOptions) -> tuple[list[TargetResult], set[tuple[str, str]]]:
    """Patch the workloads of one namespace; returns the rows and the (kind, name) now carrying the secret."""
    from regcred.core.cluster.podspec import find_pod_specs, plan_spec, template_patch
    from regcred.core.cluster.stuck import controller_of
    from regcred.shells.kube import KubeApiError, KubeNotFound, NamespaceGone, NamespaceTerminating

    rows: list[TargetResult] = []
    covered: set[tuple[str, str]] = set()
    pending: list[tuple[dict[str, Any], Any]] = []
    for obj in objects:
        kind, name = str(obj.get("kind")), str(obj["metadata"]["name"])
        owner = controller_of(obj)
        if owner is not None and kind in ("ReplicaSet", "Job", "Pod"):
            continue  # managed by a Deployment/CronJob/...: its owner's template is what counts
        for _, spec in find_pod_specs(obj):
            plan = plan_spec(spec, request)
            target = f"{kind}/{name}"
            if plan.skipped:
                rows.append(TargetResult(ns, target, "refused", plan.skipped))
            elif not plan.changes:
                if plan.covered:
                    covered.add((kind, name))
                    rows.append(TargetResult(ns, target, "unchanged", plan.reason))
            elif kind in REPORTED_KINDS:
                why = "a Pod's imagePullSecrets cannot change" if kind == "Pod" else "a Job's pod template cannot change"
                rows.append(TargetResult(ns, target, "skipped", f"{why}: recreate it with the secret"))
            else:
                pending.append((obj, plan))
    if not pending:
        return rows, covered
    from regcred.core.cluster.secretsync import payload_problem

    problem = "not found" if secret_obj is None else payload_problem(secret_obj)
    if problem:
        rows.insert(0, TargetResult(ns, "", "failed", f"secret {request.secret} in namespace {ns} is not usable "
                                                      f"({problem}): nothing attached"))
        return rows, covered
    for obj, plan in pending:
        kind, name = str(obj["kind"]), str(obj["metadata"]["name"])
        target = f"{kind}/{name}"
        what = _describe(plan, request)
        if cluster.dry_run == "client":
            rows.append(TargetResult(ns, target, "would-patch", what))
            covered.add((kind, name))
            continue
        try:
            api.patch(kind, name, ns, template_patch(kind, plan, request.secret), patch_type="strategic",
                      dry_run=cluster.server_dry_run)
        except (NamespaceGone, NamespaceTerminating):
            raise  # the whole namespace is going: reported once for it
        except KubeNotFound:
            rows.append(TargetResult(ns, target, "skipped", "deleted during the run"))
            continue
        except KubeApiError as exc:  # 403/422/409 for this object: the others go on
            rows.append(TargetResult(ns, target, "failed", exc.line()))
            continue
        covered.add((kind, name))
        rows.append(TargetResult(ns, target, "would-patch" if cluster.server_dry_run else "patched", what))
    return rows, covered


def _describe(plan: Any, request: EditRequest) -> str:
    parts = []
    if plan.add_secret:
        parts.append(f"added {request.secret}")
    if plan.set_service_account:
        parts.append(f"serviceAccountName {plan.set_service_account}")
    return ", ".join(parts)


def restart_stuck_pods(api: KubeApi, namespace: str, *, scope: RegistryScope,
                       owners: Collection[tuple[str, str]] | None = None,
                       service_accounts: Collection[str] | None = None,
                       dry_run: str = "none", pods: list[dict[str, Any]] | None = None,
                       rolled_out: Collection[tuple[str, ...]] = (),
                       copied_secret: str | None = None) -> list[TargetResult]:
    """Replace Pods of `namespace` stuck pulling an image `scope` covers; one row per owner acted on.

    `owners` limits the restart to pods whose top owner is one of these (kind, name) (workload attach);
    `service_accounts` to pods running as one of these ServiceAccounts (sa attach). `pods` may be given when
    already listed. `rolled_out` names owners whose template this run changed: that change already rolls
    them out, so no second rollout (restartedAt) is sent. `copied_secret` (sa attach) is the secret the Pods
    should get from their ServiceAccount: an owner whose template lists its own imagePullSecrets is then read
    (one GET per stuck owner) and reported `stuck` instead, since its new Pods would not copy that list.
    Requests: one pod list (unless given), one GET per ReplicaSet of a stuck pod, then one PATCH per owner
    rolled out or one DELETE per Job/ReplicaSet pod; nothing when no pod is stuck.
    """
    import contextlib
    from datetime import UTC, datetime

    from regcred.core.cluster.stuck import (
        find_stuck_pods,
        plan_restarts,
        restart_patch,
        service_account_copy_blocked,
    )
    from regcred.shells.kube import KubeApiError, KubeNotFound, NamespaceGone, NamespaceTerminating

    listed = pods if pods is not None else api.list("Pod", namespace)
    stuck = find_stuck_pods(listed, scope)
    if service_accounts is not None:
        stuck = [p for p in stuck if p.service_account in service_accounts]
    if not stuck:
        return []
    cache: dict[tuple[str, str, str], dict[str, Any] | None] = {}

    def lookup(kind: str, ns: str, name: str) -> dict[str, Any] | None:
        if (kind, ns, name) not in cache:
            cache[(kind, ns, name)] = api.get_optional(kind, name, ns)
        return cache[(kind, ns, name)]

    rows: list[TargetResult] = []
    server_dry = dry_run == "server"
    for action in plan_restarts(listed, stuck, lookup):
        if owners is not None and action.action != "report" and (action.kind, action.name) not in owners:
            continue  # its template does not carry the secret: a restart would fail the same way
        images = ", ".join(action.images)
        label = f"{action.kind}/{action.name}"
        pods_text = f"{len(action.pods)} stuck pod(s) on {images}"
        if action.action == "report":
            rows.append(TargetResult(namespace, label, "stuck", f"{pods_text}; {action.reason}"))
            continue
        if copied_secret is not None:
            blocked = service_account_copy_blocked(lookup(action.kind, namespace, action.name), copied_secret)
            if blocked:
                rows.append(TargetResult(namespace, label, "stuck", f"{pods_text}; not restarted: {blocked} "
                                         f"({_template_fix(action.kind, copied_secret, namespace)})"))
                continue
        if action.action == "rollout" and (action.kind, action.name) in rolled_out:
            rows.append(TargetResult(namespace, label, "would-restart" if dry_run != "none" else "restarted",
                                     f"{pods_text}: rolled out by the template change", extra={"pods": action.pods}))
            continue
        if dry_run == "client":
            rows.append(TargetResult(namespace, label, "would-restart", pods_text))
            continue
        try:
            if action.action == "rollout":
                api.patch(action.kind, action.name, namespace, restart_patch(datetime.now(UTC)),
                          patch_type="strategic", dry_run=server_dry)
            else:
                for pod in action.pods:
                    with contextlib.suppress(KubeNotFound):  # already gone: nothing to restart
                        api.delete("Pod", pod, namespace, dry_run=server_dry)
        except (NamespaceGone, NamespaceTerminating):
            raise
        except KubeApiError as exc:
            rows.append(TargetResult(namespace, label, "failed", f"restart: {exc.line()}"))
            continue
        verb = "rolled out" if action.action == "rollout" else "deleted pods"
        rows.append(TargetResult(namespace, label, "would-restart" if server_dry else "restarted",
                                 f"{pods_text}: {verb}", extra={"pods": action.pods}))
    return rows


def _template_fix(kind: str, secret: str, namespace: str) -> str:
    if kind == "Job":  # a Job's pod template cannot change
        return f"recreate the Job with {secret} in its pod template"
    return f"add it to the template: regcred workload attach {secret} -n {namespace} --kind {kind} --restart-stuck"


def scope_from_secret(secret_obj: dict[str, Any]) -> RegistryScope:
    """The images a pull Secret serves: its registry keys (those the kubelet accepts) as a RegistryScope.

    For `sa attach --restart-stuck`, where no --registry is given: a Pod is worth restarting only if the
    attached Secret has a credential for its image. A Secret the kubelet ignores covers nothing.
    """
    from regcred.core.credentials.pullsecret import read_pull_secret
    from regcred.core.credentials.registrykey import index_key
    from regcred.core.errors import ConfigFormatError

    try:
        pull = read_pull_secret(secret_obj)
    except ConfigFormatError:
        return RegistryScope(["invalid.regcred.local:1"])  # matches no real image
    keys = [e.key for e in pull.config.entries if index_key(e.key) is not None] if pull.config else []
    return RegistryScope(keys or ["invalid.regcred.local:1"])
