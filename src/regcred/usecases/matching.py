"""Which credentials the kubelet would try for an image, in order: the pod's Secrets first, then the node file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from regcred.core.credentials.keyring import Credential

Note = Callable[[str], None]


def credentials_for_image(repository: str, *, node_files: Sequence[Path], secret_files: Sequence[str],
                          note: Note) -> list[Credential]:
    """The credentials tried for a normalised repository, in the kubelet's order.

    `node_files` are searched as the kubelet does (the first valid file wins, files are never merged);
    `secret_files` hold the pod's pull Secrets in the order the pod lists them. Keys the kubelet skips
    (not a valid URL) are noted.
    """
    from regcred.core.credentials.keyring import build_keyring, lookup_pull_credentials
    from regcred.shells.clusterdump import node_keyring
    from regcred.shells.manifests import read_pull_secrets

    pods = build_keyring((s.config, s.source) for s in read_pull_secrets(tuple(secret_files)) if s.config is not None)
    node, _ = node_keyring(node_files, note, as_node=False)
    for ring in (pods, node):
        for skipped in ring.skipped:
            note(f"{skipped.source}: registry {skipped.key!r} is not a valid URL; the kubelet skips it")
    return lookup_pull_credentials(repository, pods, node)
