"""`regcred why TARGET`: read what decides one object's pulls, simulate the kubelet, and explain each image.

Reads the target, its namespace's Secrets and ServiceAccounts, the owners and Pods that matter, and the Pods'
Events (from the cluster), or only manifests (-f); the node's credential file with --host-root (the kubelet's
search, as `node doctor` walks it) or --node-config; with --verify, checks the credentials found and the anonymous
pulls against the registries (the verify flow). The explanation itself is pure: core.why.explain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regcred.core.audit.findings import AuditReport, ClusterState, object_name
from regcred.core.audit.simulation import audit as simulate
from regcred.core.credentials.keyring import Credential, Keyring
from regcred.core.errors import InputError
from regcred.core.objects import metadata
from regcred.core.why.events import pull_events
from regcred.core.why.explain import Outcome, Subject, WhyInput, explain
from regcred.core.why.targets import (
    OWNER_KINDS,
    created_by,
    likely_owner,
    parse_target,
    related,
    top_owner,
)
from regcred.usecases.audit import Note, anonymous_outcomes, check_uses
from regcred.usecases.kubeapi import KubeApi, Obj
from regcred.usecases.verification import CheckOptions


@dataclass(frozen=True, slots=True)
class WhyRequest:
    target: str | None  # KIND/NAME; None with manifests: every object with a pod spec in them
    files: tuple[str, ...] = ()
    namespace: str | None = None
    node_configs: tuple[Path, ...] = ()
    host_root: str | None = None
    verify: CheckOptions | None = None


@dataclass(slots=True)
class _Gathered:
    objects: list[Obj]
    subjects: list[Subject]
    namespace: str
    live: bool
    notes: list[str]
    elsewhere: dict[str, list[str]]
    only: str | None = ""  # the namespace filter of the simulation ("": the namespace above; None: all)


def why(request: WhyRequest, connect: Callable[[], AbstractContextManager[KubeApi]], note: Note) -> dict[str, Any]:
    """The explanation (the JSON of `why -o json`)."""
    target = parse_target(request.target) if request.target else None
    keyring, node_file, node_problems = _node(request, note)
    if request.files:
        gathered = _from_manifests(request, target)
    else:
        if target is None:
            raise InputError("nothing to explain", hint="give KIND/NAME (e.g. pod/web-0), or a manifest with -f")
        with connect() as api:
            gathered = _from_cluster(api, request.namespace or api.default_namespace, *target)
    state = ClusterState(gathered.objects, keyring, node_file, live=gathered.live)
    only = gathered.namespace if gathered.only == "" else gathered.only
    report = simulate(state, default_namespace=gathered.namespace, namespace=only)
    data = WhyInput(report, gathered.subjects, node_file=node_file, node_problems=node_problems,
                    notes=gathered.notes, elsewhere=gathered.elsewhere)
    if request.verify is not None:
        wanted = {s.object for s in gathered.subjects}
        rows = [(row, tried) for row, tried in zip(report.images, report.tried, strict=True) if row["object"] in wanted]
        data.checked = _check_credentials(report, rows, request.verify)
        data.anonymous = anonymous_outcomes([r["image"] for r, tried in rows if not tried and r.get("repository")],
                                            request.verify)
        data.verified = True
    return explain(data)


def _node(request: WhyRequest, note: Note) -> tuple[Keyring, str | None, list[str]]:
    """The node keyring: the file the kubelet uses under --host-root (and the search's problems), or --node-config."""
    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells.clusterdump import node_keyring

    if request.host_root is None:
        keyring, source = node_keyring(request.node_configs, note)
        return keyring, source, []
    # lazy: the node doctor's walk loads only with --host-root
    from regcred.usecases.nodedoctor import diagnose_node

    found, _settings = diagnose_node(request.host_root, None)
    problems = [str(p) for p in found["problems"]] + [str(n) for n in found["notes"] if "never reads" in str(n)]
    if not found["used"]:
        return Keyring(), None, problems
    keyring, source = node_keyring([Path(request.host_root) / str(found["used"]).lstrip("/")], note)
    return keyring, source, problems


def _from_manifests(request: WhyRequest, target: tuple[str, str] | None) -> _Gathered:
    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells.clusterdump import read_manifests

    ns = request.namespace or "default"  # for objects without one; without -n every namespace is read
    objects = read_manifests(request.files)
    accounts = {(str(metadata(o).get("namespace") or ns), str(metadata(o).get("name"))): o
                for o in objects if o.get("kind") == "ServiceAccount"}
    subjects = []
    for obj in objects:
        kind, name = str(obj.get("kind")), str(metadata(obj).get("name") or "")
        obj_ns = str(metadata(obj).get("namespace") or ns)
        if kind not in (*OWNER_KINDS, "Pod") or (target is not None and target != (kind, name)):
            continue
        if request.namespace is None or obj_ns == ns:
            in_ns = {n: a for (a_ns, n), a in accounts.items() if a_ns == obj_ns}
            subjects.append(Subject(object_name(kind, obj_ns, name), "manifest", related(obj, obj_ns, in_ns)))
    if not subjects:
        raise InputError("no matching Pod or workload in the manifests" + (f" for {target[0]}/{target[1]}" if target
                                                                           else ""), hint="check -f, -n and KIND/NAME")
    return _Gathered(objects, subjects, ns, False, [], {}, request.namespace)


def _from_cluster(api: KubeApi, ns: str, kind: str, name: str) -> _Gathered:
    # lazy: httpx + lightkube, cluster commands only
    from regcred.shells.kube import KubeForbidden, KubeNotFound

    secrets = api.list("Secret", ns)
    accounts_list = api.list("ServiceAccount", ns)
    accounts = {str(metadata(a).get("name")): a for a in accounts_list}
    objects: list[Obj] = [*secrets, *accounts_list]
    notes: list[str] = []
    cache: dict[tuple[str, str], Obj | None] = {}

    def lookup(k: str, n_s: str, n: str) -> Obj | None:
        if (k, n) not in cache:
            cache[(k, n)] = api.get_optional(k, n, n_s)
        return cache[(k, n)]

    def events_of(pod: str) -> tuple[Any, ...]:
        try:
            return tuple(pull_events(api.iter_list("Event", ns, field_selector=f"regarding.kind=Pod,regarding.name={pod}")))
        except (KubeForbidden, KubeNotFound) as exc:
            notes.append(f"Events not read ({exc.line()})")
            return ()

    def creator(pod: str) -> Obj | None:
        """The gone Pod's workload from the Event its controller recorded on creating it (Events live an hour),
        up the controller chain (ReplicaSet -> Deployment)."""
        try:
            made = created_by(pod, api.iter_list("Event", ns, field_selector="reason=SuccessfulCreate"))
        except (KubeForbidden, KubeNotFound):
            return None
        found = lookup(made[0], ns, made[1]) if made is not None else None
        top = top_owner(found, lookup) if found is not None else None
        return (lookup(top[0], ns, top[1]) if top is not None else None) or found

    subjects: list[Subject] = []
    if kind == "Pod":
        pod = api.get_optional("Pod", name, ns)
        if pod is not None:
            objects.append(pod)
            for k, n in filter(None, (top_owner(pod, lookup),)):
                owner = lookup(k, ns, n)
                objects.extend(o for o in (owner,) if o is not None)  # its template tells a stale Pod
            for k, n in _chain(pod):
                rs = lookup(k, ns, n)
                objects.extend(o for o in (rs,) if o is not None and o not in objects)
            subjects.append(Subject(object_name("Pod", ns, name), "pod", related(pod, ns, accounts), events_of(name)))
        else:
            guess: Mapping[str, Any] | None = creator(name)
            how = "the workload that created it (its SuccessfulCreate Event)"
            if guess is None:
                guess, how = likely_owner(name, [o for k in OWNER_KINDS for o in api.list(k, ns)]), \
                    "the workload whose name it carries"
            if guess is None:
                raise InputError(f"pod {name} not found in namespace {ns}, and no workload there carries its name",
                                 hint="check the name and -n, or give the workload (deployment/NAME ...)")
            ref = object_name(str(guess["kind"]), ns, str(metadata(guess)["name"]))
            objects.append(dict(guess))
            subjects.append(Subject(ref, "owner-template", related(guess, ns, accounts), events_of(name),
                                    note=f"Pod {name} no longer exists: explained from the template of {ref}, {how}"))
    else:
        obj = api.get(kind, name, ns)
        objects.append(obj)
        subjects.append(Subject(object_name(kind, ns, name), "template", related(obj, ns, accounts)))
        for pod in api.list("Pod", ns):
            if top_owner(pod, lookup) == (kind, name) or _chain(pod) == [(kind, name)]:
                objects.append(pod)
                objects.extend(o for k, n in _chain(pod) if (o := lookup(k, ns, n)) is not None and o not in objects)
                pod_name = str(metadata(pod).get("name"))
                subjects.append(Subject(object_name("Pod", ns, pod_name), "pod", related(pod, ns, accounts),
                                        events_of(pod_name)))
    present = {str(metadata(s).get("name")) for s in secrets}
    missing = {r.rsplit("/", 1)[-1] for s in subjects for r in s.related if r.startswith("Secret/")} - present
    return _Gathered(objects, subjects, ns, True, notes, _elsewhere(api, missing, ns))


def _chain(pod: Obj) -> list[tuple[str, str]]:
    refs = metadata(pod).get("ownerReferences") or []
    return [(str(r.get("kind")), str(r.get("name"))) for r in refs if isinstance(r, dict) and r.get("controller")]


def _elsewhere(api: KubeApi, names: set[str], ns: str) -> dict[str, list[str]]:
    """Namespaces that hold a Secret of each missing name (a Secret in another namespace is the classic mistake)."""
    # lazy: httpx + lightkube, cluster commands only
    from regcred.shells.kube import KubeForbidden

    found: dict[str, list[str]] = {}
    for name in sorted(names):
        try:
            others = api.list("Secret", None, field_selector=f"metadata.name={name}")
        except KubeForbidden:
            return found  # reading Secrets cluster-wide is not allowed: nothing to add
        found[name] = sorted({str(metadata(o).get("namespace")) for o in others} - {ns})
    return found


def _check_credentials(report: AuditReport, rows: list[tuple[dict[str, Any], tuple[Credential, ...]]],
                       options: CheckOptions) -> dict[tuple[str, str, str], Outcome]:
    """Each credential tried for these rows, checked as audit --verify does (once per registry, for its images):
    accepted when every check lets it pull."""
    wanted = {(c.source, c.key, c.username) for _, tried in rows for c in tried}
    uses = [u for u in report.credential_uses
            if (u.credential.source, u.credential.key, u.credential.username) in wanted]
    outcomes: dict[tuple[str, str, str], Outcome] = {}
    for use, row in check_uses(uses, options):
        key = (use.credential.source, use.credential.key, use.credential.username)
        ok = bool(row["login"]) and all(row["pull"].values())
        before = outcomes.get(key, (True, None))
        reasons = "; ".join(r for r in (before[1], row["error"]) if r) or None
        outcomes[key] = (before[0] and ok, reasons)
    return outcomes
