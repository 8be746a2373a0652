"""`regcred secret create` against a cluster: plan per namespace, write only what changes.

Reads are shared: with -A / --namespace-selector, ONE cluster-wide list of Secrets named NAME (fieldSelector)
serves every namespace; then at most one write per namespace that needs a change.
"""

from __future__ import annotations

from typing import Any

from regcred.cli.clusteropts import ClusterOptions, report
from regcred.core.cluster.secretsync import SecretPlan, plan_secret
from regcred.core.credentials.pullsecret import MANAGED_BY_LABEL, MANAGED_BY_VALUE, secret_manifest
from regcred.shells.targets import WRITE_ATTEMPTS, TargetResult, run_per_namespace, skipped_rows


def apply_pull_secret(name: str, payload: bytes, *, overwrite: bool, cluster: ClusterOptions) -> None:
    """Create or update Secret `name` in every selected namespace; print the summary; exit 1 on failures."""
    from regcred.shells.kube import (
        KubeApiError,
        KubeConflict,
        KubeNotFound,
        NamespaceGone,
        NamespaceTerminating,
    )
    from regcred.shells.kube.namespaces import named_per_namespace

    with cluster.connect() as api:
        selection = cluster.select_namespaces(api)
        existing = (named_per_namespace(api, "Secret", name, cluster.list_scope(selection))
                    if selection.active else {})

        def work(ns: str) -> list[TargetResult]:
            current = existing.get(ns)
            for _ in range(WRITE_ATTEMPTS):
                plan = plan_secret(current, payload, overwrite=overwrite)
                try:
                    return [_carry_out(api, plan, ns, name, payload, cluster)]
                except KubeConflict:  # someone wrote in between (or created it): read again and re-plan
                    current = api.get_optional("Secret", name, ns)
                except KubeNotFound as exc:
                    if exc.resource == "secrets" and plan.action == "update":  # deleted in between
                        current = None
                        continue
                    raise
                except (NamespaceGone, NamespaceTerminating):
                    raise  # the whole namespace is going: reported once for it
                except KubeApiError as exc:  # 403/422 on this Secret: the row names it
                    return [TargetResult(ns, name, "failed", exc.line())]
            return [TargetResult(ns, name, "failed", f"secret {name} kept changing: gave up after "
                                                     f"{WRITE_ATTEMPTS} attempts")]

        rows = run_per_namespace(selection.active, work, workers=cluster.workers, what="secrets")
    rows += skipped_rows(selection.skipped)
    report(rows, cluster, document={"kind": "SecretApplyResult", "secret": name})


def _carry_out(api: Any, plan: SecretPlan, ns: str, name: str, payload: bytes,
               cluster: ClusterOptions) -> TargetResult:
    """Do (or, in a dry run, describe) one plan in one namespace."""
    if plan.action == "refuse":
        return TargetResult(ns, name, "failed", plan.reason)
    if plan.action == "unchanged":
        return TargetResult(ns, name, "unchanged", plan.reason)
    status = "created" if plan.action == "create" else "updated"
    if cluster.dry_run == "client":
        return TargetResult(ns, name, f"would-{plan.action}", plan.reason)
    server = cluster.server_dry_run
    if plan.action == "create":
        manifest = secret_manifest(name, payload, namespace=ns, labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE},
                                   creation_timestamp_null=False)
        api.create(manifest, ns, dry_run=server)
    else:
        api.patch("Secret", name, ns, plan.patch, patch_type="merge", dry_run=server)
    return TargetResult(ns, name, f"would-{plan.action}" if server else status,
                        f"{plan.reason} (server dry run)" if server else plan.reason)
