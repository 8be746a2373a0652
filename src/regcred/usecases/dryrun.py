"""The dry-run mode of a command that writes, as kubectl spells it."""

from __future__ import annotations

from enum import StrEnum


class DryRun(StrEnum):
    """none: write; client: send nothing, say what would change; server: send every write with dryRun=All."""

    NONE = "none"
    CLIENT = "client"
    SERVER = "server"

    @property
    def sends_nothing(self) -> bool:
        return self is DryRun.CLIENT

    @property
    def on_server(self) -> bool:
        return self is DryRun.SERVER

    @property
    def changes_nothing(self) -> bool:
        return self is not DryRun.NONE
