"""Error types: what went wrong, as one clear line.

Every message names *what* and *where* and, when there is one, *how to fix it*; none ever contains a secret.
Exit codes are not here: they are the CLI's contract (`regcred.cli.main.exit_code_for`), and a library
caller has none.
"""

from __future__ import annotations


class RegcredError(Exception):
    """Base of every error regcred reports to a user: `message`, an optional `hint`, and `line()`."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def line(self) -> str:
        """The single line shown to the user."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(RegcredError):
    """Bad input: a file, a manifest, a flag value."""


class ConfigFormatError(InputError):
    """A docker credential file or payload that the kubelet could not use."""

    def __init__(self, source: str, reason: str, *, key: str | None = None, hint: str | None = None) -> None:
        where = f"{source}: registry {key!r}" if key is not None else source
        super().__init__(f"{where}: {reason}", hint=hint)
        self.source = source
        self.key = key
        self.reason = reason


class ImageReferenceError(InputError):
    """An image reference the container runtime would refuse."""


class NotFoundError(InputError):
    """A file or object the user named does not exist."""


class OperationFailed(RegcredError):
    """Work was attempted and some of it failed (for example some namespaces of an `sa attach`)."""
