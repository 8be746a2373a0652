"""Create or update a pull Secret in many namespaces: plan per namespace, write only what changes.

Reads are shared: with -A / --namespace-selector, ONE cluster-wide list of Secrets named NAME (fieldSelector)
serves every namespace; then at most one conditional write per namespace that needs a change.
"""

from __future__ import annotations

from regcred.core.cluster.secretsync import SecretPlan, plan_secret
from regcred.core.credentials.pullsecret import MANAGED_BY_LABEL, MANAGED_BY_VALUE, secret_manifest
from regcred.usecases.conditional import Done, KeptChanging, Write, write_conditionally
from regcred.usecases.dryrun import DryRun
from regcred.usecases.fanout import DEFAULT_WORKERS, run_per_namespace
from regcred.usecases.kubeapi import KubeApi, Obj
from regcred.usecases.namespaces import NamespaceQuery, named_per_namespace
from regcred.usecases.rows import RowStatus, TargetResult, skipped_rows

_DONE = {"create": RowStatus.CREATED, "update": RowStatus.UPDATED}


def apply_pull_secret(api: KubeApi, namespaces: NamespaceQuery, name: str, payload: bytes, *, overwrite: bool,
                      dry_run: DryRun = DryRun.NONE, workers: int = DEFAULT_WORKERS) -> list[TargetResult]:
    """Create or update Secret `name` in every selected namespace; one row per namespace."""
    from regcred.shells.kube import KubeApiError, NamespaceGone, NamespaceTerminating

    selection = namespaces.select(api)
    existing = (named_per_namespace(api, "Secret", name, namespaces.list_scope(selection))
                if selection.active else {})

    def work(ns: str) -> list[TargetResult]:
        def plan(current: Obj | None) -> Done[TargetResult] | Write[TargetResult]:
            return _step(api, plan_secret(current, payload, overwrite=overwrite), ns, name, payload, dry_run)

        try:
            return [write_conditionally(existing.get(ns), plan, lambda: api.get_optional("Secret", name, ns),
                                        replan_when_deleted=True)]
        except KeptChanging as exc:
            return [TargetResult(ns, name, RowStatus.FAILED, f"secret {name} kept changing: gave up after "
                                                             f"{exc.attempts} attempts")]
        except (NamespaceGone, NamespaceTerminating):
            raise  # the whole namespace is going: reported once for it
        except KubeApiError as exc:  # 403/422 on this Secret: the row names it
            return [TargetResult(ns, name, RowStatus.FAILED, exc.line())]

    rows = run_per_namespace(selection.active, work, workers=workers, what="secrets")
    return rows + skipped_rows(selection.skipped)


def _step(api: KubeApi, plan: SecretPlan, ns: str, name: str, payload: bytes,
          dry_run: DryRun) -> Done[TargetResult] | Write[TargetResult]:
    """Do (or, in a dry run, describe) one plan in one namespace."""
    if plan.action == "refuse":
        return Done(TargetResult(ns, name, RowStatus.FAILED, plan.reason))
    if plan.action == "unchanged":
        return Done(TargetResult(ns, name, RowStatus.UNCHANGED, plan.reason))
    if dry_run.sends_nothing:
        return Done(TargetResult(ns, name, RowStatus.would(plan.action), plan.reason))
    server = dry_run.on_server

    def send() -> TargetResult:
        if plan.action == "create":
            manifest = secret_manifest(name, payload, namespace=ns, labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE},
                                       creation_timestamp_null=False)
            api.create(manifest, ns, dry_run=server)
        else:
            api.patch("Secret", name, ns, plan.patch, patch_type="merge", dry_run=server)
        return TargetResult(ns, name, RowStatus.would(plan.action) if server else _DONE[plan.action],
                            f"{plan.reason} (server dry run)" if server else plan.reason)

    return Write(send, creates=plan.action == "create")
