"""The kubelet's node-credential file search: which file it uses, which it skips or shadows, and why.

Order (reference §a): `<root-dir>/config.json`, `<cwd>/config.json`, `$HOME/.docker/config.json`,
`/.docker/config.json`; only when none of them parses, the same four directories' `.dockercfg`.
The first file that parses wins even when it holds no credentials, and files are never merged. With
HOME unset (usual under systemd) the home candidates become relative paths resolved in the working
directory. Given each candidate's state (read by the shell), decide its status and name the problems.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from regcred.core.credentials.dockerconfig import DockerConfig, Layout, parse
from regcred.core.credentials.imageref import parse_image
from regcred.core.credentials.keyring import Keyring
from regcred.core.credentials.registrykey import index_key
from regcred.core.errors import ConfigFormatError

MISSING = "missing"
UNREADABLE = "unreadable"
INVALID = "invalid"
USED = "used"
SHADOWED = "shadowed"


@dataclass(frozen=True, slots=True)
class FileState:
    """One path on the node as the shell found it: missing, unreadable (why), or its bytes and mode."""

    path: str
    exists: bool = False
    content: bytes | None = None
    mode: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A path the kubelet tries, with the search directories that lead to it."""

    path: str
    layout: Layout
    searched_as: tuple[str, ...]


@dataclass(slots=True)
class CandidateReport:
    path: str
    layout: Layout
    searched_as: tuple[str, ...]
    status: str
    registries: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    config: DockerConfig | None = None
    mode: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "registries": list(self.registries),
            "problems": list(self.problems),
            "layout": self.layout.value,
            "searched_as": list(self.searched_as),
            "mode": None if self.mode is None else f"{self.mode & 0o7777:04o}",
        }


@dataclass(slots=True)
class SearchReport:
    candidates: list[CandidateReport]
    used: CandidateReport | None
    problems: list[str]
    notes: list[str]


def _join(directory: str, *names: str) -> str:
    return posixpath.normpath(posixpath.join(directory, *names))


def candidate_paths(root_dir: str, cwd: str, home: str | None) -> list[Candidate]:
    """The eight paths in the kubelet's order, duplicates folded (the first position is the one that counts)."""
    # The kubelet joins each directory with the file name and makes it absolute (filepath.Abs): a relative
    # --root-dir or HOME, and an unset HOME ("" joined with .docker), resolve in the working directory.
    cwd = _join("/", cwd)
    home_dir = _join(cwd, home) if home else cwd
    dirs = (("root-dir", _join(cwd, root_dir), ""), ("cwd", cwd, ""), ("home", home_dir, ".docker"),
            ("root", "/", ".docker"))
    ordered: dict[str, tuple[Layout, list[str]]] = {}
    for name, layout in (("config.json", Layout.CONFIG_JSON), (".dockercfg", Layout.DOCKERCFG)):
        for role, directory, sub in dirs:
            path = _join(directory, sub, name) if layout is Layout.CONFIG_JSON and sub else _join(directory, name)
            ordered.setdefault(path, (layout, []))[1].append(role)
    return [Candidate(path, layout, tuple(roles)) for path, (layout, roles) in ordered.items()]


def _permission_problem(mode: int | None) -> str | None:
    if mode is None or not mode & 0o044:
        return None
    who = " and ".join(w for w, bit in (("group", 0o040), ("others", 0o004)) if mode & bit)
    return f"readable by {who} (mode {mode & 0o777:04o}): run chmod 600 on it"


def _entry_problems(config: DockerConfig) -> list[str]:
    """What in the used file the kubelet ignores or cannot use."""
    problems = [
        f"{name!r} is ignored by the kubelet (credential helpers are never run)" for name in config.ignored_top_level
    ]
    for entry in config.entries:
        if index_key(entry.key) is None:
            problems.append(f"registry {entry.key!r} is skipped: the kubelet cannot parse it as a URL")
        for ignored in entry.ignored_fields:
            problems.append(f"registry {entry.key!r}: {ignored!r} is ignored by the kubelet")
        if not entry.username and not entry.password:
            problems.append(f"registry {entry.key!r} has no username or password: the kubelet sends an empty credential")
    return problems


