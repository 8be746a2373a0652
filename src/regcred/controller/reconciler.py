"""Reconcile one (RegistryCredential, namespace) key from the caches, through `regcred apply`'s use cases.

Why one namespace per key: a work item stays small (one plan, at most a Secret write and a ServiceAccount
patch), keys de-duplicate in the work queue, and a failure retries only its namespace. The plan is the same
core planner over the same objects `regcred apply` would list, restricted to the namespace; the writes are
the same conditional writes (`usecases.specapply`), so after convergence `regcred plan` exits 0.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from regcred.controller.cachedapi import Cache, CachedApi
from regcred.controller.logs import register_config
from regcred.core.cluster.secretsync import is_managed
from regcred.core.controller.conditions import EXPIRY_WARNING
from regcred.core.controller.keys import Key
from regcred.core.errors import RegcredError
from regcred.core.objects import is_terminating, metadata
from regcred.core.spec.expiry import Expiry, earliest
from regcred.core.spec.model import NamespaceTargets, RegistryCredential, parse_document
from regcred.core.spec.planner import Plan, plan
from regcred.shells.credprovider import PluginCache
from regcred.usecases.kubeapi import KubeApi, Obj
from regcred.usecases.rollout import RolloutGate, is_held
from regcred.usecases.rows import RowStatus, TargetResult
from regcred.usecases.specapply import apply_plan
from regcred.usecases.specs import read_cluster_state, resolve_specs

WRITTEN = frozenset({RowStatus.CREATED, RowStatus.UPDATED, RowStatus.DELETED, RowStatus.ATTACHED,
                     RowStatus.DETACHED})
MATCH_NOTHING = NamespaceTargets(include=(), exclude=(), selector=None)  # a spec being deleted: undo it all
REFRESH_FRACTION = 0.8  # of a plugin credential's lifetime, when the controller fetches the next one
PLUGIN_FLOOR = 10.0  # seconds an answer without a lifetime is reused, and the first wait after a failure
# The controller process's plugin answers: every namespace's reconcile of a source shares one plugin call, reused
# for 80 % of the credential's lifetime (10 s without one, so a "do not cache" plugin is not run per namespace).
PLUGINS = PluginCache(REFRESH_FRACTION, floor=PLUGIN_FLOOR)
# The process's verifyBeforeRollout verdicts, shared by the workers and the webhook: one check per credential.
ROLLOUT = RolloutGate()


def use_process_caches(plugins: PluginCache, gate: RolloutGate) -> None:
    """What every reconcile uses from now on: the run's plugin answers (its refresh fraction) and rollout gate
    (its registry options: CA bundle, plain HTTP); fresh ones per run."""
    global PLUGINS, ROLLOUT
    PLUGINS, ROLLOUT = plugins, gate
_PARSED: dict[str, tuple[tuple[str, str], RegistryCredential]] = {}  # name -> ((uid, resourceVersion), spec)


@dataclass(frozen=True, slots=True)
class Forbidden:
    """A 403: the verb and resource the controller's identity lacks (for the Degraded condition)."""

    verb: str
    resource: str
    namespace: str | None

    def __str__(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else " cluster-wide"
        return f"cannot {self.verb} {self.resource}{where}"


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    """What one reconcile did: its rows, why it did nothing, and what failed (one line each, no secrets)."""

    key: Key
    rows: tuple[TargetResult, ...] = ()
    skipped: str = ""
    errors: tuple[str, ...] = ()
    forbidden: tuple[Forbidden, ...] = ()
    not_owned: tuple[str, ...] = ()  # Secrets of the spec's name regcred does not own: left alone
    waiting: bool = False  # e.g. the `default` ServiceAccount is not there yet: the next event will bring it
    targeted: bool = False  # the spec selects the namespace (else the reconcile only cleaned up)
    covered: int = 0  # ServiceAccounts in the namespace carrying the spec's entry afterwards
    refresh_at: float | None = None  # time.time() when to reconcile again: a plugin's refresh, an expiry warning
    expiries: tuple[Expiry, ...] | None = None  # when the credentials written expire (None: not known here)
    held: tuple[str, ...] = ()  # Secret updates verifyBeforeRollout held back (one line each, no secret)

    @property
    def writes(self) -> int:
        return sum(1 for r in self.rows if r.status in WRITTEN)

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.forbidden or self.not_owned)


def parse_spec(obj: Obj) -> RegistryCredential:
    """A cached RegistryCredential object as the typed spec (SpecInvalid when it is not valid); parsed once per
    uid and resourceVersion, not once per reconcile (a refresh reconciles every namespace: 2,000 parses of one
    object). An object without both (never from an API server) is parsed every time."""
    meta = metadata(obj)
    name, version = str(meta.get("name")), (str(meta.get("uid") or ""), str(meta.get("resourceVersion") or ""))
    kept = _PARSED.get(name)
    if kept is not None and all(version) and kept[0] == version:
        return kept[1]
    spec = parse_document(obj, f"RegistryCredential {name}")
    if all(version):
        _PARSED[name] = (version, spec)
    return spec


