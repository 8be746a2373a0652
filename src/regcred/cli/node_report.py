"""What `regcred node install` and `node remove` print: the table form of their JSON results (never a secret)."""

from __future__ import annotations

from typing import Any


def install_table(result: dict[str, Any], settings: Any) -> str:
    verb = "would be " if result["dry_run"] else ""
    lines = [f"{result['path']}  (kubelet root dir {settings.root_dir}, from {settings.root_dir_source})"]
    for label in ("added", "replaced", "removed", "skipped"):
        for key in result[label]:
            lines.append(f"  {verb}{label:<9} {key}" if label != "skipped" else
                         f"  skipped   {key} (has other credentials, left as is)")
    if result["kept"]:
        lines.append(f"  kept      {len(result['kept'])} entr{'y' if len(result['kept']) == 1 else 'ies'} unchanged")
    if not result["changed"]:
        lines.append("  no change to the file")
    if result["backup"]:
        lines.append(f"backup of the previous file: {result['backup']}")
    if result["home"] and result["home"]["changed"]:
        lines.append(f"{verb}set {result['home']['set']} in {result['home']['path']}")
    rt = result["runtime"]
    written = [*rt["added"], *rt["replaced"]]
    in_step = [h for h in rt["hosts"] if h not in written]
    if written:
        lines.append(f"runtime {rt['name']}: {rt['config']} {verb}updated for {', '.join(written)}")
    if in_step:
        lines.append(f"runtime {rt['name']}: {rt['config']} already up to date for {', '.join(in_step)}")
    if rt["removed"]:
        removal = "would remove" if result["dry_run"] else "removed"
        lines.append(f"runtime {rt['name']}: {removal} regcred's {', '.join(rt['removed'])} from {rt['config']}")
    lines.extend(f"runtime {rt['name']}: skipped {h} (has other auth, left as is)" for h in rt["skipped"])
    lines.extend(f"note: {n}" for n in rt["notes"])
    if result["restart_needed"]:
        lines.append(f"restart needed: {', '.join(result['restart_needed'])}")
    elif result["changed"]:
        lines.append("the kubelet re-reads this file within 5 minutes; no restart needed")
    return "\n".join(lines)


def remove_table(result: dict[str, Any], server: str) -> str:
    verb = "would remove" if result["dry_run"] else "removed"
    lines = [f"{verb} {server} from {result['path']}" if result["removed"]
             else f"no entry for {server} in {result['path']}"]
    rt = result["runtime"]
    if rt["changed"]:
        lines.append(f"{verb} the {rt['name']} credential for {', '.join(rt['hosts'])} from {rt['config']}")
    lines.extend(f"note: {n}" for n in rt["notes"])
    if result["restart_needed"]:
        lines.append(f"restart needed: {', '.join(result['restart_needed'])}")
    return "\n".join(lines)


def is_quiet(result: dict[str, Any]) -> bool:
    """Nothing changed anywhere and nothing to warn about: `node install --quiet` prints nothing, so the
    DaemonSet's unchanged rounds leave no log."""
    home = result["home"] or {}
    return not (result["changed"] or result["runtime"]["changed"] or home.get("changed") or result["warnings"])
