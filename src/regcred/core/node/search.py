"""The kubelet's node-credential file search: which file it uses, which it skips or shadows, and why.

Order (docs/concepts/kubelet-rules.md#a): `<root-dir>/config.json`,
`<cwd>/config.json`, `$HOME/.docker/config.json`, `/.docker/config.json`; only when none of them parses, the
same four directories' `.dockercfg`.
The first file that parses wins even when it holds no credentials, and files are never merged. With
HOME unset (usual under systemd) the home candidates become relative paths resolved in the working
directory. Given each candidate's state (read by the shell), decide its status and name the problems.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from regcred.core.credentials.dockerconfig import DockerConfig, Layout, parse
from regcred.core.credentials.imageref import parse_image
from regcred.core.credentials.keyring import Keyring, kubelet_skips
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
        if kubelet_skips(entry.key):
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
        creds = keyring.lookup_repository(repository)
        out.append({
            "image": image,
            "repository": repository,
            "credentials": [{"key": c.key, "username": c.username, "source": c.source} for c in creds],
        })
    return out
