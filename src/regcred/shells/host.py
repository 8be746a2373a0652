"""A node's files seen through a host root (`/` on the node, `/host` inside the DaemonSet), and systemd.

Every node path (`/var/lib/kubelet/config.json`) is mapped under the host root before it is touched,
so the same code runs on a node, in a privileged pod and against a fake root in a test. Symlinks are
resolved as the node would see them: an absolute link target is taken inside the host root (never this
machine's own file of that name), and a link that leads outside the host root is refused. Writes go
through shells/filechanges (files.atomic_write: temp file, fsync, rename; all or nothing across files),
so a symlinked file keeps its link.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from regcred.core.errors import InputError, OperationFailed
from regcred.core.node import kubeletflags
from regcred.core.node.runtimes.common import CONTAINERD, CRIO, K3S, RKE2, RuntimeFacts
from regcred.core.node.runtimes.configfile import config_facts, config_path
from regcred.core.node.runtimes.crio import CRIO_CONFIG, CRIO_DROPIN_DIR, crio_facts
from regcred.core.node.search import FileState
from regcred.shells.input import read_file, read_optional_file


@dataclass(frozen=True, slots=True)
class HostRoot:
    """The node's filesystem under `root`."""

    root: Path

    @property
    def is_live(self) -> bool:
        """True when the host root is this machine's own `/` (systemd can then be reached)."""
        return self.root.resolve() == Path("/")

    def path(self, node_path: str, *, follow_last: bool = True) -> Path:
        """Where `node_path` is under the host root, with every symlink resolved inside the host root."""
        if self.is_live:
            return Path("/" + node_path.lstrip("/"))
        return _resolve_in_root(self.root, node_path, follow_last=follow_last)

    def node_path(self, path: Path) -> str:
        """The node's own name for a path under the host root (for messages and JSON)."""
        if self.is_live:
            return str(path)
        try:
            return "/" + str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def in_node_terms(self, message: str) -> str:
        """One rule for paths in node messages: every file by the node's own path (as the kubelet sees it),
        and, when the host root is not `/`, the host root named once at the end."""
        if self.is_live:
            return message
        message = message.replace(str(self.root).rstrip("/") + "/", "/")
        return message if "--host-root" in message else f"{message} (on the node under --host-root {self.root})"

    def exists(self, node_path: str) -> bool:
        try:
            return self.path(node_path).exists()
        except InputError:
            return True  # a link that leads outside the host root: it is there, and reading it is refused

    def read_text(self, node_path: str) -> str | None:
        """A file's text, None when missing; unreadable files are one clear line."""
        data = read_optional_file(self.path(node_path), shown=node_path)
        return None if data is None else data.decode("utf-8", errors="replace")

    def state(self, node_path: str) -> FileState:
        """A candidate credential file's state, for nodesearch.evaluate."""
        try:
            path = self.path(node_path)
        except InputError as exc:
            return FileState(node_path, exists=True, error=exc.message)
        try:
            st = path.stat()
        except FileNotFoundError:
            return FileState(node_path)
        except OSError as exc:
            return FileState(node_path, exists=True, error=exc.strerror or str(exc))
        try:
            data = read_file(path, shown=node_path)
        except InputError as exc:  # a directory, a FIFO, too big, unreadable: the reason, without the path
            return FileState(node_path, exists=True, mode=st.st_mode, error=exc.message.removeprefix(f"{node_path}: "))
        return FileState(node_path, exists=True, content=data, mode=st.st_mode)

    def listdir(self, node_path: str) -> list[str]:
        try:
            return sorted(os.listdir(self.path(node_path)))
        except OSError:
            return []



_MAX_LINKS = 40  # the kernel's ELOOP limit


def _resolve_in_root(root: Path, node_path: str, *, follow_last: bool) -> Path:
    """Resolve `node_path` component by component as if `root` were `/` (like a chroot), refusing escapes."""
    pending = [p for p in node_path.split("/") if p not in ("", ".")]
    done: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if not done:
                raise InputError(f"{node_path}: a symlink on the way leads outside --host-root {root}",
                                 hint="refusing to read or write outside the node's files")
            done.pop()
            continue
        here = root.joinpath(*done, part)
        if (pending or follow_last) and here.is_symlink():
            links += 1
            if links > _MAX_LINKS:
                raise InputError(f"{node_path}: too many levels of symbolic links under --host-root {root}")
            target = os.readlink(here)
            if target.startswith("/"):
                done = []  # an absolute target is a path on the node: inside the host root
            pending = [p for p in target.split("/") if p not in ("", ".")] + pending
            continue
        done.append(part)
    return root.joinpath(*done)


