"""What regcred wrote on a node, and merge plans that respect it (pure).

Beside each file regcred edits on a node (the kubelet's config.json, containerd's config.toml, k3s/rke2
registries.yaml) it keeps an ownership record, `<file>.regcred-owned`: key or host -> SHA-256 of what it
wrote. An entry is regcred's while it is still exactly that: only then is it replaced without asking or
removed by a prune. Another writer's entry for the same key is a conflict (fail, keep or overwrite).

A file and its record are two renames, and a `kill -9` can land between them. So the record is written
twice around the file (`record_before_write`): first naming both the current and the intended
fingerprint of every entry about to change (`pending`), then, once the file is in place, the new state
alone. Whichever rename a crash interrupts, the next run recognises the file's entry as regcred's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from regcred.core.credentials.dockerconfig import DockerConfig

OWNERSHIP_SUFFIX = ".regcred-owned"
ON_CONFLICT = ("fail", "keep", "overwrite")


def entry_fingerprint(obj: Any) -> str:
    """A digest of one raw entry object: tells whether an entry is still exactly what regcred wrote."""
    import hashlib
    import json

    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OwnershipRecord:
    """A record as read: what regcred wrote (`entries`), and what an interrupted write was about to write."""

    entries: Mapping[str, str]
    pending: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.entries or self.pending)

    def settled(self, current: Mapping[str, Any]) -> dict[str, str]:
        """key -> fingerprint for the keys still in `current`: the entry's own when it is one regcred
        wrote or was writing when a run was killed, else the recorded one (someone else changed it)."""
        settled: dict[str, str] = {}
        for key in sorted(set(self.entries) | set(self.pending)):
            if key not in current:
                continue
            fingerprint = entry_fingerprint(current[key])
            if fingerprint == self.entries.get(key) or fingerprint in self.pending.get(key, ()):
                settled[key] = fingerprint
            elif key in self.entries:
                settled[key] = self.entries[key]
        return settled


def read_record(text: str | bytes | None) -> OwnershipRecord:
    """The ownership record (`config.json.regcred-owned`); bad content is an empty record."""
    import json

    from regcred.core.safeload import json_too_deep

    try:
        doc = json.loads(text) if text and not json_too_deep(text) else None
    except ValueError:
        doc = None
    doc = doc if isinstance(doc, dict) else {}
    entries, pending = doc.get("entries"), doc.get("pending")
    return OwnershipRecord(
        {str(k): v for k, v in entries.items() if isinstance(v, str)} if isinstance(entries, dict) else {},
        {str(k): frozenset(f for f in v if isinstance(f, str)) for k, v in pending.items() if isinstance(v, list)}
        if isinstance(pending, dict) else {},
    )


def parse_ownership(text: str | bytes | None) -> dict[str, str]:
    """The record's settled part: registry key -> fingerprint of what regcred wrote."""
    return dict(read_record(text).entries)


def dumps_ownership(owned: Mapping[str, str], pending: Mapping[str, Iterable[str]] | None = None) -> str:
    import json

    doc: dict[str, Any] = {"managedBy": "regcred", "version": 1, "entries": dict(sorted(owned.items()))}
    if pending:
        doc["pending"] = {k: sorted(v) for k, v in sorted(pending.items())}
    return json.dumps(doc, indent=2) + "\n"


@dataclass(frozen=True, slots=True)
class RecordSteps:
    """How a record changes around its file: `before` is written first, then the file, then `after`
    (or the record is removed, when `remove`); None and False mean no such step."""

    before: str | None
    after: str | None
    remove: bool


def record_steps(on_disk: OwnershipRecord, settled: Mapping[str, str], new: Mapping[str, str]) -> RecordSteps:
    """The record writes around one file write that takes the record from `settled` to `new`."""
    before = record_before_write(settled, new)
    changed = before is not None or dict(on_disk.entries) != dict(new) or bool(on_disk.pending)
    return RecordSteps(before, dumps_ownership(new) if changed and new else None,
                       changed and not new and bool(on_disk))


def record_before_write(settled: Mapping[str, str], new: Mapping[str, str]) -> str | None:
    """The record to write before the file is replaced: today's entries, plus every new fingerprint as pending.

    None when no entry gets a new fingerprint (a removal needs no such step: a record naming an entry the
    file no longer has is harmless, so the record is rewritten after the file).
    """
    pending = {k: [fp] for k, fp in new.items() if settled.get(k) != fp}
    return dumps_ownership(settled, pending) if pending else None


