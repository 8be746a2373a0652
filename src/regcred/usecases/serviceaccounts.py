"""Put a pull Secret on ServiceAccounts (attach, detach, create), safely on every namespace.

Reads are shared: with -A, ONE list each of namespaces, ServiceAccounts and the Secret serves all namespaces;
then one conditional write per ServiceAccount that needs a change (`conditional.write_conditionally`), none
for those already right.
"""

from __future__ import annotations

from dataclasses import dataclass

from regcred.usecases.conditional import Done, KeptChanging, Write, write_conditionally
from regcred.usecases.dryrun import DryRun
from regcred.usecases.fanout import DEFAULT_WORKERS, run_per_namespace
from regcred.usecases.kubeapi import KubeApi, Obj
from regcred.usecases.namespaces import NamespaceQuery, named_per_namespace
from regcred.usecases.rows import RowStatus, TargetResult, skipped_rows


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """What `sa attach` / `sa detach` was asked: the Secret, which accounts, and how."""

    secret: str
    names: tuple[str, ...] = ("default",)  # ignored with all_accounts
    all_accounts: bool = False
    detach: bool = False
    force: bool = False  # detach: remove the entry even where regcred did not add it
    restart_stuck: bool = False  # attach: then replace Pods of these accounts stuck pulling


def update_service_accounts(api: KubeApi, namespaces: NamespaceQuery, job: AccountUpdate, *,
                            dry_run: DryRun = DryRun.NONE, workers: int = DEFAULT_WORKERS) -> list[TargetResult]:
    """attach/detach over the selected namespaces, with shared lists and bounded concurrency."""
    selection = namespaces.select(api)
    scope = namespaces.list_scope(selection)
    accounts: dict[str, dict[str, Obj]] = {}
    secrets: dict[str, Obj] = {}
    if selection.active:
        selector = f"metadata.name={job.names[0]}" if len(job.names) == 1 and not job.all_accounts else None
        for obj in api.iter_list("ServiceAccount", scope, field_selector=selector):
            meta = obj["metadata"]
            accounts.setdefault(str(meta["namespace"]), {})[str(meta["name"])] = obj
        if not job.detach:
            secrets = named_per_namespace(api, "Secret", job.secret, scope)

    def work(ns: str) -> list[TargetResult]:
        if not job.detach:
            problem = secret_problem(secrets.get(ns), job.secret, ns)
            if problem:
                return [TargetResult(ns, "", RowStatus.FAILED, problem)]
        in_ns = accounts.get(ns, {})
        rows = []
        for name in (sorted(in_ns) if job.all_accounts else job.names):
            if name not in in_ns:
                rows.append(TargetResult(ns, name, RowStatus.FAILED,
                                         f"serviceaccount {name} not found in namespace {ns}"))
                continue
            rows.append(update_one(api, in_ns[name], job.secret, detach=job.detach, force=job.force,
                                   dry_run=dry_run))
        if job.restart_stuck:
            rows += _restart_stuck(api, ns, secrets[ns], rows, dry_run)
        return rows or [TargetResult(ns, "", RowStatus.UNCHANGED, "no ServiceAccounts")]

    rows = run_per_namespace(selection.active, work, workers=workers, what="namespaces")
    return rows + skipped_rows(selection.skipped)


def create_service_account(api: KubeApi, namespaces: NamespaceQuery, name: str, secret: str, *,
                           dry_run: DryRun = DryRun.NONE) -> list[TargetResult]:
    """Create ServiceAccount `name` carrying `secret` (or attach `secret` to it when it exists)."""
    from regcred.core.cluster.serviceaccounts import new_service_account
    from regcred.shells.kube import KubeConflict

    selection = namespaces.select(api)

    def work(ns: str) -> list[TargetResult]:
        problem = secret_problem(api.get_optional("Secret", secret, ns), secret, ns)
        if problem:
            return [TargetResult(ns, name, RowStatus.FAILED, problem)]
        existing = api.get_optional("ServiceAccount", name, ns)
        if existing is None:
            if dry_run.sends_nothing:
                return [TargetResult(ns, name, RowStatus.WOULD_CREATE, f"with imagePullSecrets [{secret}]")]
            try:
                api.create(new_service_account(name, ns, secret), ns, dry_run=dry_run.on_server)
                return [TargetResult(ns, name, RowStatus.WOULD_CREATE if dry_run.on_server else RowStatus.CREATED,
                                     f"with imagePullSecrets [{secret}]")]
            except KubeConflict:  # created by someone else in between: attach to it
                existing = api.get("ServiceAccount", name, ns)
        return [update_one(api, existing, secret, detach=False, force=False, dry_run=dry_run)]

    return run_per_namespace(selection.active, work) + skipped_rows(selection.skipped)


