"""`regcred node doctor`: walk the kubelet's node-credential search on a node and name every problem.

The work is `regcred.usecases.nodedoctor`; this module parses, calls it and prints.
"""

from __future__ import annotations

from typing import Any

import click

from regcred.cli.options import output_option
from regcred.cli.output import emit, render_table
from regcred.core.errors import OperationFailed


@click.command("doctor")
@click.argument("images", nargs=-1, metavar="[IMAGE]...")
@click.option("--host-root", default="/", show_default=True, metavar="DIR", help="Where the node's / is.")
@click.option("--root-dir", metavar="DIR", help="The kubelet's --root-dir (default: read from its flags).")
@click.option("--kubelet-home", metavar="DIR", help="The kubelet's HOME (default: from its unit/env files; unset).")
@click.option("--kubelet-cwd", metavar="DIR", help="The kubelet's working directory (default: WorkingDirectory= or /).")
@output_option("table", "json")
def doctor(images: tuple[str, ...], host_root: str, root_dir: str | None, kubelet_home: str | None,
           kubelet_cwd: str | None, output: str) -> None:
    """Show which credential file the kubelet uses, what it shadows, and every problem (exit 1 if any)."""
    from regcred.usecases.nodedoctor import diagnose_node  # lazy: the use case loads when the command runs

    result, settings = diagnose_node(host_root, root_dir, images, kubelet_home=kubelet_home, kubelet_cwd=kubelet_cwd)
    emit(result, output, _table(result, settings))
    if result["problems"]:
        raise OperationFailed(f"node doctor found {len(result['problems'])} problem(s)", hint="each one names its fix")


def _table(result: dict[str, Any], settings: Any) -> str:
    home = result["home"] or f"unset (kubelet user {settings.user}, home {settings.user_home})"
    head = [f"kubelet root dir: {result['root_dir']} (from {result['root_dir_source']})",
            f"kubelet HOME: {home}    working directory: {result['cwd']}", ""]
    rows = [[c["path"], c["status"], ", ".join(c["registries"]) or "-", c["mode"] or "-"] for c in result["candidates"]]
    lines = [*head, render_table(["path", "status", "registries", "mode"], rows), ""]
    lines.append(f"used: {result['used'] or 'none (no node credentials)'}")
    cp = result["credential_providers"]
    if cp["config"] or cp["bin_dir"]:
        lines.append(f"credential providers: config {cp['config'] or '-'} (from {cp['config_source'] or '-'}), "
                     f"bin dir {cp['bin_dir'] or '-'}")
        lines.extend(f"  provider {p['name']}: matchImages {', '.join(p['match_images'])}"
                     f"{'' if p['present'] else ' (executable missing)'}" for p in cp["providers"])
    for img in result["images"]:
        creds = ", ".join(f"{c['key']} (user {c['username']})" for c in img["credentials"])
        if not cp["providers"]:
            lines.append(f"image {img['image']}: {creds or 'none: anonymous pull'}")
            continue
        asked = ", ".join(f"{p['name']} ({p['matched']})" for p in img["providers"]) or "none"
        lines.append(f"image {img['image']}: node file: {creds or 'none'}; providers asked: {asked}; "
                     f"uses {img['uses']} first (after any matching pod Secret)")
    rt = result["runtime"]
    if rt["name"]:
        has = {True: "has credentials", False: "no runtime credentials", None: "-"}[rt["registry_has_credentials"]]
        lines.append(f"runtime: {rt['name']}  sandbox image: {rt['sandbox_image'] or 'default'}  ({has})")
    lines.extend(f"note: {n}" for n in result["notes"] + rt["notes"] + cp["notes"])
    if result["problems"]:
        lines.append(f"{len(result['problems'])} problem(s):")
        lines.extend(f"  - {p}" for p in result["problems"])
    else:
        lines.append("no problems found")
    return "\n".join(lines)

