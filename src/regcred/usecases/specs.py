"""RegistryCredential specs against a cluster: read it once per kind, plan every level, render for GitOps.

`plan_specs` resolves the credentials, reads the cluster with one LIST per kind and plans (the node level too
with a host root); `apply_specs` then makes exactly those changes (`specapply`). `render_specs` writes the same
objects as manifests instead. Problems with the documents raise SpecInvalid (every problem at once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager

from regcred.core.spec.model import RegistryCredential
from regcred.core.spec.planner import CREDENTIAL_LABEL, ClusterState, DesiredCredential, Plan, plan
from regcred.core.spec.schema import WORKLOAD_KINDS
from regcred.core.spec.templated import SecretStoreRef
from regcred.shells.credprovider import PluginCache
from regcred.shells.spec.source import Inputs
from regcred.usecases.dryrun import DryRun
from regcred.usecases.fanout import DEFAULT_WORKERS
from regcred.usecases.kubeapi import KubeApi, Obj
from regcred.usecases.rows import TargetResult
from regcred.usecases.verification import CheckOptions


def resolve_specs(specs: Sequence[RegistryCredential], api: KubeApi | None, *,
                  placeholders: bool = False, plugins: PluginCache | None = None) -> list[DesiredCredential]:
    """Read every spec's credentials (Secrets through `api`; None: no cluster, such references fail).

    Credential-provider plugins run once per source (`plugins`: a cache that outlives the call, the controller's).
    """
    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells.spec.source import resolve_all

    reader = None if api is None else (lambda ns, name: api.get_optional("Secret", name, ns))
    return resolve_all(specs, reader, placeholders=placeholders, plugins=plugins)


def plan_specs(api: KubeApi, specs: Sequence[RegistryCredential], host_root: str | None
               ) -> tuple[Plan, list[DesiredCredential]]:
    """Resolve, read the cluster once per kind, and plan (nodes too with `host_root`)."""
    desired = resolve_specs(specs, api)
    result = plan(desired, read_cluster_state(api, specs))
    if host_root is not None:
        # lazy: only this path needs it; the other commands of the module skip it
        from regcred.usecases.specnodes import plan_nodes

        result = Plan(result.changes + tuple(plan_nodes(desired, host_root)), result.skipped)
    return result, desired


def apply_specs(api: KubeApi, specs: Sequence[RegistryCredential], host_root: str | None, *,
                dry_run: DryRun = DryRun.NONE, workers: int = DEFAULT_WORKERS,
                checks: CheckOptions | None = None) -> tuple[Plan, list[TargetResult]]:
    """Plan, then make exactly the planned changes (conditional writes, re-planned on conflict); plan and rows.

    A verifyBeforeRollout spec's Secret updates wait for the registry's answer (`checks`: how to reach it).
    """
    # lazy: only this path needs it; the other commands of the module skip it
    from regcred.usecases.rollout import RolloutGate
    from regcred.usecases.specapply import apply_plan  # lazy: only this path needs it

    result, desired = plan_specs(api, specs, host_root)
    gate = RolloutGate(checks) if any(s.verify_before_rollout for s in specs) else None
    rows = apply_plan(api, result, dry_run=dry_run, workers=workers, desired=desired, host_root=host_root,
                      gate=gate)
    return result, rows


def read_cluster_state(api: KubeApi, specs: Sequence[RegistryCredential],
                       namespace: str | None = None) -> ClusterState:
    """One LIST per kind for the whole cluster (paged), never a GET per object; or for one `namespace`.

    One namespace is the controller's unit of work (its reads come from caches). Secrets: those named like a spec's secretName (field selector), plus those labelled with a spec's name
    (Secrets a spec wrote under an earlier secretName, to clean up). Workloads: every kind a spec names.
    """
    secrets: dict[tuple[str, str], Obj] = {}
    for secret_name in sorted({s.secret_name for s in specs}):
        for obj in api.iter_list("Secret", namespace, field_selector=f"metadata.name={secret_name}"):
            secrets[_key(obj)] = obj
    names = ",".join(sorted({s.name for s in specs}))
    for obj in api.iter_list("Secret", namespace, label_selector=f"{CREDENTIAL_LABEL} in ({names})"):
        secrets[_key(obj)] = obj
    kinds = [k for k in WORKLOAD_KINDS if any(k in s.workloads.kinds for s in specs)]
    workloads = [obj for kind in kinds for obj in api.iter_list(kind, namespace) if not _controlled(obj)]
    if namespace is None:
        namespaces = api.list("Namespace")
    else:
        one = api.get_optional("Namespace", namespace)
        namespaces = [] if one is None else [one]
    return ClusterState(
        namespaces=namespaces,
        secrets=list(secrets.values()),
        service_accounts=api.list("ServiceAccount", namespace),
        workloads=workloads,
    )


def _key(obj: Mapping[str, object]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    assert isinstance(meta, Mapping)
    return str(meta.get("namespace")), str(meta.get("name"))


def _controlled(obj: Mapping[str, object]) -> bool:
    """A ReplicaSet of a Deployment, a Job of a CronJob: its owner's template is the one to change."""
    meta = obj.get("metadata") or {}
    owners = (meta.get("ownerReferences") if isinstance(meta, Mapping) else None) or []
    return isinstance(owners, list) and any(isinstance(o, Mapping) and o.get("controller") for o in owners)


def needs_cluster(specs: Sequence[RegistryCredential]) -> bool:
    """Whether resolving the specs reads Secrets from the cluster (secretKeyRef, fromSecret)."""
    return any(r.from_secret is not None or (r.password_from is not None and r.password_from.secret_key_ref is not None)
               for s in specs for r in s.registries)


def render_specs(inputs: Inputs, connect: Callable[[], AbstractContextManager[KubeApi]] | None, *,
                 out_dir: str | None, extra_namespaces: Sequence[str] = (), placeholders: bool = False,
                 store: SecretStoreRef | None = None) -> None:
    """Resolve the specs (through `connect()` only when they read cluster Secrets), render and write the manifests.

    With `placeholders` no credential is read: Secrets carry ${VAR} and the cluster is never contacted. With a
    `store`, ExternalSecrets that the store fills replace the Secrets (no credential is read either).
    """
    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells.spec.render import render, write_rendered

    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells.spec.source import require_specs

    specs = require_specs(inputs)
    if connect is not None and needs_cluster(specs) and not placeholders:
        with connect() as api:
            desired = resolve_specs(specs, api)
    else:
        desired = resolve_specs(specs, None, placeholders=placeholders)
    rendered = render(desired, inputs, extra_namespaces=extra_namespaces, placeholders=placeholders, store=store)
    write_rendered(rendered, out_dir, placeholders=placeholders, external=store is not None)