@dataclass(slots=True)
class InstallPlan:
    """What an install changes in one config.json; `document` is None when nothing changes."""

    document: dict[str, Any] | None = field(repr=False)  # holds every entry's credentials
    owned: dict[str, str]
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def plan_install(
    current: DockerConfig,
    wanted: Sequence[tuple[str, str, str, str]],
    owned: Mapping[str, str],
    *,
    on_conflict: str = "fail",
    prune: bool = False,
) -> InstallPlan:
    """Merge (key, username, password, email) entries into `current`, keeping every other entry and key.

    An entry for the same key with other credentials is a conflict unless regcred wrote it (its
    fingerprint still matches the record): `fail` refuses (the caller raises), `keep` leaves it,
    `overwrite` replaces it. With `prune`, entries regcred wrote earlier and that are no longer wanted
    are removed, but only while they are still exactly what regcred wrote.
    """
    import dataclasses

    from regcred.core.credentials.dockerconfig import entry_object, merged_with, raw_entries, without_entry

    existing_raw = raw_entries(current)
    new_owned = {k: v for k, v in owned.items() if k in existing_raw}
    plan = InstallPlan(None, new_owned)
    writes: list[tuple[str, dict[str, Any]]] = []
    wanted_keys = set()
    for key, username, password, email in wanted:
        wanted_keys.add(key)
        obj = entry_object(username, password, email)
        entry = current.get(key)
        if entry is None:
            plan.added.append(key)
        elif (entry.username, entry.password, entry.email) == (username, password, email):
            plan.kept.append(key)
            if key in new_owned:
                new_owned[key] = entry_fingerprint(existing_raw[key])
            continue
        elif owned.get(key) == entry_fingerprint(existing_raw.get(key)) or on_conflict == "overwrite":
            plan.replaced.append(key)
        else:
            plan.conflicts.append(key)
            continue
        writes.append((key, obj))
        new_owned[key] = entry_fingerprint(obj)
    raw = merged_with(current, writes) if writes else None
    if prune:
        for key in sorted(set(owned) - wanted_keys):
            if key in existing_raw and owned[key] == entry_fingerprint(existing_raw[key]):
                base = dataclasses.replace(current, raw=raw if raw is not None else current.raw)
                raw = without_entry(base, key)
                plan.removed.append(key)
            new_owned.pop(key, None)
    plan.kept.extend(k for k in current.registry_keys() if k not in wanted_keys and k not in plan.removed)
    plan.document = raw
    plan.owned = new_owned
    return plan


@dataclass(slots=True)
class RuntimeAuthPlan:
    """What one sync changes in a runtime's per-host auth, and the ownership record beside it."""

    write: list[str]  # hosts whose auth regcred sets now (new, or regcred's own and changed)
    remove: list[str]  # hosts regcred wrote earlier, no longer wanted, still as regcred wrote them (prune)
    conflicts: list[str]  # hosts wanted whose other auth someone else wrote (left as is unless overwrite)
    owned: dict[str, str]  # the new record: host -> fingerprint of the auth regcred wrote


def plan_runtime_auth(
    owned: Mapping[str, str], before: Mapping[str, Any], wanted: Mapping[str, Mapping[str, str]],
    keep: Iterable[str], *, on_conflict: str = "fail", prune: bool = False,
) -> RuntimeAuthPlan:
    """The rules of `plan_install`, for a runtime config's `HOST -> auth` tables.

    `before` is each host's auth table now, `wanted` the auth regcred should set, `keep` every host still
    wanted (with `--runtime auto` more than `wanted`). A host is regcred's while its auth is exactly what
    regcred wrote; other auth for a wanted host is a conflict unless `overwrite`. Auth that already was
    what regcred would write, but that regcred did not write, is not claimed.
    """
    kept = set(keep)
    plan = RuntimeAuthPlan([], [], [], {})
    ours = {h for h, fp in owned.items() if h in before and entry_fingerprint(before[h]) == fp}
    for host in sorted(ours):
        if prune and host not in kept:
            plan.remove.append(host)
        else:
            plan.owned[host] = owned[host]
    for host, auth in sorted(wanted.items()):
        current = before.get(host)
        if current is not None and dict(current) == dict(auth):
            continue
        if current and host not in ours and on_conflict != "overwrite":
            plan.conflicts.append(host)
            continue
        plan.write.append(host)
        plan.owned[host] = entry_fingerprint(dict(auth))
    return plan
