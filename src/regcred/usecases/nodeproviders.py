"""The node level of credential-provider plugins: `regcred node provider install` and the doctor's provider report.

The kubelet runs plugins named in a `CredentialProviderConfig` (`--image-credential-provider-config`) from
`--image-credential-provider-bin-dir`; the file transaction is `shells.nodeproviders`, the rules
`core.node.credproviders` and `core.node.flagsources`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from regcred.core.node import credproviders as cp


def parse_env(pairs: Sequence[str]) -> list[tuple[str, str]]:
    """`--env K=V` options as (name, value)."""
    from regcred.core.errors import InputError  # lazy: the error type only on the failing path

    out = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InputError(f"--env {pair!r}: expected NAME=VALUE")
        out.append((name, value))
    return out


def install_provider(host_root: str, *, name: str, match_images: Sequence[str], default_cache_duration: str,
                     api_version: str, args: Sequence[str], env: Sequence[str], config: str | None,
                     bin_dir: str | None, overwrite: bool, dry_run: bool) -> dict[str, Any]:
    """Add NAME to the kubelet's credential-provider config and set the kubelet's two flags (no restart)."""
    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells import nodeproviders

    obj = cp.provider_object(name, match_images, default_cache_duration, api_version, args, parse_env(env))
    cp.check_new_provider(obj)
    return nodeproviders.install_provider(nodeproviders.open_host_root(host_root), obj, config=config, bin_dir=bin_dir,
                                          overwrite=overwrite, dry_run=dry_run)


def remove_provider(host_root: str, name: str, *, dry_run: bool) -> dict[str, Any]:
    """Take NAME out of the kubelet's credential-provider config (and the flags with the last provider)."""
    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells import nodeproviders

    return nodeproviders.remove_provider(nodeproviders.open_host_root(host_root), name, dry_run=dry_run)
