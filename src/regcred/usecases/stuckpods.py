"""Pods stuck pulling (ErrImagePull/ImagePullBackOff) after a credential was attached: replace them.

A running Pod's imagePullSecrets can never change, and a Pod copies its ServiceAccount's list only at creation:
a Pod created before the attach stays stuck until it is replaced. Shared by `workload attach --restart-stuck`
and `sa attach --restart-stuck`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from datetime import UTC, datetime

from regcred.core.cluster.podspec import RegistryScope
from regcred.usecases.dryrun import DryRun
from regcred.usecases.kubeapi import KubeApi, Obj
from regcred.usecases.rows import RowStatus, TargetResult

_NO_IMAGE = "invalid.regcred.local:1"  # a registry key that matches no real image


def restart_stuck_pods(api: KubeApi, namespace: str, *, scope: RegistryScope,
                       owners: Collection[tuple[str, str]] | None = None,
                       service_accounts: Collection[str] | None = None,
                       dry_run: DryRun = DryRun.NONE, pods: list[Obj] | None = None,
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
    from regcred.core.cluster.stuck import (
        find_stuck_pods,
        plan_restarts,
        restart_patch,
        service_account_copy_blocked,
    )
    from regcred.shells.kube import KubeApiError, KubeNotFound, NamespaceGone, NamespaceTerminating

    dry_run = DryRun(dry_run)
    listed = pods if pods is not None else api.list("Pod", namespace)
    stuck = find_stuck_pods(listed, scope)
    if service_accounts is not None:
        stuck = [p for p in stuck if p.service_account in service_accounts]
    if not stuck:
        return []
    cache: dict[tuple[str, str, str], Obj | None] = {}

    def lookup(kind: str, ns: str, name: str) -> Obj | None:
        if (kind, ns, name) not in cache:
            cache[(kind, ns, name)] = api.get_optional(kind, name, ns)
        return cache[(kind, ns, name)]

    rows: list[TargetResult] = []
    restarted = RowStatus.WOULD_RESTART if dry_run.on_server else RowStatus.RESTARTED
    for action in plan_restarts(listed, stuck, lookup):
        if owners is not None and action.action != "report" and (action.kind, action.name) not in owners:
            continue  # its template does not carry the secret: a restart would fail the same way
        images = ", ".join(action.images)
        label = f"{action.kind}/{action.name}"
        pods_text = f"{len(action.pods)} stuck pod(s) on {images}"
        if action.action == "report":
            rows.append(TargetResult(namespace, label, RowStatus.STUCK, f"{pods_text}; {action.reason}"))
            continue
        if copied_secret is not None:
            blocked = service_account_copy_blocked(lookup(action.kind, namespace, action.name), copied_secret)
            if blocked:
                rows.append(TargetResult(namespace, label, RowStatus.STUCK, f"{pods_text}; not restarted: {blocked} "
                                         f"({_template_fix(action.kind, copied_secret, namespace)})"))
                continue
        if action.action == "rollout" and (action.kind, action.name) in rolled_out:
            rows.append(TargetResult(namespace, label,
                                     RowStatus.WOULD_RESTART if dry_run.changes_nothing else RowStatus.RESTARTED,
                                     f"{pods_text}: rolled out by the template change", extra={"pods": action.pods}))
            continue
        if dry_run.sends_nothing:
            rows.append(TargetResult(namespace, label, RowStatus.WOULD_RESTART, pods_text))
            continue
        try:
            if action.action == "rollout":
                api.patch(action.kind, action.name, namespace, restart_patch(datetime.now(UTC)),
                          patch_type="strategic", dry_run=dry_run.on_server)
            else:
                for pod in action.pods:
                    with contextlib.suppress(KubeNotFound):  # already gone: nothing to restart
                        api.delete("Pod", pod, namespace, dry_run=dry_run.on_server)
        except (NamespaceGone, NamespaceTerminating):
            raise
        except KubeApiError as exc:
            rows.append(TargetResult(namespace, label, RowStatus.FAILED, f"restart: {exc.line()}"))
            continue
        verb = "rolled out" if action.action == "rollout" else "deleted pods"
        rows.append(TargetResult(namespace, label, restarted, f"{pods_text}: {verb}", extra={"pods": action.pods}))
    return rows


def _template_fix(kind: str, secret: str, namespace: str) -> str:
    if kind == "Job":  # a Job's pod template cannot change
        return f"recreate the Job with {secret} in its pod template"
    return f"add it to the template: regcred workload attach {secret} -n {namespace} --kind {kind} --restart-stuck"


def scope_from_secret(secret_obj: Obj) -> RegistryScope:
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
        return RegistryScope([_NO_IMAGE])
    keys = [e.key for e in pull.config.entries if index_key(e.key) is not None] if pull.config else []
    return RegistryScope(keys or [_NO_IMAGE])
