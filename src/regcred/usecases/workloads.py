"""Put a pull Secret on live workloads' pod templates (`workload attach`).

One strategic merge patch per workload that needs it (PodSpec.imagePullSecrets merges by name on the
server, so other entries survive and nothing is duplicated); no request for a workload already covered.
Bare Pods and Jobs are reported, never patched: their pod spec cannot change.
"""

from __future__ import annotations

from dataclasses import dataclass

from regcred.core.cluster.podspec import EditRequest, SpecPlan
from regcred.core.errors import InputError
from regcred.usecases.dryrun import DryRun
from regcred.usecases.fanout import DEFAULT_WORKERS, run_per_namespace
from regcred.usecases.kubeapi import KubeApi, Obj
from regcred.usecases.namespaces import NamespaceQuery, named_per_namespace
from regcred.usecases.rows import RowStatus, TargetResult, skipped_rows
from regcred.usecases.stuckpods import restart_stuck_pods

PATCHABLE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "CronJob", "ReplicationController",
                   "PodTemplate")
REPORTED_KINDS = ("Job", "Pod")  # their pod spec cannot change: reported when they lack the secret
DEFAULT_KINDS = PATCHABLE_KINDS + REPORTED_KINDS


def workload_kinds(kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The kinds asked for (any spelling kubectl takes), checked, deduplicated; every kind when none."""
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


@dataclass(frozen=True, slots=True)
class WorkloadAttach:
    """What `workload attach` was asked: the edit, which workloads, and whether to restart stuck Pods."""

    request: EditRequest
    kinds: tuple[str, ...] = DEFAULT_KINDS
    selector: str | None = None
    restart_stuck: bool = False


def attach_to_workloads(api: KubeApi, namespaces: NamespaceQuery, job: WorkloadAttach, *,
                        dry_run: DryRun = DryRun.NONE, workers: int = DEFAULT_WORKERS) -> list[TargetResult]:
    """Patch every selected namespace's workloads that need the secret; one row per workload acted on.

    Reads are shared: one LIST per kind and one of the Secret serve every namespace.
    """
    selection = namespaces.select(api)
    scope = namespaces.list_scope(selection)
    objects: dict[str, list[Obj]] = {}
    secrets: dict[str, Obj] = {}
    if selection.active:
        for kind in job.kinds:
            for obj in api.iter_list(kind, scope, label_selector=job.selector):
                objects.setdefault(str(obj["metadata"].get("namespace")), []).append(obj)
        secrets = named_per_namespace(api, "Secret", job.request.secret, scope)

    def work(ns: str) -> list[TargetResult]:
        rows, covered = attach_in_namespace(api, ns, objects.get(ns, []), secrets.get(ns), job.request,
                                            dry_run=dry_run)
        if job.restart_stuck and not any(r.failed and not r.name for r in rows):
            listed = None  # reuse the Pod list when it was read unfiltered
            if "Pod" in job.kinds and not job.selector:
                listed = [o for o in objects.get(ns, []) if o.get("kind") == "Pod"]
            patched = {tuple(r.name.split("/", 1)) for r in rows
                       if r.status in (RowStatus.PATCHED, RowStatus.WOULD_PATCH)}
            rows += restart_stuck_pods(api, ns, scope=job.request.scope, owners=covered, dry_run=dry_run,
                                       pods=listed, rolled_out=patched)
        return rows

    rows = run_per_namespace(selection.active, work, workers=workers, what="namespaces")
    return rows + skipped_rows(selection.skipped)


def attach_in_namespace(api: KubeApi, ns: str, objects: list[Obj], secret_obj: Obj | None,
                        request: EditRequest, *, dry_run: DryRun = DryRun.NONE,
                        ) -> tuple[list[TargetResult], set[tuple[str, str]]]:
    """Patch the workloads of one namespace; returns the rows and the (kind, name) now carrying the secret."""
    from regcred.core.cluster.podspec import find_pod_specs, plan_spec, template_patch
    from regcred.core.cluster.stuck import controller_of
    from regcred.shells.kube import KubeApiError, KubeNotFound, NamespaceGone, NamespaceTerminating

    dry_run = DryRun(dry_run)
    rows: list[TargetResult] = []
    covered: set[tuple[str, str]] = set()
    pending: list[tuple[Obj, SpecPlan]] = []
    for obj in objects:
        kind, name = str(obj.get("kind")), str(obj["metadata"]["name"])
        owner = controller_of(obj)
        if owner is not None and kind in ("ReplicaSet", "Job", "Pod"):
            continue  # managed by a Deployment/CronJob/...: its owner's template is what counts
        for _, spec in find_pod_specs(obj):
            plan = plan_spec(spec, request)
            target = f"{kind}/{name}"
            if plan.skipped:
                rows.append(TargetResult(ns, target, RowStatus.REFUSED, plan.skipped))
            elif not plan.changes:
                if plan.covered:
                    covered.add((kind, name))
                    rows.append(TargetResult(ns, target, RowStatus.UNCHANGED, plan.reason))
            elif kind in REPORTED_KINDS:
                why = "a Pod's imagePullSecrets cannot change" if kind == "Pod" else "a Job's pod template cannot change"
                rows.append(TargetResult(ns, target, RowStatus.SKIPPED, f"{why}: recreate it with the secret"))
            else:
                pending.append((obj, plan))
    if not pending:
        return rows, covered
    from regcred.core.cluster.secretsync import payload_problem

    problem = "not found" if secret_obj is None else payload_problem(secret_obj)
    if problem:
        rows.insert(0, TargetResult(ns, "", RowStatus.FAILED, f"secret {request.secret} in namespace {ns} is not "
                                                              f"usable ({problem}): nothing attached"))
        return rows, covered
    for obj, plan in pending:
        kind, name = str(obj["kind"]), str(obj["metadata"]["name"])
        target = f"{kind}/{name}"
        what = _describe(plan, request)
        if dry_run.sends_nothing:
            rows.append(TargetResult(ns, target, RowStatus.WOULD_PATCH, what))
            covered.add((kind, name))
            continue
        try:
            api.patch(kind, name, ns, template_patch(kind, plan, request.secret), patch_type="strategic",
                      dry_run=dry_run.on_server)
        except (NamespaceGone, NamespaceTerminating):
            raise  # the whole namespace is going: reported once for it
        except KubeNotFound:
            rows.append(TargetResult(ns, target, RowStatus.SKIPPED, "deleted during the run"))
            continue
        except KubeApiError as exc:  # 403/422/409 for this object: the others go on
            rows.append(TargetResult(ns, target, RowStatus.FAILED, exc.line()))
            continue
        covered.add((kind, name))
        rows.append(TargetResult(ns, target, RowStatus.WOULD_PATCH if dry_run.on_server else RowStatus.PATCHED,
                                 what))
    return rows, covered


def _describe(plan: SpecPlan, request: EditRequest) -> str:
    parts = []
    if plan.add_secret:
        parts.append(f"added {request.secret}")
    if plan.set_service_account:
        parts.append(f"serviceAccountName {plan.set_service_account}")
    return ", ".join(parts)
