"""`regcred render`: the manifests a RegistryCredential stands for, for a GitOps repository.

Target namespaces come from Namespace manifests (their labels feed the selector), `--namespace`, the
namespaces of the given manifests and the literal names of `spec.namespaces.include`. Given workload
manifests are edited in their own text by `regcred inject`'s editor (`core.manifests.streamedit`), so comments, key
order and quoting survive and an untouched document is written byte for byte; given ServiceAccount
manifests get merged lists through a comment-keeping round trip.
"""

from __future__ import annotations

import copy
import glob as globmod
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from regcred.core.cluster.podspec import EditRequest, RegistryScope, find_pod_specs
from regcred.core.cluster.serviceaccounts import ADDED_ANNOTATION, plan_attach
from regcred.core.credentials.pullsecret import KEY_DOCKERCONFIGJSON
from regcred.core.errors import InputError
from regcred.core.names import validate_label, validate_subdomain
from regcred.core.spec.planner import DesiredCredential, new_secret
from regcred.core.spec.templated import (
    SecretStoreRef,
    envsubst_command,
    export_command,
    external_secret,
    placeholder_payload,
    templated_registries,
)

NODE_NAMESPACE = "kube-system"
RESOLVED_NOTE = ("# Rendered by regcred: Secret data was resolved from passwordFrom at render time.\n"
                 "# This output holds registry credentials: keep it out of repositories that must not.\n")
PLACEHOLDER_NOTE = ("# Rendered by regcred --no-secrets: each registry's auth is a placeholder, not a credential.\n"
                    "# Fill it with the export and envsubst commands regcred printed (envsubst WITH its variable\n"
                    "# list: a bare envsubst also empties every other $word); see docs/render.md.\n")
EXTERNAL_NOTE = "# Rendered by regcred --secret-format external-secret: no credential here; ESO builds the Secret.\n"


# Where each runtime keeps the config `node install --runtime R` edits: mounted into the node DaemonSet.
RUNTIME_DIRS = {"containerd": "/etc/containerd", "crio": "/etc/crio", "k3s": "/etc/rancher/k3s",
                "rke2": "/etc/rancher/rke2"}


@dataclass(frozen=True, slots=True)
class RenderedObject:
    path: str  # relative: <namespace>/<kind>-<name>.yaml, built by object_path from validated names
    obj: dict[str, Any]
    text: str | None = None  # a given manifest's own (edited) text; None: dump `obj`