def evaluate(
    candidates: Sequence[Candidate],
    states: Mapping[str, FileState],
    *,
    home: str | None,
    expected_home: str | None = None,
) -> SearchReport:
    """Walk the candidates like the kubelet and report each one's status and problems."""
    reports: list[CandidateReport] = []
    used: CandidateReport | None = None
    for cand in candidates:
        state = states.get(cand.path, FileState(cand.path))
        report = CandidateReport(cand.path, cand.layout, cand.searched_as, MISSING, mode=state.mode)
        reports.append(report)
        if state.error is not None:
            report.status = UNREADABLE
            report.problems.append(f"cannot be read ({state.error}): the kubelet skips it")
            continue
        if not state.exists or state.content is None:
            continue
        try:
            config = parse(state.content, cand.path, cand.layout)
        except ConfigFormatError as exc:
            report.status = INVALID
            where = f"registry {exc.key!r}: " if exc.key is not None else ""
            report.problems.append(f"invalid, the kubelet skips it: {where}{exc.reason}")
            continue
        report.config = config
        report.registries = config.registry_keys()
        perm = _permission_problem(state.mode)
        if perm and config.entries:
            report.problems.append(perm)
        if used is None:
            report.status = USED
            used = report
            report.problems.extend(_entry_problems(config))
        else:
            report.status = SHADOWED
    problems = [f"{r.path}: {p}" for r in reports for p in r.problems]
    notes: list[str] = []
    if used is not None and used.config is not None and used.config.is_empty:
        hidden = [r for r in reports if r.status == SHADOWED and r.registries]
        what = "has no 'auths' object" if not used.config.has_auths else "holds no credentials"
        for other in hidden:
            problems.append(
                f"{used.path} {what} but parses, so the kubelet uses it and never reads {other.path} "
                f"({len(other.registries)} registries): remove it or put the credentials in it"
            )
        if not hidden:
            notes.append(f"{used.path} is used and {what}: the node has no registry credentials")
    if used is None:
        notes.append("no node credential file is used: the kubelet pulls without node credentials")
    problems.extend(_home_problems(reports, states, home=home, expected_home=expected_home))
    return SearchReport(reports, used, problems, notes)


def shadowing_file(candidates: Sequence[Candidate], states: Mapping[str, FileState], target: str) -> str | None:
    """The earlier candidate the kubelet would use instead of `target` (a file that parses comes first), if any."""
    for cand in candidates:
        if cand.path == target:
            return None
        state = states.get(cand.path)
        if state is None or state.content is None:
            continue
        try:
            parse(state.content, cand.path, cand.layout)
        except ConfigFormatError:
            continue
        return cand.path
    return None


def _home_problems(
    reports: Sequence[CandidateReport], states: Mapping[str, FileState], *, home: str | None, expected_home: str | None
) -> list[str]:
    """HOME unset: a credential file in the kubelet user's home directory is never searched."""
    if home or not expected_home:
        return []
    path = _join(expected_home, ".docker", "config.json")
    if any(r.path == path for r in reports):
        return []
    state = states.get(path)
    if state is None or not state.exists or not state.content:
        return []
    return [
        f"{path} exists but the kubelet's HOME is unset, so it is never searched: "
        "move the credentials to <root-dir>/config.json (regcred node install) or set HOME for the kubelet"
    ]


def home_hint_path(expected_home: str | None) -> str | None:
    """The extra path the shell should read so HOME-unset mistakes can be named."""
    return _join(expected_home, ".docker", "config.json") if expected_home else None


def credentials_for_images(used: CandidateReport | None, images: Sequence[str]) -> list[dict[str, Any]]:
    """For each image, the node credentials the kubelet would try, in order (never the password)."""
    keyring = Keyring()
    if used is not None and used.config is not None:
        keyring.add_config(used.config, used.path)
    out: list[dict[str, Any]] = []
    for image in images:
        repository = parse_image(image).repository
        creds = keyring.lookup(repository)
        out.append({
            "image": image,
            "repository": repository,
            "credentials": [{"key": c.key, "username": c.username, "source": c.source} for c in creds],
        })
    return out


# --- planning an install: merge, conflicts, and the ownership record ------------------------------------------
# (kept here because it is the node file's other rule set; a future core/nodeplan.py could hold it)

OWNERSHIP_SUFFIX = ".regcred-owned"
ON_CONFLICT = ("fail", "keep", "overwrite")


def entry_fingerprint(obj: Any) -> str:
    """A digest of one raw entry object: tells whether an entry is still exactly what regcred wrote."""
    import hashlib
    import json

    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_ownership(text: str | bytes | None) -> dict[str, str]:
    """The ownership record (`config.json.regcred-owned`): registry key -> fingerprint; bad content is empty."""
    import json

    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    entries = doc.get("entries") if isinstance(doc, dict) else None
    if not isinstance(entries, dict):
        return {}
    return {str(k): str(v) for k, v in entries.items() if isinstance(v, str)}


def dumps_ownership(owned: Mapping[str, str]) -> str:
    import json

    doc = {"managedBy": "regcred", "version": 1, "entries": dict(sorted(owned.items()))}
    return json.dumps(doc, indent=2) + "\n"


@dataclass(slots=True)
class InstallPlan:
    """What an install changes in one config.json; `document` is None when nothing changes."""

    document: dict[str, Any] | None
    owned: dict[str, str]
    owned_changed: bool
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
    plan = InstallPlan(None, new_owned, False)
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
    plan.kept.extend(k for k in existing_raw if k not in wanted_keys and k not in plan.removed)
    plan.document = raw
    plan.owned = new_owned
    plan.owned_changed = new_owned != dict(owned)
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
