"""Setting a kubelet flag where the kubelet's own unit reads its flags (pure: text in, text out).

Where a flag goes, in this order:
1. where it is already set: the environment-file variable that carries it (kubeadm-flags.env's
   KUBELET_KUBEADM_ARGS, KUBELET_EXTRA_ARGS in /etc/default/kubelet or /etc/sysconfig/kubelet, ...), or
   the unit's ExecStart= itself;
2. else KUBELET_EXTRA_ARGS (the variable packages leave to the administrator) in /etc/default/kubelet or
   /etc/sysconfig/kubelet, when the unit reads that file and its ExecStart expands `$KUBELET_EXTRA_ARGS`;
3. else KUBELET_KUBEADM_ARGS in kubeadm-flags.env, when the unit reads it and expands the variable;
4. else a drop-in of regcred's that replaces ExecStart= with the same command and the flag (needs a
   `systemctl daemon-reload`).
Every case needs a kubelet restart: flags are read at start only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from regcred.core.errors import InputError
from regcred.core.node import kubeletflags as kf

REGCRED_FLAGS_DROPIN = "/etc/systemd/system/kubelet.service.d/90-regcred-credential-provider.conf"
EXTRA_ARGS_FILES = ("/etc/default/kubelet", "/etc/sysconfig/kubelet")
_SAFE_VALUE = re.compile(r"[^\s'\"\\$`]+\Z")


@dataclass(frozen=True, slots=True)
class FlagEdit:
    """One file to change so the kubelet gets the flags: node path, new text (None: unchanged), how, why."""

    path: str
    text: str | None
    variable: str | None  # None: ExecStart= in regcred's drop-in
    daemon_reload: bool
    remove: bool = False  # the file goes (regcred's drop-in, once it carries nothing else)


def check_value(flag: str, value: str) -> None:
    """A flag value regcred can put on a command line unquoted: an absolute path without spaces or quotes."""
    if not value.startswith("/") or not _SAFE_VALUE.match(value):
        raise InputError(f"{flag} {value!r}: give an absolute path without spaces, quotes or '$'")


def _flag_pattern(flag: str) -> re.Pattern[str]:
    name = re.escape(flag.removeprefix("--")).replace(r"\-", "[-_]")
    return re.compile(rf"(?:^|\s+)--{name}(?:=\S*|\s+(?!-)\S+)?(?=\s|$)")


def with_flags(command: str, flags: Mapping[str, str]) -> str:
    """`command` (an ExecStart= or a variable's value) with every flag set once, at the end, to its value."""
    for flag, value in flags.items():
        if kf.flag_value(kf.split_words(command), flag) == value:
            continue
        command = _flag_pattern(flag).sub("", command).rstrip() + f" {flag}={value}"
    return command.strip()


def _expanded(exec_start: str | None) -> set[str]:
    """Variables ExecStart= expands (`$VAR` or `${VAR}`)."""
    return {a or b for a, b in kf._VAR.findall(exec_start or "")}


def _quote_env(value: str) -> str:
    return '"' + re.sub(r'(["\\`$])', r"\\\1", value) + '"'


def set_variable(text: str | None, variable: str, value: str) -> str | None:
    """An environment file with `variable="value"`; None when it already says exactly that."""
    if kf.parse_env_file(text or "").get(variable) == value:
        return None
    kept = [line for line in (text or "").splitlines() if kf.parse_env_file(line).get(variable) is None]
    kept.append(f"{variable}={_quote_env(value)}")
    return "\n".join(kept) + "\n"


def dropin_text(exec_start: str) -> str:
    return ("# Written by regcred (node provider install): the kubelet's command with its credential-provider flags.\n"
            f"[Service]\nExecStart=\nExecStart={exec_start}\n")


def _environment(unit: kf.UnitSettings | None,
                 env_files: Sequence[tuple[str, str | None]]) -> tuple[dict[str, str], dict[str, str]]:
    """The unit's environment as systemd builds it (files override Environment=), and the file of each variable."""
    env: dict[str, str] = dict(unit.environment) if unit else {}
    origin: dict[str, str] = {}
    for path, text in env_files:
        for name, value in kf.parse_env_file(text or "").items():
            env[name], origin[name] = value, path
    return env, origin


def kubelet_words(unit: kf.UnitSettings | None, env_files: Sequence[tuple[str, str | None]]) -> list[str]:
    """The kubelet's command line (without a unit: the usual flag variables of the fallback files)."""
    env, _ = _environment(unit, env_files)
    if unit is not None and unit.exec_start:
        return kf.expand_command(unit.exec_start.lstrip("@-:+!"), env)
    return [w for name in kf.FLAG_VARIABLES for w in kf.split_words(env.get(name, ""))]


def flag_sources(unit: kf.UnitSettings | None, env_files: Sequence[tuple[str, str | None]],
                 flags: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
    """flag -> (value, the file that sets it) as the kubelet would start now."""
    env, origin = _environment(unit, env_files)
    words = kubelet_words(unit, env_files)
    out: dict[str, tuple[str | None, str | None]] = {}
    for flag in flags:
        value = kf.flag_value(words, flag)
        source = next((origin.get(n, "the kubelet unit") for n in reversed(kf.FLAG_VARIABLES)
                       if kf.flag_value(kf.split_words(env.get(n, "")), flag) is not None), None)
        if value is not None and source is None:
            source = unit.sources[-1] if unit and unit.sources else "the kubelet unit"
        out[flag] = (value, source if value is not None else None)
    return out


def plan_flags(unit: kf.UnitSettings | None, env_files: Sequence[tuple[str, str | None]],
               flags: Mapping[str, str]) -> FlagEdit | None:
    """The one file edit that gives the kubelet `flags` (None: it already has them all).

    Each candidate edit (in the order of the module's docstring) is tried on the text first: the first one
    after which the kubelet's command line has every flag with its value is the plan.
    """
    if _has_flags(unit, env_files, flags):
        return None
    for edit in _candidates(unit, env_files, flags):
        if edit.variable is None:
            return edit  # ExecStart= itself, the flags last: nothing later overrides them
        if edit.text is None:
            continue  # that file already says so, and the kubelet still lacks a flag: another file overrides it
        edited = [(path, edit.text if path == edit.path else text) for path, text in env_files]
        if _has_flags(unit, edited, flags):
            return edit
    raise InputError("no kubelet unit (kubelet.service) and no kubelet flag file found under the host root: "
                     "cannot set the kubelet's flags", hint="check --host-root")


def _has_flags(unit: kf.UnitSettings | None, env_files: Sequence[tuple[str, str | None]],
               flags: Mapping[str, str]) -> bool:
    words = kubelet_words(unit, env_files)
    return all(kf.flag_value(words, f) == v for f, v in flags.items())


def _candidates(unit: kf.UnitSettings | None, env_files: Sequence[tuple[str, str | None]],
                flags: Mapping[str, str]) -> list[FlagEdit]:
    env, origin = _environment(unit, env_files)
    texts = dict(env_files)
    exec_start = unit.exec_start if unit else None
    usable = _expanded(exec_start) if exec_start else set(kf.FLAG_VARIABLES)
    ordered = [n for n in kf.FLAG_VARIABLES if n in usable] + sorted(usable - set(kf.FLAG_VARIABLES))
    out = [_variable_edit(name, origin[name], texts, env, flags) for name in ordered if name in origin
           and any(kf.flag_value(kf.split_words(env[name]), f) is not None for f in flags)]
    if "KUBELET_EXTRA_ARGS" in usable:
        # a missing file only when the unit names it (systemd reads it at the next start); without a unit, a guess
        paths = [p for p in EXTRA_ARGS_FILES if texts.get(p) is not None]
        paths += [p for p in EXTRA_ARGS_FILES if p in texts and p not in paths] if exec_start else []
        if "KUBELET_EXTRA_ARGS" in origin:
            paths.insert(0, origin["KUBELET_EXTRA_ARGS"])  # the file whose value wins
        out.extend(_variable_edit("KUBELET_EXTRA_ARGS", p, texts, env, flags) for p in paths)
    if texts.get(kf.KUBEADM_FLAGS_ENV) is not None and "KUBELET_KUBEADM_ARGS" in usable:
        out.append(_variable_edit("KUBELET_KUBEADM_ARGS", kf.KUBEADM_FLAGS_ENV, texts, env, flags))
    if exec_start is not None:
        out.append(FlagEdit(REGCRED_FLAGS_DROPIN, dropin_text(with_flags(exec_start, flags)), None, True))
    return out


def _variable_edit(variable: str, path: str, texts: Mapping[str, str | None], env: Mapping[str, str],
                   flags: Mapping[str, str]) -> FlagEdit:
    value = with_flags(env.get(variable, ""), flags)
    return FlagEdit(path, set_variable(texts.get(path), variable, value), variable, False)


def without_flags(command: str, flags: Sequence[str]) -> str:
    for flag in flags:
        command = _flag_pattern(flag).sub("", command)
    return command.strip()


def plan_unset_flags(unit: kf.UnitSettings | None, env_files: Sequence[tuple[str, str | None]],
                     flags: Sequence[str], dropin: str | None) -> tuple[list[FlagEdit], str | None]:
    """The edits that take `flags` off the kubelet's command line, and where they stay when regcred cannot
    edit that (an ExecStart= that is not the one of regcred's drop-in, whose text is `dropin`)."""
    texts: dict[str, str | None] = dict(env_files)
    exec_start = unit.exec_start if unit else None
    usable = _expanded(exec_start) if exec_start else set(kf.FLAG_VARIABLES)
    changed: dict[str, str] = {}
    for path, text in env_files:
        current = changed.get(path, text)
        for name, value in kf.parse_env_file(current or "").items():
            if name in usable and any(kf.flag_value(kf.split_words(value), f) is not None for f in flags):
                current = set_variable(current, name, without_flags(value, flags)) or current
                changed[path] = current or ""
    edits = [FlagEdit(path, text, None, False) for path, text in changed.items() if text != texts.get(path)]
    if exec_start is not None and any(kf.flag_value(kf.split_words(exec_start), f) is not None for f in flags):
        ours = dropin is not None and kf.parse_units([(REGCRED_FLAGS_DROPIN, dropin)]).exec_start == exec_start
        if not ours:
            return edits, "ExecStart= of the kubelet's unit"
        edits.append(FlagEdit(REGCRED_FLAGS_DROPIN, None, None, True, remove=True))
    return edits, None
