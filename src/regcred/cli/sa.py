"""`regcred sa`: put a pull Secret on ServiceAccounts (attach/detach/create), safely on every namespace.

Reads are shared: with -A, ONE list each of namespaces, ServiceAccounts and the Secret serves all namespaces;
then one conditional write per ServiceAccount that needs a change, none for those already right.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from regcred.cli.clusteropts import ClusterOptions, cluster_options, report
from regcred.core.errors import InputError
from regcred.core.names import validate_subdomain
from regcred.shells.targets import WRITE_ATTEMPTS, TargetResult, run_per_namespace, skipped_rows

if TYPE_CHECKING:
    from regcred.shells.kube import KubeApi



@click.group()
def sa() -> None:
    """Attach pull Secrets to ServiceAccounts (pods created later with them can pull)."""


def _targets(func: Any) -> Any:
    func = click.option("--all-service-accounts", "all_sas", is_flag=True,
                        help="Every ServiceAccount of each namespace.")(func)
    func = click.option("--service-account", "names", multiple=True, metavar="NAME",
                        help="ServiceAccount to change (repeatable; default: default).")(func)
    return func


@sa.command("attach")
@click.argument("secret")
@_targets
@click.option("--restart-stuck", is_flag=True,
              help="Then replace Pods of these ServiceAccounts stuck pulling an image SECRET covers.")
@cluster_options()
def attach(secret: str, names: tuple[str, ...], all_sas: bool, restart_stuck: bool, cluster: ClusterOptions) -> None:
    """Add SECRET to imagePullSecrets of ServiceAccounts; other entries are kept, nothing is duplicated.

    SECRET must exist in each namespace (a missing or malformed one fails that namespace). The names regcred
    added are recorded in the annotation regcred.dev/added-pull-secrets, so `detach` removes only those.
    """
    update_service_accounts(secret, _names(names, all_sas), all_sas=all_sas, detach=False, force=False,
                            cluster=cluster, restart_stuck=restart_stuck)


@sa.command("detach")
@click.argument("secret")
@_targets
@click.option("--force", is_flag=True, help="Remove SECRET even where regcred did not add it.")
@cluster_options()
def detach(secret: str, names: tuple[str, ...], all_sas: bool, force: bool, cluster: ClusterOptions) -> None:
    """Remove SECRET from imagePullSecrets where regcred added it; every other entry stays."""
    update_service_accounts(secret, _names(names, all_sas), all_sas=all_sas, detach=True, force=force,
                            cluster=cluster)


@sa.command("create")
@click.argument("name")
@click.option("--pull-secret", "secret", required=True, metavar="SECRET", help="Pull Secret the account carries.")
@cluster_options()
def create(name: str, secret: str, cluster: ClusterOptions) -> None:
    """Create ServiceAccount NAME carrying SECRET (or attach SECRET to it when it exists)."""
    validate_subdomain(name, "ServiceAccount")
    validate_subdomain(secret, "Secret")
    if cluster.fans_out:
        raise InputError("sa create works on one namespace", hint="use -n NS")
    from regcred.core.cluster.serviceaccounts import new_service_account
    from regcred.shells.kube import KubeConflict

    with cluster.connect() as api:
        selection = cluster.select_namespaces(api)

        def work(ns: str) -> list[TargetResult]:
            problem = _secret_problem(api.get_optional("Secret", secret, ns), secret, ns)
            if problem:
                return [TargetResult(ns, name, "failed", problem)]
            existing = api.get_optional("ServiceAccount", name, ns)
            if existing is None:
                if cluster.dry_run == "client":
                    return [TargetResult(ns, name, "would-create", f"with imagePullSecrets [{secret}]")]
                try:
                    api.create(new_service_account(name, ns, secret), ns, dry_run=cluster.server_dry_run)
                    return [TargetResult(ns, name, "would-create" if cluster.server_dry_run else "created",
                                         f"with imagePullSecrets [{secret}]")]
                except KubeConflict:  # created by someone else in between: attach to it
                    existing = api.get("ServiceAccount", name, ns)
            return [update_one(api, existing, secret, detach=False, force=False, cluster=cluster)]

        rows = run_per_namespace(selection.active, work) + skipped_rows(selection.skipped)
    report(rows, cluster, document={"kind": "ServiceAccountResult", "operation": "create", "secret": secret})


def _names(names: tuple[str, ...], all_sas: bool) -> tuple[str, ...]:
    if all_sas and names:
        raise InputError("give either --service-account or --all-service-accounts")
    for n in names:
        validate_subdomain(n, "ServiceAccount")
    return tuple(dict.fromkeys(names)) or (() if all_sas else ("default",))  # a repeated name counts once


def update_service_accounts(secret: str, names: tuple[str, ...], *, all_sas: bool, detach: bool, force: bool,
                            cluster: ClusterOptions, restart_stuck: bool = False) -> None:
    """attach/detach over the selected namespaces, with shared lists and bounded concurrency."""
    validate_subdomain(secret, "Secret")
    from regcred.shells.kube.namespaces import named_per_namespace

    with cluster.connect() as api:
        selection = cluster.select_namespaces(api)
        scope = cluster.list_scope(selection)
        accounts: dict[str, dict[str, dict[str, Any]]] = {}
        secrets: dict[str, dict[str, Any]] = {}
        if selection.active:
            selector = f"metadata.name={names[0]}" if len(names) == 1 else None
            for obj in api.iter_list("ServiceAccount", scope, field_selector=selector):
                meta = obj["metadata"]
                accounts.setdefault(str(meta["namespace"]), {})[str(meta["name"])] = obj
            if not detach:
                secrets = named_per_namespace(api, "Secret", secret, scope)

        def work(ns: str) -> list[TargetResult]:
            if not detach:
                problem = _secret_problem(secrets.get(ns), secret, ns)
                if problem:
                    return [TargetResult(ns, "", "failed", problem)]
            in_ns = accounts.get(ns, {})
            rows = []
            for name in (sorted(in_ns) if all_sas else names):
                if name not in in_ns:
                    rows.append(TargetResult(ns, name, "failed", f"serviceaccount {name} not found in namespace {ns}"))
                    continue
                rows.append(update_one(api, in_ns[name], secret, detach=detach, force=force, cluster=cluster))
            if restart_stuck:
                rows += _restart_stuck(api, ns, secrets[ns], rows, cluster)
            return rows or [TargetResult(ns, "", "unchanged", "no ServiceAccounts")]

        rows = run_per_namespace(selection.active, work, workers=cluster.workers, what="namespaces")
    rows += skipped_rows(selection.skipped)
    report(rows, cluster, document={"kind": "ServiceAccountResult", "operation": "detach" if detach else "attach",
                                    "secret": secret})


def _restart_stuck(api: KubeApi, ns: str, secret_obj: dict[str, Any], rows: list[TargetResult],
                   cluster: ClusterOptions) -> list[TargetResult]:
    """Pods created before the attach keep their empty list: replace those stuck on an image SECRET covers."""
    from regcred.cli.workload import restart_stuck_pods, scope_from_secret

    carrying = {r.name for r in rows if r.status in ("attached", "unchanged", "would-attach")}
    if not carrying:
        return []
    return restart_stuck_pods(api, ns, scope=scope_from_secret(secret_obj), service_accounts=carrying,
                              dry_run=cluster.dry_run, copied_secret=str(secret_obj["metadata"]["name"]))


def _secret_problem(obj: dict[str, Any] | None, secret: str, ns: str) -> str | None:
    """Why pods could not use this Secret (missing, wrong type, malformed), or None."""
    from regcred.core.cluster.secretsync import payload_problem

    if obj is None:
        return (f"secret {secret} not found in namespace {ns}: not attached "
                f"(create it first: regcred secret create {secret} -n {ns})")
    problem = payload_problem(obj)
    if problem:
        return f"secret {secret} in namespace {ns} is not a usable pull secret ({problem}): not attached"
    return None


def update_one(api: KubeApi, account: dict[str, Any], secret: str, *, detach: bool, force: bool,
               cluster: ClusterOptions) -> TargetResult:
    """Plan against the object read; write conditionally on its resourceVersion; on conflict read and retry."""
    from regcred.shells.kube import KubeApiError, NamespaceGone, NamespaceTerminating

    meta = account["metadata"]
    ns, name = str(meta["namespace"]), str(meta["name"])
    try:
        return _update_one(api, account, secret, detach=detach, force=force, cluster=cluster)
    except (NamespaceGone, NamespaceTerminating):
        raise  # the whole namespace is going: reported once for it
    except KubeApiError as exc:  # 403/422/... on this account: its row names it, the other accounts go on
        return TargetResult(ns, name, "failed", exc.line())


def _update_one(api: KubeApi, account: dict[str, Any], secret: str, *, detach: bool, force: bool,
                cluster: ClusterOptions) -> TargetResult:
    from regcred.core.cluster.serviceaccounts import change_patch, plan_attach, plan_detach
    from regcred.shells.kube import KubeConflict, KubeInvalid, KubeNotFound

    meta = account["metadata"]
    ns, name = str(meta["namespace"]), str(meta["name"])
    for _ in range(WRITE_ATTEMPTS):
        change = plan_detach(account, secret, force=force) if detach else plan_attach(account, secret)
        if not change.changed:
            return TargetResult(ns, name, "kept" if change.status == "not-ours" else "unchanged", change.reason)
        if cluster.dry_run == "client":
            return TargetResult(ns, name, f"would-{'detach' if detach else 'attach'}", change.reason)
        try:
            api.patch("ServiceAccount", name, ns, change_patch(account, change), patch_type="merge",
                      dry_run=cluster.server_dry_run)
        except KubeConflict:  # another writer between our read and our write
            account = api.get("ServiceAccount", name, ns)
            continue
        except KubeInvalid:  # some servers answer a failed precondition with 422: retry only if it changed
            fresh = api.get("ServiceAccount", name, ns)
            if fresh["metadata"].get("resourceVersion") == account["metadata"].get("resourceVersion"):
                raise
            account = fresh
            continue
        except KubeNotFound:
            gone = api.get_optional("Namespace", ns)
            if gone is None or (gone.get("metadata") or {}).get("deletionTimestamp"):
                return TargetResult(ns, name, "skipped", "namespace was deleted during the run")
            return TargetResult(ns, name, "failed", f"serviceaccount {name} was deleted during the run")
        if cluster.server_dry_run:
            return TargetResult(ns, name, f"would-{'detach' if detach else 'attach'}", "accepted by the server (dryRun=All)")
        return TargetResult(ns, name, change.status, change.reason)
    return TargetResult(ns, name, "failed", f"serviceaccount {name} kept changing: gave up after {WRITE_ATTEMPTS} attempts")
