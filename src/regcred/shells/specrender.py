"""`regcred render`: the manifests a RegistryCredential stands for, for a GitOps repository.

Target namespaces come from Namespace manifests (their labels feed the selector), `--namespace`, the
namespaces of the given manifests and the literal names of `spec.namespaces.include`. Workload manifests
are injected with the same pod-spec rules as `regcred inject`; ServiceAccount manifests get merged lists.
"""

from __future__ import annotations

import copy
import glob as globmod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from regcred.core.planner import DesiredCredential, new_secret
from regcred.core.podspec import EditRequest, RegistryScope, apply_plan, find_pod_specs, plan_spec
from regcred.core.pullsecret import KEY_DOCKERCONFIGJSON
from regcred.core.serviceaccounts import ADDED_ANNOTATION, plan_attach

NODE_NAMESPACE = "kube-system"
RESOLVED_NOTE = ("# Rendered by regcred: Secret data was resolved from passwordFrom at render time.\n"
                 "# This output holds registry credentials: keep it out of repositories that must not.\n")
PLACEHOLDER_NOTE = ("# Rendered by regcred --no-secrets: Secrets carry ${VAR} placeholders, not credentials.\n"
                    "# Fill them before applying, e.g. envsubst < file | kubectl apply -f -\n")


@dataclass
class Rendered:
    objects: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (relative path, object)
    notes: list[str] = field(default_factory=list)


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _namespaces(desired: Sequence[DesiredCredential], manifests: Sequence[tuple[str, dict[str, Any]]],
                extra: Sequence[str]) -> dict[str, dict[str, str] | None]:
    """Known namespaces -> their labels (None when only the name is known)."""
    known: dict[str, dict[str, str] | None] = {}
    for _, obj in manifests:
        if obj.get("kind") == "Namespace":
            known[str(_meta(obj).get("name"))] = dict(_meta(obj).get("labels") or {})
        elif _meta(obj).get("namespace"):
            known.setdefault(str(_meta(obj)["namespace"]), None)
    for name in extra:
        known.setdefault(name, None)
    for d in desired:
        for pattern in d.spec.namespaces.include:
            if not globmod.has_magic(pattern):
                known.setdefault(pattern, None)
    return known


def placeholder_secret(desired: DesiredCredential, namespace: str) -> dict[str, Any]:
    """The Secret with its payload as stringData text holding ${VAR} placeholders (no auth field)."""
    obj = new_secret(desired, namespace, desired.spec.name)
    obj.pop("data", None)
    obj["stringData"] = {KEY_DOCKERCONFIGJSON: desired.payload.decode("utf-8")}
    return obj


def render(desired: Sequence[DesiredCredential], inputs: Any, *, extra_namespaces: Sequence[str] = (),
           placeholders: bool = False) -> Rendered:
    out = Rendered()
    manifests: list[tuple[str, dict[str, Any]]] = list(inputs.manifests)
    namespaces = _namespaces(desired, manifests, extra_namespaces)
    targets: dict[str, list[DesiredCredential]] = {}
    for ns, labels in sorted(namespaces.items()):
        targets[ns] = []
        for d in desired:
            if labels is None and d.spec.namespaces.selector is not None:
                out.notes.append(f"namespace {ns}: no Namespace manifest gives its labels, so the selector of "
                                 f"{d.spec.name} cannot be checked: skipped for it")
            elif d.spec.namespaces.matches(ns, labels or {}):
                targets[ns].append(d)
    written: set[tuple[str, str]] = set()
    for ns in sorted(targets):
        for d in targets[ns]:
            if (ns, d.spec.secret_name) in written:
                continue
            written.add((ns, d.spec.secret_name))
            secret = placeholder_secret(d, ns) if placeholders else new_secret(d, ns, d.spec.name)
            out.objects.append((f"{ns}/secret-{d.spec.secret_name}.yaml", secret))
    _service_accounts(out, targets, manifests)
    _workloads(out, targets, manifests)
    _nodes(out, desired, placeholders, written)
    return out