def reconcile(api: KubeApi, caches: Mapping[str, Cache], key: Key, *,
              kinds: Collection[str] | None = None, plugins: PluginCache | None = None,
              gate: RolloutGate | None = None) -> ReconcileResult:
    """Bring one namespace to one spec (and the specs sharing its Secret name): plan, then conditional writes.

    A spec being deleted (deletionTimestamp) or gone plans as targeting nothing: exactly what it added in the
    namespace is removed. Reads come from `caches` (kinds without one from the API), writes go to the API.
    `kinds` limits the writes to changes of those kinds (the webhook creates only the Secret, at admission).
    Credential-provider plugins are asked through `plugins` (default: the process's `PLUGINS`), Secret updates
    of verifyBeforeRollout specs wait for `gate` (default: the process's `ROLLOUT`).
    """
    spec_name, namespace = key
    cached = CachedApi(api, caches)
    try:
        ns = cached.get_optional("Namespace", namespace)
        if ns is None:
            return ReconcileResult(key, skipped="namespace no longer exists")
        if is_terminating(ns):
            return ReconcileResult(key, skipped="namespace is being terminated")
        specs = _specs_for(cached, spec_name)
        if not specs:
            return ReconcileResult(key, skipped="spec no longer exists")
        return _apply(cached, key, specs, kinds, PLUGINS if plugins is None else plugins,
                      ROLLOUT if gate is None else gate)
    except RegcredError as exc:
        return ReconcileResult(key, errors=(exc.line(),), forbidden=_forbidden(cached))


def _specs_for(api: CachedApi, spec_name: str) -> list[RegistryCredential]:
    """The key's spec first, then every live spec writing the same Secret name (they share that Secret)."""
    objs = api.list("RegistryCredential")
    by_name = {metadata(o).get("name"): o for o in objs}
    mine = by_name.get(spec_name)
    if mine is None:
        return []
    spec = parse_spec(mine)
    if metadata(mine).get("deletionTimestamp"):
        return [dataclasses.replace(spec, namespaces=MATCH_NOTHING)]
    others = []
    for name, obj in sorted(by_name.items()):
        if name == spec_name or metadata(obj).get("deletionTimestamp"):
            continue
        other = parse_spec(obj)
        if other.secret_name == spec.secret_name:
            others.append(other)
    return [spec, *others]


def _apply(api: CachedApi, key: Key, specs: list[RegistryCredential], kinds: Collection[str] | None,
           plugins: PluginCache, gate: RolloutGate) -> ReconcileResult:
    namespace, secret_name = key[1], specs[0].secret_name
    desired = resolve_specs(specs, api, plugins=plugins)
    for credential in desired:  # every credential value read: cut from every log record from now on
        register_config(credential.config)
    state = read_cluster_state(api, specs, namespace)
    ns_obj = next(iter(state.namespaces), {})
    labels = metadata(ns_obj).get("labels") or {}
    # A same-named Secret of somebody else is in `state` (the source-Secret cache holds every Secret regcred does
    # not manage, by identity): planned as a conflict, never overwritten nor attached. One created a moment ago,
    # not cached yet, fails the create with 409 (below), and the key is retried.
    full = plan(desired, state)
    mine = Plan(tuple(c for c in full.changes if c.namespace == namespace and (kinds is None or c.kind in kinds)),
                tuple(s for s in full.skipped if s.namespace == namespace and kinds is None))
    rows = tuple(apply_plan(api, mine, desired=desired, workers=1, gate=gate))
    not_owned: tuple[str, ...] = ()
    if any(r.failed and r.name == f"Secret/{secret_name}" for r in rows):
        # not in the caches yet (created a moment ago, the create's 409 says so): read, but not into a cache
        current = next((s for s in state.secrets if metadata(s).get("name") == secret_name), None) or \
            api.read_fresh("Secret", secret_name, namespace)
        if current is not None and not is_managed(dict(current)):
            not_owned = (f"{namespace}/{secret_name}",)
    errors = tuple(f"{r.namespace}: {r.name}: {r.message}" for r in rows
                   if r.failed and not (not_owned and r.name == f"Secret/{secret_name}"))
    targeted = specs[0].namespaces.matches(namespace, labels)
    covered = sum(1 for sa in api.list("ServiceAccount", namespace)
                  if any(isinstance(e, dict) and e.get("name") == secret_name for e in sa.get("imagePullSecrets") or []))
    providers = [r.credential_provider for s in specs for r in s.registries if r.credential_provider is not None]
    expiries = tuple(e for d in desired for e in d.expiries)
    held = tuple(r.message for r in rows if r.failed and is_held(r.message))
    return ReconcileResult(key, rows=rows, errors=errors, forbidden=_forbidden(api), not_owned=not_owned,
                           waiting=bool(mine.waiting), targeted=targeted, covered=covered,
                           refresh_at=_due(expiries, plugins.refresh_at(providers)) if targeted else None,
                           # a held update leaves the old copy: its expiry is not the new credential's
                           expiries=expiries if targeted and not held else None, held=held)


def _due(expiries: tuple[Expiry, ...], plugin: float | None) -> float | None:
    """When to reconcile again: a plugin's refresh, or a static expiry's warning (then the expiry) ahead."""
    now, static = time.time(), earliest(expiries, renewed=False)
    marks = [] if static is None else [t for t in (static.at - EXPIRY_WARNING, static.at) if t > now]
    return min([*marks, *([] if plugin is None else [plugin])], default=None)


def _forbidden(api: CachedApi) -> tuple[Forbidden, ...]:
    seen = dict.fromkeys(Forbidden(e.verb, e.resource, e.namespace) for e in api.forbidden)
    return tuple(seen)