def _restart_stuck(api: KubeApi, ns: str, secret_obj: Obj, rows: list[TargetResult],
                   dry_run: DryRun) -> list[TargetResult]:
    """Pods created before the attach keep their empty list: replace those stuck on an image SECRET covers."""
    from regcred.usecases.stuckpods import restart_stuck_pods, scope_from_secret

    carrying = {r.name for r in rows
                if r.status in (RowStatus.ATTACHED, RowStatus.UNCHANGED, RowStatus.WOULD_ATTACH)}
    if not carrying:
        return []
    return restart_stuck_pods(api, ns, scope=scope_from_secret(secret_obj), service_accounts=carrying,
                              dry_run=dry_run, copied_secret=str(secret_obj["metadata"]["name"]))


def secret_problem(obj: Obj | None, secret: str, ns: str) -> str | None:
    """Why pods could not use this Secret (missing, wrong type, malformed), or None."""
    from regcred.core.cluster.secretsync import payload_problem

    if obj is None:
        return (f"secret {secret} not found in namespace {ns}: not attached "
                f"(create it first: regcred secret create {secret} -n {ns})")
    problem = payload_problem(obj)
    if problem:
        return f"secret {secret} in namespace {ns} is not a usable pull secret ({problem}): not attached"
    return None


def update_one(api: KubeApi, account: Obj, secret: str, *, detach: bool, force: bool,
               dry_run: DryRun = DryRun.NONE) -> TargetResult:
    """Plan against the object read; write conditionally on its resourceVersion; on conflict read and retry."""
    from regcred.core.cluster.serviceaccounts import change_patch, plan_attach, plan_detach
    from regcred.shells.kube import KubeApiError, KubeNotFound, NamespaceGone, NamespaceTerminating

    dry_run = DryRun(dry_run)
    meta = account["metadata"]
    ns, name = str(meta["namespace"]), str(meta["name"])
    would = RowStatus.WOULD_DETACH if detach else RowStatus.WOULD_ATTACH

    def plan(current: Obj | None) -> Done[TargetResult] | Write[TargetResult]:
        assert current is not None  # read with get(): a ServiceAccount deleted in between raises instead
        change = plan_detach(current, secret, force=force) if detach else plan_attach(current, secret)
        if not change.changed:
            return Done(TargetResult(ns, name, RowStatus.KEPT if change.status == "not-ours" else RowStatus.UNCHANGED,
                                     change.reason))
        if dry_run.sends_nothing:
            return Done(TargetResult(ns, name, would, change.reason))

        def send() -> TargetResult:
            try:
                api.patch("ServiceAccount", name, ns, change_patch(current, change), patch_type="merge",
                          dry_run=dry_run.on_server)
            except KubeNotFound:
                gone = api.get_optional("Namespace", ns)
                if gone is None or (gone.get("metadata") or {}).get("deletionTimestamp"):
                    return TargetResult(ns, name, RowStatus.SKIPPED, "namespace was deleted during the run")
                return TargetResult(ns, name, RowStatus.FAILED, f"serviceaccount {name} was deleted during the run")
            if dry_run.on_server:
                return TargetResult(ns, name, would, "accepted by the server (dryRun=All)")
            return TargetResult(ns, name, RowStatus(change.status), change.reason)

        return Write(send)

    try:
        return write_conditionally(account, plan, lambda: api.get("ServiceAccount", name, ns),
                                   invalid_may_be_stale=True)
    except KeptChanging as exc:
        return TargetResult(ns, name, RowStatus.FAILED,
                            f"serviceaccount {name} kept changing: gave up after {exc.attempts} attempts")
    except (NamespaceGone, NamespaceTerminating):
        raise  # the whole namespace is going: reported once for it
    except KubeApiError as exc:  # 403/422/... on this account: its row names it, the other accounts go on
        return TargetResult(ns, name, RowStatus.FAILED, exc.line())
