"""Carrying out a RegistryCredential plan against the cluster: exactly the planned writes, safely.

Every write is conditional on the resourceVersion that was planned against (a merge patch carrying it,
409 when the object changed). On a conflict the object is read again and re-planned with the same pure
rules (`conditional.write_conditionally`), so a concurrent writer's entry is never dropped. A namespace
deleted between plan and apply is reported as skipped, not failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from regcred.core.errors import OperationFailed, RegcredError
from regcred.core.spec.planner import Change, DesiredCredential, Plan, entries_change, secret_change
from regcred.usecases.conditional import Done, KeptChanging, Write, write_conditionally
from regcred.usecases.dryrun import DryRun
from regcred.usecases.fanout import DEFAULT_WORKERS, run_per_namespace
from regcred.usecases.kubeapi import KubeApi, Obj
from regcred.usecases.rollout import RolloutGate
from regcred.usecases.rows import RowStatus, TargetResult

DONE = {"create": RowStatus.CREATED, "update": RowStatus.UPDATED, "delete": RowStatus.DELETED,
        "add": RowStatus.ATTACHED, "remove": RowStatus.DETACHED}
NAMESPACE_LEFT = ("namespace is being terminated", "namespace no longer exists")  # nothing more to write there

Step = Done[TargetResult] | Write[TargetResult]


def _object_groups(changes: Sequence[Change]) -> dict[str, list[list[Change]]]:
    """Changes by namespace, then by object (Secrets first, as planned), keeping plan order."""
    groups: dict[str, dict[tuple[str, str], list[Change]]] = {}
    for change in changes:
        groups.setdefault(change.namespace, {}).setdefault((change.kind, change.name), []).append(change)
    return {ns: list(objs.values()) for ns, objs in groups.items()}


def apply_plan(api: KubeApi, plan: Plan, *, dry_run: DryRun = DryRun.NONE, workers: int = DEFAULT_WORKERS,
               desired: Sequence[DesiredCredential] = (), host_root: str | None = None,
               gate: RolloutGate | None = None) -> list[TargetResult]:
    """Perform the plan's cluster changes, namespace by namespace (bounded concurrency); rows per object.

    `dry_run` as kubectl's: none, client (nothing sent) or server (every write sent with dryRun=All). `gate`:
    a Secret update of a verifyBeforeRollout spec is made only when the registry accepts its new credentials
    (else that row fails and the copy stays; the ServiceAccount changes go on).
    """
    dry_run = DryRun(dry_run)
    rows: list[TargetResult] = [
        TargetResult(c.namespace, _label(c), RowStatus.FAILED, c.reason) for c in plan.conflicts if c.kind != "Node"
    ]
    groups = _object_groups([c for c in plan.pending if c.kind != "Node"])
    by_secret = {(d.spec.secret_name, d.spec.name): d for d in desired}

    def work(ns: str) -> list[TargetResult]:
        out: list[TargetResult] = []
        missing: set[str] = set()  # Secrets whose creation failed: nothing may start referring to them
        for planned in groups[ns]:
            group = [c for c in planned if not (c.action == "add" and c.secret in missing)]
            if len(group) < len(planned):
                held = sorted({c.secret for c in planned} - {c.secret for c in group})
                out.append(TargetResult(ns, _label(planned[0]), RowStatus.SKIPPED,
                                        f"not attached: Secret {', '.join(held)} could not be created"))
            if not group:
                continue
            out.append(_apply_object(api, group, dry_run, by_secret, gate))
            if group[0].kind == "Secret" and group[0].action == "create" and out[-1].failed:
                missing.add(group[0].name)
            if out[-1].status is RowStatus.SKIPPED and out[-1].message in NAMESPACE_LEFT:
                break
        return out

    rows += run_per_namespace(sorted(groups), work, workers=workers, what="apply")
    rows += [TargetResult(s.namespace, f"{s.kind}/{s.name}" if s.name else "", RowStatus.SKIPPED, s.reason)
             for s in plan.skipped]
    node_changes = [c for c in plan.pending if c.kind == "Node"]
    if node_changes and host_root is not None:
        # lazy: only this path needs it; the other commands of the module skip it
        from regcred.usecases.specnodes import apply_nodes

        rows += apply_nodes(node_changes, host_root, dry_run=dry_run.changes_nothing)
    return rows


def _label(change: Change) -> str:
    return f"Secret/{change.name}" if change.kind == "Secret" else (
        f"ServiceAccount/{change.name}" if change.kind == "ServiceAccount" else change.name)


def _summary(group: Sequence[Change]) -> str:
    parts = []
    for c in group:
        if c.secret:
            parts.append(("+" if c.action == "add" else "-") + c.secret)
        elif c.added or c.removed or c.updated:
            parts.append(" ".join([*(f"+{k}" for k in c.added), *(f"-{k}" for k in c.removed),
                                   *(f"~{k}" for k in c.updated)]))
        elif c.reason:
            parts.append(c.reason)
    return " ".join(parts)


def _apply_object(api: KubeApi, group: Sequence[Change], dry_run: DryRun,
                  by_secret: dict[tuple[str, str], DesiredCredential], gate: RolloutGate | None) -> TargetResult:
    """The writes of one object (several entry changes of one ServiceAccount are one patch), re-planned on 409."""
    # lazy: httpx + lightkube, cluster commands only
    from regcred.shells.kube import KubeNotFound, NamespaceTerminating
    from regcred.shells.kube.errors import NamespaceGone  # lazy: httpx + lightkube, cluster commands only

    first = group[0]
    ns, label = first.namespace, _label(first)
    status = DONE[first.action] if first.kind == "Secret" else (
        RowStatus.UPDATED if len({c.action for c in group}) > 1 else DONE[first.action])
    if dry_run.sends_nothing:
        return TargetResult(ns, label, RowStatus.would(first.action), _summary(group))
    done = TargetResult(ns, label, RowStatus.would(first.action) if dry_run.on_server else status, _summary(group))

    def step(action: str, body: Any, renewed: Sequence[str] = (*first.added, *first.updated)) -> Step:
        if body is None and action != "delete":
            return Done(TargetResult(ns, label, RowStatus.UNCHANGED, "already as planned (changed meanwhile)"))
        desired = by_secret.get((first.name, first.credential))
        if gate is not None and first.kind == "Secret" and action == "update" and desired is not None:
            refused = gate.refusal(desired, renewed)  # the credentials this update brings in, checked first
            if refused is not None:
                return Done(TargetResult(ns, label, RowStatus.FAILED, refused))

        def send() -> TargetResult:
            try:
                _write(api, first, action, body, dry_run.on_server)
            except NamespaceGone:
                raise
            except KubeNotFound:
                if action == "delete":
                    return TargetResult(ns, label, RowStatus.UNCHANGED, "already deleted")
                if first.kind != "Secret":
                    return TargetResult(ns, label, RowStatus.SKIPPED, "the object no longer exists")
                raise  # a Secret deleted in between: planned again as absent
            return done

        return Write(send, creates=action == "create")

    def replan(fresh: Obj | None) -> Step:
        if first.kind == "Secret":
            if first.action == "delete":
                return Done(TargetResult(ns, label, RowStatus.FAILED, "changed meanwhile; run apply again"))
            return step(*_replan_secret(fresh, first, by_secret))
        if fresh is None:
            return Done(TargetResult(ns, label, RowStatus.SKIPPED, "the object no longer exists"))
        wanted = [c.secret for c in group if c.action == "add"]
        removed = [c.secret for c in group if c.action == "remove"]
        return step("patch", entries_change(fresh, wanted, removed)[1])

    try:
        return write_conditionally(None, replan, lambda: _read(api, first), planned=step(first.action, first.obj),
                                   replan_when_deleted=first.kind == "Secret")
    except NamespaceTerminating:
        return TargetResult(ns, label, RowStatus.SKIPPED, NAMESPACE_LEFT[0])
    except NamespaceGone:
        return TargetResult(ns, label, RowStatus.SKIPPED, NAMESPACE_LEFT[1])
    except KeptChanging as exc:
        return TargetResult(ns, label, RowStatus.FAILED, str(exc))
    except RegcredError as exc:  # this object only: the rows of the writes already made stay, the rest goes on
        return TargetResult(ns, label, RowStatus.FAILED, exc.line())


def _replan_secret(fresh: Obj | None, change: Change,
                   by_secret: dict[tuple[str, str], DesiredCredential]) -> tuple[str, Any, tuple[str, ...]]:

    desired = by_secret.get((change.name, change.credential))
    if desired is None:
        raise OperationFailed(f"secret {change.name} changed meanwhile; run apply again")
    again = secret_change(desired, [change.credential], change.namespace, fresh)
    if again is None:
        return "none", None, ()
    if again.is_conflict:
        raise OperationFailed(again.reason)
    return again.action, again.obj, (*again.added, *again.updated)


def _kind_and_name(change: Change) -> tuple[str, str]:
    if change.kind in ("Secret", "ServiceAccount"):
        return change.kind, change.name
    kind, _, name = change.name.partition("/")
    return kind, name


def _read(api: KubeApi, change: Change) -> Obj | None:
    kind, name = _kind_and_name(change)
    return api.get_optional(kind, name, change.namespace)


def _write(api: KubeApi, change: Change, action: str, body: Any, server_dry_run: bool) -> None:
    kind, name = _kind_and_name(change)
    if action == "create":
        api.create(dict(body), change.namespace, dry_run=server_dry_run)
    elif action == "delete":
        api.delete(kind, name, change.namespace, dry_run=server_dry_run)
    else:
        api.patch(kind, name, change.namespace, body, patch_type="merge", dry_run=server_dry_run)