def open_host_root(directory: str | Path) -> HostRoot:
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"--host-root {root}: not a directory", hint="give the directory where the node's / is mounted")
    return HostRoot(root)


def unit_files(host: HostRoot) -> list[tuple[str, str]]:
    """kubelet.service and its drop-ins in systemd's order (a drop-in name in /etc overrides /usr/lib's)."""
    units: list[tuple[str, str]] = []
    for directory in kubeletflags.UNIT_DIRS:
        path = f"{directory}/{kubeletflags.UNIT_NAME}"
        text = host.read_text(path) if host.path(path).is_file() else None
        if text is not None:
            units.append((path, text))
            break
    dropins: dict[str, str] = {}
    for directory in reversed(kubeletflags.UNIT_DIRS):  # lowest priority first, /etc last
        dropin_dir = f"{directory}/{kubeletflags.UNIT_NAME}.d"
        for name in host.listdir(dropin_dir):
            if name.endswith(".conf"):
                dropins[name] = f"{dropin_dir}/{name}"
    for name in sorted(dropins):
        text = host.read_text(dropins[name])
        if text is not None:
            units.append((dropins[name], text))
    return units


def kubelet_sources(host: HostRoot) -> tuple[kubeletflags.UnitSettings | None, list[tuple[str, str | None]]]:
    """The kubelet's unit (with drop-ins) and its environment files' text (None when missing), in systemd's order."""
    units = unit_files(host)
    unit = kubeletflags.parse_units(units) if units else None
    # systemd reads only the environment files the unit names; the usual files are a guess only without a unit.
    specs = unit.environment_files if unit else list(kubeletflags.FALLBACK_ENV_FILES)
    env_files: list[tuple[str, str | None]] = []
    for spec in specs:
        path, _optional = kubeletflags.env_file_path(spec)
        env_files.append((path, host.read_text(path) if host.path(path).is_file() else None))
    return unit, env_files


def kubelet_settings(host: HostRoot) -> kubeletflags.KubeletSettings:
    """Read the kubelet's unit, drop-ins and environment files under the host root."""
    unit, env_files = kubelet_sources(host)
    return kubeletflags.kubelet_settings(unit, env_files, passwd_text=host.read_text("/etc/passwd"))


def detect_runtime(host: HostRoot) -> str | None:
    """The runtime installed under the host root (k3s and rke2 embed containerd, so they come first)."""
    checks = (
        (K3S, ("/etc/rancher/k3s", "/usr/local/bin/k3s")),
        (RKE2, ("/etc/rancher/rke2",)),
        (CRIO, ("/etc/crio", "/usr/bin/crio", "/usr/local/bin/crio")),
        (CONTAINERD, ("/etc/containerd", "/usr/bin/containerd", "/usr/local/bin/containerd")),
    )
    for name, paths in checks:
        if any(host.exists(p) for p in paths):
            return name
    return None


def crio_files(host: HostRoot) -> list[tuple[str, str]]:
    """crio.conf then its drop-ins in lexical order (CRI-O's own order)."""
    files = []
    text = host.read_text(CRIO_CONFIG) if host.path(CRIO_CONFIG).is_file() else None
    if text is not None:
        files.append((CRIO_CONFIG, text))
    for name in host.listdir(CRIO_DROPIN_DIR):
        path = f"{CRIO_DROPIN_DIR}/{name}"
        if name.endswith(".conf") and host.path(path).is_file():
            files.append((path, host.read_text(path) or ""))
    return files


def runtime_facts(host: HostRoot, runtime: str) -> RuntimeFacts:
    if runtime == CRIO:
        return crio_facts(crio_files(host))
    return config_facts(runtime, host.read_text(config_path(runtime)))


def restart_services(host: HostRoot, services: list[str], *, daemon_reload: bool = False) -> None:
    """systemctl [daemon-reload and] restart; one clear line when systemd cannot be reached from here."""
    if not host.is_live:
        raise OperationFailed(
            f"cannot restart {', '.join(services)}: --host-root {host.root} is not this machine's /, "
            "so its systemd is not reachable from here",
            hint=f"run systemctl restart {' '.join(services)} on the node",
        )
    if shutil.which("systemctl") is None or not Path("/run/systemd/system").is_dir():
        raise OperationFailed(
            f"cannot restart {', '.join(services)}: systemd is not running on this machine",
            hint="restart it with the node's own service manager",
        )
    commands = ([["systemctl", "daemon-reload"]] if daemon_reload else []) + [["systemctl", "restart", *services]]
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or ["no message"])[0]
            raise OperationFailed(f"{' '.join(command)} failed: {detail}")
