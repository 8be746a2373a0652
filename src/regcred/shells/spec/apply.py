"""Carrying out a RegistryCredential plan against the cluster: exactly the planned writes, safely.

Every write is conditional on the resourceVersion that was planned against (a merge patch carrying it,
409 when the object changed). On a conflict the object is read again and re-planned with the same pure
rules, so a concurrent writer's entry is never dropped. A namespace deleted between plan and apply is
reported as skipped, not failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from regcred.core.errors import OperationFailed, RegcredError
from regcred.core.spec.planner import Change, DesiredCredential, Plan, entries_change, secret_change
from regcred.shells.kube import KubeConflict, KubeNotFound, NamespaceGone, NamespaceTerminating
from regcred.shells.spec.nodes import apply_nodes
from regcred.shells.targets import DEFAULT_WORKERS, WRITE_ATTEMPTS, TargetResult, run_per_namespace

DONE = {"create": "created", "update": "updated", "delete": "deleted", "add": "attached", "remove": "detached"}
NAMESPACE_LEFT = ("namespace is being terminated", "namespace no longer exists")  # nothing more to write there


def _object_groups(changes: Sequence[Change]) -> dict[str, list[list[Change]]]:
    """Changes by namespace, then by object (Secrets first, as planned), keeping plan order."""
    groups: dict[str, dict[tuple[str, str], list[Change]]] = {}
    for change in changes:
        groups.setdefault(change.namespace, {}).setdefault((change.kind, change.name), []).append(change)
    return {ns: list(objs.values()) for ns, objs in groups.items()}


def apply_plan(api: Any, plan: Plan, *, dry_run: str = "none", workers: int = DEFAULT_WORKERS,
               desired: Sequence[DesiredCredential] = (),
               host_root: str | None = None) -> list[TargetResult]:
    """Perform the plan's cluster changes, namespace by namespace (bounded concurrency); rows per object.

    `dry_run` as kubectl's: none, client (nothing sent) or server (every write sent with dryRun=All).
    """
    rows: list[TargetResult] = [
        TargetResult(c.namespace, _label(c), "failed", c.reason) for c in plan.conflicts if c.kind != "Node"
    ]
    groups = _object_groups([c for c in plan.pending if c.kind != "Node"])
    by_secret = {(d.spec.secret_name, d.spec.name): d for d in desired}

    def work(ns: str) -> list[TargetResult]:
        out: list[TargetResult] = []
        for group in groups[ns]:
            out.append(_apply_object(api, group, dry_run, by_secret))
            if out[-1].status == "skipped" and out[-1].message in NAMESPACE_LEFT:
                break
        return out

    rows += run_per_namespace(sorted(groups), work, workers=workers, what="apply")
    rows += [TargetResult(s.namespace, f"{s.kind}/{s.name}" if s.name else "", "skipped", s.reason)
             for s in plan.skipped]
    node_changes = [c for c in plan.pending if c.kind == "Node"]
    if node_changes and host_root is not None:
        rows += apply_nodes(node_changes, host_root, dry_run=dry_run != "none")
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


def _apply_object(api: Any, group: Sequence[Change], dry_run: str,
                  by_secret: dict[tuple[str, str], DesiredCredential]) -> TargetResult:
    first = group[0]
    label = _label(first)
    status = DONE[first.action] if first.kind == "Secret" else (
        "updated" if len({c.action for c in group}) > 1 else DONE[first.action])
    if dry_run == "client":
        return TargetResult(first.namespace, label, f"would-{first.action}", _summary(group))
    server = dry_run == "server"
    body: Any = first.obj
    action = first.action
    for _ in range(WRITE_ATTEMPTS):
        try:
            if body is None and action != "delete":
                return TargetResult(first.namespace, label, "unchanged", "already as planned (changed meanwhile)")
            _write(api, first, action, body, server)
            return TargetResult(first.namespace, label, f"would-{first.action}" if server else status,
                                _summary(group))
        except NamespaceTerminating:
            return TargetResult(first.namespace, label, "skipped", NAMESPACE_LEFT[0])
        except NamespaceGone:
            return TargetResult(first.namespace, label, "skipped", NAMESPACE_LEFT[1])
        except KubeNotFound:
            if action == "delete":
                return TargetResult(first.namespace, label, "unchanged", "already deleted")
            if first.kind != "Secret":
                return TargetResult(first.namespace, label, "skipped", "the object no longer exists")
            action, body = _replan_secret(None, first, by_secret)
        except KubeConflict:
            fresh = _read(api, first)
            if first.kind == "Secret":
                if action == "delete":
                    return TargetResult(first.namespace, label, "failed", "changed meanwhile; run apply again")
                action, body = _replan_secret(fresh, first, by_secret)
            elif fresh is None:
                return TargetResult(first.namespace, label, "skipped", "the object no longer exists")
            else:
                wanted = [c.secret for c in group if c.action == "add"]
                removed = [c.secret for c in group if c.action == "remove"]
                _, body = entries_change(fresh, wanted, removed)
                action = "patch"
        except RegcredError as exc:  # this object only: the rows of the writes already made stay, the rest goes on
            return TargetResult(first.namespace, label, "failed", exc.line())
    return TargetResult(first.namespace, label, "failed", f"kept changing: gave up after {WRITE_ATTEMPTS} attempts")


def _replan_secret(fresh: dict[str, Any] | None, change: Change,
                   by_secret: dict[tuple[str, str], DesiredCredential]) -> tuple[str, Any]:
    desired = by_secret.get((change.name, change.credential))
    if desired is None:
        raise OperationFailed(f"secret {change.name} changed meanwhile; run apply again")
    again = secret_change(desired, [change.credential], change.namespace, fresh)
    if again is None:
        return "none", None
    if again.is_conflict:
        raise OperationFailed(again.reason)
    return again.action, again.obj


def _kind_and_name(change: Change) -> tuple[str, str]:
    if change.kind in ("Secret", "ServiceAccount"):
        return change.kind, change.name
    kind, _, name = change.name.partition("/")
    return kind, name


def _read(api: Any, change: Change) -> dict[str, Any] | None:
    kind, name = _kind_and_name(change)
    obj: dict[str, Any] | None = api.get_optional(kind, name, change.namespace)
    return obj


def _write(api: Any, change: Change, action: str, body: Any, server_dry_run: bool) -> None:
    kind, name = _kind_and_name(change)
    if action == "create":
        api.create(dict(body), change.namespace, dry_run=server_dry_run)
    elif action == "delete":
        api.delete(kind, name, change.namespace, dry_run=server_dry_run)
    else:
        api.patch(kind, name, change.namespace, body, patch_type="merge", dry_run=server_dry_run)
