"""Where a credential came from: a file, a Secret, a node's credential file, or the command line.

Results and findings name a credential's source (never its value); the printed label is a stable part of
the JSON outputs, so it is built here, once, from typed data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SourceKind(StrEnum):
    FILE = "file"  # a docker config file given by path
    SECRET = "secret"  # a kubernetes.io/dockerconfigjson (or dockercfg) Secret
    NODE = "node"  # a node's credential file, as the kubelet reads it
    COMMAND_LINE = "command line"  # SERVER --username and a password option


@dataclass(frozen=True, slots=True)
class CredentialSource:
    """A credential's origin; `label` is how outputs name it."""

    kind: SourceKind
    path: str = ""  # file, node
    namespace: str | None = None  # secret (None: a manifest without one)
    name: str = ""  # secret

    @classmethod
    def file(cls, path: str) -> CredentialSource:
        return cls(SourceKind.FILE, path=path)

    @classmethod
    def secret(cls, namespace: str | None, name: str) -> CredentialSource:
        return cls(SourceKind.SECRET, namespace=namespace, name=name)

    @classmethod
    def node(cls, path: str) -> CredentialSource:
        return cls(SourceKind.NODE, path=path)

    @classmethod
    def command_line(cls) -> CredentialSource:
        return cls(SourceKind.COMMAND_LINE)

    @property
    def label(self) -> str:
        if self.kind is SourceKind.SECRET:
            return f"secret {self.namespace}/{self.name}" if self.namespace else f"secret {self.name}"
        if self.kind is SourceKind.NODE:
            return f"NodeConfig/{self.path}"  # audit's object name for the node file
        if self.kind is SourceKind.COMMAND_LINE:
            return "command line"
        return self.path

    def __str__(self) -> str:
        return self.label
