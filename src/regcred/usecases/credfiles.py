"""Edit a docker credential file the way `docker login` would, but safely: one entry changes, the rest stays.

Each change is a read-modify-write under the file's lock, written atomically with mode 0600 (`shells.credfile`).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

from regcred.core.credentials import dockerconfig
from regcred.core.credentials.dockerconfig import DockerConfig
from regcred.core.credentials.registrykey import index_key
from regcred.core.errors import InputError

Note = Callable[[str], None]


class Removal(StrEnum):
    REMOVED = "removed"
    NOT_FOUND = "not-found"  # the file has no entry for the key
    NO_FILE = "no-file"  # the file does not exist


def same_registry_keys(config: DockerConfig, server: str) -> list[str]:
    """Other keys in the file that the kubelet normalises to the same index key as `server`."""
    wanted = index_key(server)
    return [k for k in config.registry_keys() if k != server and index_key(k) == wanted]


def payload_from_file(path: Path) -> bytes:
    """The file's bytes, verbatim as kubectl copies them, after checking the kubelet could use them."""
    from regcred.core.credentials.dockerconfig import parse_config_json
    from regcred.shells.files import read_bytes

    data = read_bytes(path, what="credential file")
    config = parse_config_json(data, str(path))
    if not config.has_auths:
        raise InputError(
            f"{path}: has no 'auths' object: the kubelet would find no credentials in this Secret",
            hint="a .dockercfg-style file must be converted to the config.json layout",
        )
    return data


def add_credential(file: Path, server: str, username: str, password: str, email: str, note: Note) -> str:
    """Add or replace the entry for `server`; "added" or "replaced". Notes other keys meaning the same registry."""
    from regcred.shells import credfile

    outcome: dict[str, str] = {}

    def change(config: DockerConfig) -> dict[str, Any]:
        outcome["action"] = "replaced" if config.get(server) is not None else "added"
        for other in same_registry_keys(config, server):
            note(f"{file} also has {other!r}, which the kubelet treats as the same registry")
        return dockerconfig.with_entry(config, server, username, password, email)

    credfile.update(file, change)
    return outcome["action"]


def list_credentials(file: Path) -> list[dict[str, Any]]:
    """The entries of a credential file, without their passwords."""
    from regcred.shells import credfile

    return [{"key": e.key, "username": e.username, "email": e.email or None, "has_password": e.has_password}
            for e in credfile.load(file).entries]


def remove_credential(file: Path, server: str) -> Removal:
    """Remove the entry for `server`, keeping everything else."""
    from regcred.shells import credfile

    if not file.exists():
        return Removal.NO_FILE
    found: list[bool] = []

    def change(config: DockerConfig) -> dict[str, Any] | None:
        if config.get(server) is None:
            return None
        found.append(True)
        return dockerconfig.without_entry(config, server)

    credfile.update(file, change)
    return Removal.REMOVED if found else Removal.NOT_FOUND


