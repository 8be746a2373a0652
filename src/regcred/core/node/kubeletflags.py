"""The kubelet's --root-dir, HOME and working directory, read from the files that start it.

The kubelet's node-credential search depends on three things fixed at its start: `--root-dir`, `$HOME`
and its working directory (docs/concepts/kubelet-rules.md#a). They come from the
systemd unit and its drop-ins (`Environment=`, `EnvironmentFile=`, `ExecStart=`, `WorkingDirectory=`,
`User=`), and from the environment files kubeadm and distro packages use (`kubeadm-flags.env`,
`/etc/default/kubelet`, `/etc/sysconfig/kubelet`). This module reads their text; the shell finds and reads the files.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

DEFAULT_ROOT_DIR = "/var/lib/kubelet"
KUBEADM_FLAGS_ENV = "/var/lib/kubelet/kubeadm-flags.env"
# Environment files read when no unit names any (the usual packaging), in the order systemd would apply them.
FALLBACK_ENV_FILES = ("/etc/default/kubelet", "/etc/sysconfig/kubelet", KUBEADM_FLAGS_ENV)
# Variables packages use to carry kubelet flags (kubeadm's drop-in, Debian/RPM packaging, k8s docs).
FLAG_VARIABLES = (
    "KUBELET_KUBECONFIG_ARGS", "KUBELET_CONFIG_ARGS", "KUBELET_KUBEADM_ARGS", "KUBELET_EXTRA_ARGS", "KUBELET_ARGS",
)
UNIT_NAME = "kubelet.service"
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
REGCRED_HOME_DROPIN = "/etc/systemd/system/kubelet.service.d/90-regcred-home.conf"

_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(slots=True)
class UnitSettings:
    """What the kubelet's unit (base file plus drop-ins, in systemd's order) sets."""

    environment: dict[str, str] = field(default_factory=dict)
    environment_files: list[str] = field(default_factory=list)
    exec_start: str | None = None
    working_directory: str | None = None
    user: str | None = None
    sources: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class KubeletSettings:
    """The values the node-credential search depends on, and which file each came from."""

    root_dir: str
    root_dir_source: str
    home: str | None
    home_source: str | None
    cwd: str
    user: str
    user_home: str
    environment_files: tuple[str, ...]
    unit_found: bool


def _logical_lines(text: str) -> list[str]:
    """Unit-file lines with trailing-backslash continuations joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    if pending:
        lines.append(pending)
    return lines


def parse_units(units: Sequence[tuple[str, str]]) -> UnitSettings:
    """Apply the base unit and its drop-ins in order: later assignments win, an empty one resets."""
    settings = UnitSettings()
    for path, text in units:
        settings.sources.append(path)
        section = ""
        for line in _logical_lines(text):
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            if section != "Service" or "=" not in line:
                continue
            key, _, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if key == "Environment":
                if not value:
                    settings.environment.clear()
                for name, val in _assignments(value):
                    settings.environment[name] = val
            elif key == "EnvironmentFile":
                if not value:
                    settings.environment_files.clear()
                else:
                    settings.environment_files.append(value)
            elif key == "ExecStart":
                settings.exec_start = value or None
            elif key == "WorkingDirectory":
                settings.working_directory = value or None
            elif key == "User":
                settings.user = value or None
    return settings


def _assignments(value: str) -> list[tuple[str, str]]:
    return [(w.split("=", 1)[0], w.split("=", 1)[1]) for w in split_words(value) if "=" in w]


def parse_env_file(text: str) -> dict[str, str]:
    """A systemd EnvironmentFile: KEY=value lines, optional quotes, '#'/';' comments."""
    env: dict[str, str] = {}
    for line in _logical_lines(text):
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            continue
        env[name] = _env_value(value.strip())
    return env


def _env_value(raw: str) -> str:
    """One EnvironmentFile value as systemd reads it: single quotes literal, double quotes with backslash escapes
    of the quote, backslash, backtick and dollar, a backslash outside quotes escaping any character."""
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(raw):
        c = raw[i]
        if quote == "'":
            quote = "" if c == "'" else quote
            out.append(c if quote else "")
        elif quote == '"':
            if c == "\\" and i + 1 < len(raw) and raw[i + 1] in '"\\`$':
                i += 1
                out.append(raw[i])
            elif c == '"':
                quote = ""
            else:
                out.append(c)
        elif c in "'\"":
            quote = c
        elif c == "\\" and i + 1 < len(raw):
            i += 1
            out.append(raw[i])
        else:
            out.append(c)
        i += 1
    return "".join(out).rstrip() if not raw.endswith(("'", '"')) else "".join(out)


def split_words(value: str) -> list[str]:
    """Words as systemd splits a command line or an unbraced `$VAR` (whitespace, quotes removed; unbalanced
    quotes: plain whitespace)."""
    try:
        return shlex.split(value)
    except ValueError:
        return value.split()


def env_file_path(spec: str) -> tuple[str, bool]:
    """`EnvironmentFile=-/path`: the path and whether a missing file is allowed."""
    return (spec[1:], True) if spec.startswith("-") else (spec, False)


