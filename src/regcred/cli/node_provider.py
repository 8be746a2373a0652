"""`regcred node provider`: the kubelet's credential-provider plugins (CredentialProviderConfig and its flags).

The work is `regcred.usecases.nodeproviders`; this module parses, calls it and prints.
"""

from __future__ import annotations

from typing import Any

import click

from regcred.cli.options import output_option
from regcred.cli.output import emit
from regcred.core.errors import OperationFailed
from regcred.core.node import credproviders as cp


@click.group("provider")
def provider() -> None:
    """Configure the kubelet's credential-provider plugins (short-lived registry tokens, e.g. ECR, GCR, ACR)."""


@provider.command("install")
@click.option("--name", required=True, help="The plugin: its executable's file name in the bin dir.")
@click.option("--match-image", "match_images", multiple=True, required=True, metavar="GLOB",
              help="An image pattern the plugin is asked for ([host[:port]][/path]; '*' matches one host label). "
                   "Repeat for several.")
@click.option("--default-cache-duration", default="12h", show_default=True,
              help="How long the kubelet caches a token when the plugin names no cacheDuration (0s: never).")
@click.option("--api-version", type=click.Choice(list(cp.PLUGIN_API_VERSIONS)), default=cp.PLUGIN_API_VERSIONS[0],
              show_default=True, help="The CredentialProviderRequest/Response version the plugin speaks.")
@click.option("--arg", "args", multiple=True, help="An argument passed to the plugin (repeat for several).")
@click.option("--env", "env", multiple=True, metavar="NAME=VALUE", help="An environment variable for the plugin.")
@click.option("--config", metavar="PATH",
              help=f"The kubelet's --image-credential-provider-config (default: its current value, else "
                   f"{cp.DEFAULT_CONFIG}).")
@click.option("--bin-dir", metavar="DIR",
              help=f"The kubelet's --image-credential-provider-bin-dir (default: its current value, else "
                   f"{cp.DEFAULT_BIN_DIR}).")
@click.option("--host-root", default="/", show_default=True, metavar="DIR",
              help="Where the node's / is (e.g. /host in a pod that mounts it).")
@click.option("--overwrite", is_flag=True, help="Replace a provider of the same name that regcred did not write.")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@output_option("table", "json")
def install(name: str, match_images: tuple[str, ...], default_cache_duration: str, api_version: str,
            args: tuple[str, ...], env: tuple[str, ...], config: str | None, bin_dir: str | None, host_root: str,
            overwrite: bool, dry_run: bool, output: str) -> None:
    """Add a plugin to the kubelet's CredentialProviderConfig and set the kubelet's flags (restart it after)."""
    # lazy: the use case loads when the command runs
    from regcred.usecases.nodeproviders import install_provider

    result = install_provider(host_root, name=name, match_images=match_images,
                              default_cache_duration=default_cache_duration, api_version=api_version, args=args,
                              env=env, config=config, bin_dir=bin_dir, overwrite=overwrite, dry_run=dry_run)
    emit(result, output, _install_table(result))
    for warning in result["warnings"]:
        click.echo(f"warning: {warning}", err=True)


def _install_table(result: dict[str, Any]) -> str:
    verb = "would be " if result["dry_run"] else ""
    action = result["action"]
    lines = [f"provider {result['provider']}: {verb if action != 'unchanged' else ''}{action} in {result['config']}",
             f"plugin directory: {result['bin_dir']}"]
    flags = result["flags"]
    where = f"{flags['variable']} in {flags['path']}" if flags["variable"] else flags["path"]
    if flags["changed"]:
        lines.append(f"kubelet flags {cp.CONFIG_FLAG} and {cp.BIN_DIR_FLAG}: {verb}set in {where}")
    else:
        lines.append("kubelet flags: already set")
    if result["restart_needed"]:
        reload = "systemctl daemon-reload, then " if flags["daemon_reload"] else ""
        lines.append(f"restart needed: {reload}systemctl restart kubelet (the kubelet reads both only at start)")
    else:
        lines.append("no change")
    return "\n".join(lines)


@provider.command("remove")
@click.argument("name")
@click.option("--host-root", default="/", show_default=True, metavar="DIR", help="Where the node's / is.")
@click.option("--ignore-not-found", is_flag=True, help="Succeed when the kubelet has no provider NAME.")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@output_option("table", "json")
def remove(name: str, host_root: str, ignore_not_found: bool, dry_run: bool, output: str) -> None:
    """Remove plugin NAME from the kubelet's config; with the last one, the config file and both flags go."""
    # lazy: the use case loads when the command runs
    from regcred.usecases.nodeproviders import remove_provider

    result = remove_provider(host_root, name, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    lines = [f"{verb} provider {name} from {result['config']}" if result["removed"]
             else f"no provider {name} in the kubelet's credential-provider config"]
    if result["config_removed"]:
        lines.append(f"{verb} {result['config']} (no provider left)")
    lines.extend(f"{verb} the kubelet's credential-provider flags from {path}" for path in result["flags"])
    if result["restart_needed"]:
        reload = "systemctl daemon-reload, then " if result["daemon_reload"] else ""
        lines.append(f"restart needed: {reload}systemctl restart kubelet")
    emit(result, output, "\n".join(lines))
    if not result["removed"] and not ignore_not_found:
        raise OperationFailed(f"no provider {name!r} in the kubelet's credential-provider config",
                              hint="see regcred node doctor")
