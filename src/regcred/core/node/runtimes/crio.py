"""CRI-O's runtime-level credentials: `global_auth_file` in `[crio.image]`, set through a drop-in.

CRI-O pulls the pause image and credential-less pulls with the file `global_auth_file` names
(docs/concepts/kubelet-rules.md#cri-o), which can be the kubelet's own config.json: regcred points it there
with a drop-in of its own instead of editing crio.conf.
"""

from __future__ import annotations

from collections.abc import Sequence

from regcred.core.node.runtimes.common import CRIO, RuntimeFacts, get_path, parse_toml

CRIO_CONFIG = "/etc/crio/crio.conf"
CRIO_DROPIN_DIR = "/etc/crio/crio.conf.d"
CRIO_DROPIN = "/etc/crio/crio.conf.d/90-regcred-auth.conf"


def crio_facts(files: Sequence[tuple[str, str]]) -> RuntimeFacts:
    """Effective `[crio.image]` settings from crio.conf then its drop-ins (lexical order, later wins)."""
    settings: dict[str, str] = {}
    for path, text in files:
        image = get_path(parse_toml(text, path), ["crio", "image"]) or {}
        for key in ("global_auth_file", "pause_image", "pause_image_auth_file"):
            if key in image:
                settings[key] = str(image[key])
    notes = []
    if settings.get("pause_image_auth_file"):
        notes.append(f"pause_image_auth_file = {settings['pause_image_auth_file']} is used for the pause image")
    return RuntimeFacts(
        CRIO,
        files[0][0] if files else None,
        settings.get("pause_image") or None,
        (),
        settings.get("pause_image_auth_file") or settings.get("global_auth_file") or None,
        tuple(notes),
    )


def crio_dropin(auth_file: str) -> str:
    """A CRI-O drop-in pointing `global_auth_file` at the kubelet's credential file."""
    return (
        "# Written by regcred: CRI-O pulls the pause image and credential-less pulls with this auth file,\n"
        "# the same file the kubelet reads. Remove this file to undo.\n"
        f'[crio.image]\nglobal_auth_file = "{auth_file}"\n'
    )