def expand_command(command: str, env: dict[str, str]) -> list[str]:
    """ExecStart words with `$VAR` split into words and `${VAR}` kept as one word, as systemd does."""
    words: list[str] = []
    for part in split_words(command):
        whole = _VAR.fullmatch(part)
        if whole and whole.group(2):
            words.extend(split_words(env.get(whole.group(2), "")))
            continue
        words.append(_VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), part))
    return [w for w in words if w]


def flag_value(args: Sequence[str], flag: str) -> str | None:
    """The last value of `--flag=V` or `--flag V`, as the kubelet's pflag reads it: the last one wins, `_` in a
    flag name is `-` (the kubelet's word-separator normalisation: `--root_dir` is `--root-dir`), `--` ends flags."""
    wanted = flag.replace("_", "-")
    found: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        name, sep, value = arg.partition("=")
        if name.startswith("--") and name.replace("_", "-") == wanted:
            if sep:
                found = value
            elif i + 1 < len(args):
                found = args[i + 1]
                i += 1  # pflag takes the next word as the value, whatever it looks like
        i += 1
    return found


def user_home(user: str, passwd_text: str | None) -> str:
    """The home directory of `user` from /etc/passwd text (root: /root)."""
    for line in (passwd_text or "").splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and (fields[0] == user or fields[2] == user):
            return fields[5]
    return "/root" if user in ("root", "0") else f"/home/{user}"


def kubelet_settings(
    unit: UnitSettings | None,
    env_files: Sequence[tuple[str, str | None]],
    *,
    passwd_text: str | None = None,
) -> KubeletSettings:
    """Combine the unit and the environment files (given in systemd's order, None when missing).

    Environment files override `Environment=`. Without a unit, the usual flag variables of the
    fallback files are read, so a node whose unit lives somewhere unusual is still understood.
    """
    env: dict[str, str] = dict(unit.environment) if unit else {}
    origin: dict[str, str] = dict.fromkeys(env, unit.sources[-1] if unit and unit.sources else "unit")
    for path, text in env_files:
        if text is None:
            continue
        for name, value in parse_env_file(text).items():
            env[name] = value
            origin[name] = path
    if unit is not None and unit.exec_start:
        args = expand_command(unit.exec_start.lstrip("@-:+!"), env)
        arg_sources = unit.sources[-1:]
    else:
        args = [w for name in FLAG_VARIABLES for w in split_words(env.get(name, ""))]
        arg_sources = []
    root_dir = flag_value(args, "--root-dir")
    root_source = "default"
    if root_dir:
        root_source = next(
            (origin[name] for name in reversed(FLAG_VARIABLES)
             if flag_value(split_words(env.get(name, "")), "--root-dir") is not None),
            arg_sources[0] if arg_sources else "unit",
        )
    user = (unit.user if unit else None) or "root"
    home = env.get("HOME") or None
    home_source = origin.get("HOME") if home else None
    if "HOME" not in env and unit is not None and unit.user:
        # systemd sets HOME (and USER, LOGNAME, SHELL) for a unit with User=, even User=root; Environment= wins.
        home, home_source = user_home(unit.user, passwd_text), f"User={unit.user} in the kubelet unit"
    return KubeletSettings(
        root_dir=_clean(root_dir) if root_dir else DEFAULT_ROOT_DIR,
        root_dir_source=root_source,
        home=_clean(home) if home else None,
        home_source=home_source,
        cwd=_working_directory(unit.working_directory if unit else None, user, passwd_text),
        user=user,
        user_home=user_home(user, passwd_text),
        environment_files=tuple(path for path, _ in env_files),
        unit_found=unit is not None and bool(unit.sources),
    )


def _working_directory(value: str | None, user: str, passwd_text: str | None) -> str:
    """systemd's WorkingDirectory=: '-' only makes a missing directory non-fatal, '~' is the user's home."""
    value = (value or "").strip().removeprefix("-")
    if not value:
        return "/"  # system services run in /
    return user_home(user, passwd_text) if value == "~" else _clean(value)


def _clean(path: str) -> str:
    """A normalised absolute path; a relative one is kept as written (the kubelet resolves it itself)."""
    path = path.strip()
    return posixpath.normpath(path) if path.startswith("/") else path


def with_env_assignment(text: str | None, name: str, value: str) -> str | None:
    """An environment file with `name=value` set; None when it already says exactly that (idempotent)."""
    lines = (text or "").splitlines()
    current = parse_env_file(text or "").get(name)
    if current == value:
        return None
    kept = [line for line in lines if parse_env_file(line).get(name) is None]
    kept.append(f"{name}={value}")
    return "\n".join(kept) + "\n"


def home_dropin(home: str) -> str:
    """A systemd drop-in that gives the kubelet a HOME (systemd sets none for a root service)."""
    return (
        "# Written by regcred: the kubelet reads $HOME/.docker/config.json only when HOME is set.\n"
        f"[Service]\nEnvironment=HOME={home}\n"
    )
