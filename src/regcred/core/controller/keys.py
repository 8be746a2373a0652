"""Which (spec, namespace) work items an object event touches: the controller's event handlers, pure.

Why: handlers only enqueue keys and a reconcile re-plans one namespace for one spec from the caches, so an
event must name every key whose plan it can change, and as few others as possible (a spurious key costs a
cache-only plan, a missing one leaves drift until the resync).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from regcred.core.cluster.serviceaccounts import ADDED_ANNOTATION
from regcred.core.errors import RegcredError
from regcred.core.objects import metadata, name_of, namespace_of
from regcred.core.spec.model import RegistryCredential, parse_document
from regcred.core.spec.planner import CREDENTIAL_LABEL
from regcred.core.spec.schema import WORKLOAD_KINDS

Key = tuple[str, str]  # (RegistryCredential name, namespace)
Obj = Mapping[str, Any]
SpecCache = dict[tuple[Any, Any, Any], RegistryCredential]  # (name, uid, generation) -> the parsed spec


def parse_specs(objs: Iterable[Obj], cache: SpecCache) -> tuple[list[RegistryCredential], SpecCache]:
    """The valid specs among cached RegistryCredential objects, and the cache for next time: each is parsed once
    per generation (its spec part changes the generation), not once per event (a cold start brings thousands)."""
    found, kept = [], {}
    for obj in objs:
        meta = metadata(obj)
        key = (meta.get("name"), meta.get("uid"), meta.get("generation"))
        spec = cache.get(key)
        if spec is None:
            try:
                spec = parse_document(obj, f"RegistryCredential {meta.get('name')}")
            except RegcredError:
                continue
        kept[key] = spec
        found.append(spec)
    return found, kept


def own_namespace(namespaces: Any, obj: Obj | None) -> list[Obj]:
    """The cached Namespace of a namespaced object (`namespaces.get(name)`), as the list keys_for_event takes:
    one lookup, not a scan of thousands per event."""
    where = metadata(obj or {}).get("namespace")
    own = namespaces.get(str(where)) if where else None
    return [own] if own is not None else []


def _labels(obj: Obj) -> Mapping[str, str]:
    return metadata(obj).get("labels") or {}


def _recorded(obj: Obj) -> set[str]:
    """Entries regcred recorded as its own on a ServiceAccount or workload."""
    raw = (metadata(obj).get("annotations") or {}).get(ADDED_ANNOTATION) or ""
    return {s.strip() for s in str(raw).split(",") if s.strip()}


def _same_intent(old: Obj, new: Obj) -> bool:
    """A spec update that changes no plan: same generation (the API server bumps it on every spec change) and
    the same deletion state. controller-runtime's GenerationChangedPredicate, plus deletion."""
    before, after = metadata(old), metadata(new)
    generation = before.get("generation")
    return (generation is not None and generation == after.get("generation")
            and before.get("deletionTimestamp") == after.get("deletionTimestamp"))


def sources_of(spec: RegistryCredential) -> set[tuple[str, str]]:
    """(namespace, name) of every Secret the spec reads its credentials from."""
    found: set[tuple[str, str]] = set()
    for registry in spec.registries:
        if registry.from_secret is not None:
            found.add((registry.from_secret.namespace, registry.from_secret.name))
        ref = registry.password_from.secret_key_ref if registry.password_from is not None else None
        if ref is not None:
            found.add((ref.namespace, ref.name))
    return found


def targeted(spec: RegistryCredential, namespaces: Iterable[Obj]) -> list[str]:
    """The namespaces (of those given) the spec selects."""
    return [name_of(ns) for ns in namespaces if spec.namespaces.matches(name_of(ns), _labels(ns))]


def keys_for_event(kind: str, old: Obj | None, new: Obj | None, specs: Sequence[RegistryCredential],
                   namespaces: Sequence[Obj] = ()) -> set[Key]:
    """The keys an ADDED/MODIFIED/DELETED event (old and/or new object) of `kind` affects.

    `namespaces`: the cached Namespaces, for events that fan out (a spec or a source Secret changed) and to
    tell whether a ServiceAccount's namespace is targeted.
    """
    objs = [o for o in (old, new) if o is not None]
    if not objs:
        return set()
    name, ns = name_of(objs[-1]), namespace_of(objs[-1])
    keys: set[Key] = set()
    if kind == "Namespace":
        for obj in objs:
            keys |= {(s.name, name) for s in specs if s.namespaces.matches(name, _labels(obj))}
    elif kind == "RegistryCredential":
        if old is not None and new is not None and _same_intent(old, new):
            return keys  # only its status or metadata changed (the controller's own status writes): nothing to plan
        names = {name_of(o) for o in objs}
        keys |= {(n, name_of(o)) for n in names for o in namespaces}  # level-based: leftovers are cleaned too
    elif kind == "Secret":
        owners = {str(_labels(o).get(CREDENTIAL_LABEL)) for o in objs if _labels(o).get(CREDENTIAL_LABEL)}
        keys |= {(s.name, ns) for s in specs if s.name in owners or s.secret_name == name}
        for spec in specs:
            if (ns, name) in sources_of(spec):
                keys |= {(spec.name, target) for target in targeted(spec, namespaces)}
    elif kind == "ServiceAccount" or kind in WORKLOAD_KINDS:
        recorded = set().union(*(_recorded(o) for o in objs))
        ns_obj = next((o for o in namespaces if name_of(o) == ns), None)
        for spec in specs:
            if spec.secret_name in recorded:
                keys.add((spec.name, ns))
                continue
            wants = (spec.wants_service_account(name) if kind == "ServiceAccount"
                     else spec.workloads.enabled and kind in spec.workloads.kinds)
            if wants and (ns_obj is None or spec.namespaces.matches(ns, _labels(ns_obj))):
                keys.add((spec.name, ns))
    return keys