@dataclass
class Rendered:
    objects: list[RenderedObject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_KIND = re.compile(r"\A[A-Za-z][A-Za-z0-9]{0,62}\Z")


def object_path(namespace: str, kind: str, name: str, source: str = "") -> str:
    """`<namespace>/<kind>-<name>.yaml` from names checked by the API server's own rules, so never `..` or `/`.

    Why: the names come from manifests; a Deployment named `../../x` must not pick where a file goes.
    """
    where = f"{source}: " if source else ""
    try:
        validate_label(namespace, "namespace")
        validate_subdomain(name, kind)
    except InputError as exc:
        raise InputError(f"{where}{exc.message}", hint="nothing was written") from None
    if not _KIND.match(kind):
        raise InputError(f"{where}invalid kind {kind!r}: not a Kubernetes kind name", hint="nothing was written")
    return f"{namespace}/{kind.lower()}-{name}.yaml"


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
    """The Secret with its payload as stringData text whose `auth` fields are ${VAR} placeholders."""
    obj = new_secret(desired, namespace, desired.spec.name)
    obj.pop("data", None)
    obj["stringData"] = {KEY_DOCKERCONFIGJSON: placeholder_payload(templated_registries(desired.spec))}
    return obj


@dataclass(frozen=True, slots=True)
class SecretForm:
    """How a pull Secret is rendered: with credentials, with placeholders, or as an ExternalSecret."""

    placeholders: bool = False
    store: SecretStoreRef | None = None  # set: an ExternalSecret reading this store


def _pull_secret(desired: DesiredCredential, namespace: str, form: SecretForm) -> RenderedObject:
    if form.store is not None:
        secret = new_secret(desired, namespace, desired.spec.name)
        obj = external_secret(desired.spec, namespace, form.store, metadata=secret["metadata"])
        return RenderedObject(object_path(namespace, "ExternalSecret", desired.spec.secret_name), obj)
    obj = placeholder_secret(desired, namespace) if form.placeholders else new_secret(desired, namespace,
                                                                                       desired.spec.name)
    return RenderedObject(object_path(namespace, "Secret", desired.spec.secret_name, desired.spec.source), obj)


def _fill_notes(desired: Sequence[DesiredCredential]) -> list[str]:
    """The commands that fill the placeholders: one export per registry, then envsubst with exactly those names."""
    registries = [reg for d in desired for reg in templated_registries(d.spec)]
    if not registries:
        return []
    return (["fill the placeholders, then apply (each variable is base64 of USER:PASSWORD):"]
            + [f"  {export_command(reg)}" for reg in registries] + [f"  {envsubst_command(registries)}"])


def render(desired: Sequence[DesiredCredential], inputs: Any, *, extra_namespaces: Sequence[str] = (),
           placeholders: bool = False, store: SecretStoreRef | None = None) -> Rendered:
    out = Rendered()
    form = SecretForm(placeholders and store is None, store)
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
    for d in desired:
        if not any(d in specs for specs in targets.values()):
            out.notes.append(f"{d.spec.name}: no target namespace is known, so no namespace Secret is written "
                             "(give --namespace NS, Namespace manifests, or literal names in namespaces.include)")
        if placeholders or store is not None:
            out.notes += [f"{d.spec.name}: {r.path}: fromSecret {r.from_secret.namespace}/{r.from_secret.name} "
                          "is left out of the Secrets (--no-secrets cannot render it)"
                          for r in d.spec.registries if r.from_secret is not None]
    written: set[tuple[str, str]] = set()
    for ns in sorted(targets):
        for d in targets[ns]:
            if (ns, d.spec.secret_name) in written:
                continue
            written.add((ns, d.spec.secret_name))
            out.objects.append(_pull_secret(d, ns, form))
    _service_accounts(out, targets, manifests, inputs.text_of)
    _workloads(out, targets, manifests, inputs.text_of)
    _nodes(out, desired, form, written)
    if form.placeholders:
        out.notes += _fill_notes(desired)
    return out


def _service_accounts(out: Rendered, targets: dict[str, list[DesiredCredential]],
                      manifests: Sequence[tuple[str, dict[str, Any]]], text_of: Any) -> None:
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
            original = given.get((ns, name))
            sa = copy.deepcopy(original or {
                "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}})
            changed = False
            for secret in dict.fromkeys(wanted):
                change = plan_attach(sa, secret)
                if change.changed:
                    changed = True
                    sa["imagePullSecrets"] = change.image_pull_secrets
                    annotations = sa.setdefault("metadata", {}).setdefault("annotations", {})
                    annotations[ADDED_ANNOTATION] = ",".join(change.recorded)
            text = text_of(original) if original is not None else None
            if text is not None and changed:
                text = _edited_service_account_text(text, sa)
            out.objects.append(RenderedObject(object_path(ns, "ServiceAccount", name), sa, text))


def _edited_service_account_text(text: str, sa: dict[str, Any]) -> str | None:
    """The given ServiceAccount's text with the merged list and annotation, comments, order and layout kept."""
    from regcred.core.manifests.editcheck import parse_stream
    from regcred.core.manifests.edits import looks_like_json
    from regcred.core.manifests.roundtrip import RoundTripFailed, roundtrip_yaml

    if looks_like_json(text):
        return None  # JSON: written as YAML from the object

    def edit(doc: Any) -> None:
        from ruamel.yaml.comments import CommentedMap

        entries = doc.get("imagePullSecrets")
        have = [e.get("name") for e in entries] if isinstance(entries, list) else []
        if not isinstance(entries, list):
            entries = doc["imagePullSecrets"] = []
        entries.extend({"name": e["name"]} for e in sa["imagePullSecrets"] if e.get("name") not in have)
        meta = doc.setdefault("metadata", CommentedMap())
        if not isinstance(meta.get("annotations"), dict):
            meta["annotations"] = CommentedMap()
        meta["annotations"][ADDED_ANNOTATION] = sa["metadata"]["annotations"][ADDED_ANNOTATION]

    try:
        edited = roundtrip_yaml(text, edit)
    except RoundTripFailed:
        return None  # a layout only libyaml reads: written as YAML from the object
    try:  # the text must read back as exactly the merged object, or the object is written instead
        return edited if parse_stream(edited) == [sa] else None
    except ValueError:
        return None


def _workloads(out: Rendered, targets: dict[str, list[DesiredCredential]],
               manifests: Sequence[tuple[str, dict[str, Any]]], text_of: Any) -> None:
    """Every given workload manifest: injected where a spec targets it, byte for byte otherwise."""
    from regcred.core.manifests.streamedit import edit_stream

    for source, obj in manifests:
        if not any(True for _ in find_pod_specs(obj)):
            continue
        kind, name = str(obj.get("kind")), str(_meta(obj).get("name"))
        ns = str(_meta(obj).get("namespace") or "default")
        path = object_path(ns, kind, name, source)
        specs = [d for d in targets.get(ns, []) if d.spec.workloads.enabled and kind in d.spec.workloads.kinds]
        text = text_of(obj)
        if text is None:  # could not be split from its stream: edited as data (the old way), said so
            from regcred.shells.manifests import dump_yaml

            text = dump_yaml(obj)
            out.notes.append(f"{source}: the document could not be cut from its file: written re-formatted")
        edited = text
        for d in specs:
            scope = RegistryScope(d.registry_keys()) if d.spec.workloads.match_registries else RegistryScope()
            edited = edit_stream(edited, source, EditRequest(d.spec.secret_name, scope)).text
        out.objects.append(RenderedObject(path, obj, edited))
        if edited == text:
            why = "no spec targets its namespace or kind" if not specs else (
                "no image from the spec's registries, or it already has the secret")
            out.notes.append(f"{source}: {kind}/{name}: written unchanged ({why})")


def _nodes(out: Rendered, desired: Sequence[DesiredCredential], form: SecretForm,
           written: set[tuple[str, str]]) -> None:
    from regcred.core.node.daemonset import DEFAULT_IMAGE, daemonset_manifest

    for d in desired:
        if not d.spec.nodes.enabled:
            continue
        if (NODE_NAMESPACE, d.spec.secret_name) not in written:
            written.add((NODE_NAMESPACE, d.spec.secret_name))
            out.objects.append(_pull_secret(d, NODE_NAMESPACE, form))
        ds = daemonset_manifest(secret=d.spec.secret_name, namespace=NODE_NAMESPACE, image=DEFAULT_IMAGE,
                                name=f"regcred-node-{d.spec.name}"[:63], root_dir=d.spec.nodes.root_dir)
        runtimes = tuple(dict.fromkeys(d.spec.nodes.runtimes))
        if runtimes:
            _with_runtimes(ds, d.spec.nodes.root_dir, runtimes)
            out.notes.append(f"{d.spec.name}: the node DaemonSet also writes the config of {', '.join(runtimes)}; "
                             "a runtime reads it at start: restart it on each node after the first sync")
        out.objects.append(RenderedObject(object_path(NODE_NAMESPACE, "DaemonSet", f"regcred-node-{d.spec.name}"), ds))


def _with_runtimes(ds: dict[str, Any], root_dir: str, runtimes: Sequence[str]) -> None:
    """One `node install --runtime R` per listed runtime each round, with the runtime's config dir mounted."""
    from regcred.core.node.daemonset import HOST_ROOT, sync_script

    pod = ds["spec"]["template"]["spec"]
    container = pod["containers"][0]
    lines = sync_script(root_dir).splitlines()
    (index,) = [i for i, line in enumerate(lines) if "--runtime none" in line]
    install = lines[index].strip().replace("--runtime none", '--runtime "$rt"')
    lines[index:index + 1] = [f"  for rt in {' '.join(runtimes)}; do", f"    {install}", "  done"]
    container["command"][-1] = "\n".join(lines) + "\n"
    for runtime in runtimes:
        path = RUNTIME_DIRS[runtime]
        pod["volumes"].append({"name": f"runtime-{runtime}", "hostPath": {"path": path, "type": "Directory"}})
        container["volumeMounts"].append({"name": f"runtime-{runtime}", "mountPath": f"{HOST_ROOT}{path}"})


def _is_secret(item: RenderedObject) -> bool:
    return item.obj.get("kind") in ("Secret", "ExternalSecret")


def write_rendered(rendered: Rendered, out_dir: str | None, *, placeholders: bool, external: bool = False) -> None:
    """One YAML stream on stdout, or one file per object under out_dir (Secrets with mode 0600)."""
    from regcred.shells.files import created_directory, write_confined
    from regcred.shells.manifests import dump_yaml

    note = EXTERNAL_NOTE if external else PLACEHOLDER_NOTE if placeholders else RESOLVED_NOTE
    for line in rendered.notes:
        click.echo(f"note: {line}", err=True)

    def text(item: RenderedObject) -> str:
        body = item.text if item.text is not None else dump_yaml(item.obj)
        return body if body.endswith("\n") else body + "\n"

    if out_dir is None:
        click.echo(note + "".join(f"---\n{text(item)}" for item in rendered.objects), nl=False)
    else:
        root = Path(out_dir)
        files = [(item.path, ((note if _is_secret(item) else "") + text(item)).encode(),
                  0o600 if _is_secret(item) and not external else 0o644) for item in rendered.objects]
        for path, data, mode in files:  # every place checked before the first file is written
            write_confined(root, path, data, mode=mode, check_only=True)
        with created_directory(root):
            for path, data, mode in files:
                write_confined(root, path, data, mode=mode)
        click.echo(f"wrote {len(rendered.objects)} file(s) under {root}", err=True)
    secrets = sum(1 for item in rendered.objects if item.obj.get("kind") == "Secret")
    if secrets:
        click.echo("note: " + ("Secrets hold ${VAR} placeholders (--no-secrets)" if placeholders else
                               f"{secrets} Secret(s) hold credentials resolved at render time"), err=True)