def _service_accounts(out: Rendered, targets: dict[str, list[DesiredCredential]],
                      manifests: Sequence[tuple[str, dict[str, Any]]]) -> None:
    given = {(str(_meta(o).get("namespace") or "default"), str(_meta(o).get("name"))): o
             for _, o in manifests if o.get("kind") == "ServiceAccount"}
    for ns in sorted(targets):
        names: set[str] = {n for (gns, n) in given if gns == ns}
        for d in targets[ns]:
            names |= {p for p in d.spec.service_accounts if not globmod.has_magic(p)}
        for name in sorted(names):
            wanted = [d.spec.secret_name for d in targets[ns] if d.spec.wants_service_account(name)]
            if not wanted:
                continue
            sa = copy.deepcopy(given.get((ns, name)) or {
                "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}})
            for secret in dict.fromkeys(wanted):
                change = plan_attach(sa, secret)
                if change.changed:
                    sa["imagePullSecrets"] = change.image_pull_secrets
                    annotations = sa.setdefault("metadata", {}).setdefault("annotations", {})
                    annotations[ADDED_ANNOTATION] = ",".join(change.recorded)
            out.objects.append((f"{ns}/serviceaccount-{name}.yaml", sa))


def _workloads(out: Rendered, targets: dict[str, list[DesiredCredential]],
               manifests: Sequence[tuple[str, dict[str, Any]]]) -> None:
    for source, obj in manifests:
        kind = str(obj.get("kind"))
        ns = str(_meta(obj).get("namespace") or "default")
        specs = [d for d in targets.get(ns, []) if d.spec.workloads.enabled and kind in d.spec.workloads.kinds]
        if not specs or not any(True for _ in find_pod_specs(obj)):
            continue
        edited = copy.deepcopy(obj)
        changed = False
        for d in specs:
            scope = RegistryScope(d.registry_keys()) if d.spec.workloads.match_registries else RegistryScope()
            request = EditRequest(d.spec.secret_name, scope)
            for _, pod_spec in find_pod_specs(edited):
                decision = plan_spec(pod_spec, request)
                if decision.changes:
                    apply_plan(pod_spec, decision, d.spec.secret_name)
                    changed = True
        if changed:
            out.objects.append((f"{ns}/{kind.lower()}-{_meta(obj).get('name')}.yaml", edited))
        else:
            out.notes.append(f"{source}: {kind}/{_meta(obj).get('name')}: unchanged (no image from the spec's "
                             "registries, or already has the secret)")


def _nodes(out: Rendered, desired: Sequence[DesiredCredential], placeholders: bool,
           written: set[tuple[str, str]]) -> None:
    from regcred.cli.node_daemonset import DEFAULT_IMAGE, daemonset_manifest

    for d in desired:
        if not d.spec.nodes.enabled:
            continue
        if (NODE_NAMESPACE, d.spec.secret_name) not in written:
            written.add((NODE_NAMESPACE, d.spec.secret_name))
            secret = placeholder_secret(d, NODE_NAMESPACE) if placeholders else new_secret(d, NODE_NAMESPACE,
                                                                                            d.spec.name)
            out.objects.append((f"{NODE_NAMESPACE}/secret-{d.spec.secret_name}.yaml", secret))
        ds = daemonset_manifest(secret=d.spec.secret_name, namespace=NODE_NAMESPACE, image=DEFAULT_IMAGE,
                                name=f"regcred-node-{d.spec.name}"[:63], root_dir=d.spec.nodes.root_dir)
        out.objects.append((f"{NODE_NAMESPACE}/daemonset-regcred-node-{d.spec.name}.yaml", ds))


def write_rendered(rendered: Rendered, out_dir: str | None, *, placeholders: bool) -> None:
    """One YAML stream on stdout, or one file per object under out_dir (Secrets with mode 0600)."""
    from regcred.cli.output import dump_yaml
    from regcred.shells.files import atomic_write

    note = PLACEHOLDER_NOTE if placeholders else RESOLVED_NOTE
    for line in rendered.notes:
        click.echo(f"note: {line}", err=True)
    if out_dir is None:
        click.echo(note + "".join(f"---\n{dump_yaml(obj)}" for _, obj in rendered.objects), nl=False)
    else:
        root = Path(out_dir)
        for relative, obj in rendered.objects:
            mode = 0o600 if obj.get("kind") == "Secret" else 0o644
            text = (note if obj.get("kind") == "Secret" else "") + dump_yaml(obj)
            atomic_write(root / relative, text.encode(), mode=mode)
        click.echo(f"wrote {len(rendered.objects)} file(s) under {root}", err=True)
    secrets = sum(1 for _, o in rendered.objects if o.get("kind") == "Secret")
    if secrets:
        click.echo("note: " + ("Secrets hold ${VAR} placeholders (--no-secrets)" if placeholders else
                               f"{secrets} Secret(s) hold credentials resolved at render time"), err=True)
