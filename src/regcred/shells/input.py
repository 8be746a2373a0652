"""Every byte regcred reads from a file or stdin comes through here: regular files only, and bounded.

- Only regular files: a FIFO, a device (`/dev/zero`), a socket or a directory is refused before a
  byte is read. The file is opened with O_NONBLOCK and checked again with fstat on the open
  descriptor, so neither a FIFO swapped in after the check nor a writer-less FIFO can block the read.
- A size cap (REGCRED_MAX_INPUT_BYTES, default 64 MiB; suffixes K, M, G for KiB, MiB, GiB): a bigger
  file or stdin stream is refused with one line instead of growing in memory until MemoryError.
- Stdin (`-`, `--password-stdin`) is read up to the same cap.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

from regcred.core.errors import InputError, NotFoundError

MAX_INPUT_ENV = "REGCRED_MAX_INPUT_BYTES"
DEFAULT_MAX_INPUT = 64 * 1024 * 1024
_SIZE = re.compile(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def max_input_bytes() -> int:
    """The size cap for one input, from REGCRED_MAX_INPUT_BYTES (bad values are bad input)."""
    raw = os.environ.get(MAX_INPUT_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_MAX_INPUT
    match = _SIZE.fullmatch(raw)
    if match is None or int(match.group(1)) == 0:
        raise InputError(f"{MAX_INPUT_ENV}={raw!r} is not a size", hint="give bytes, or a number with K, M or G")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def _human(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def _too_big(shown: str, what: str, cap: int) -> InputError:
    return InputError(f"{shown}: the {what} is larger than regcred's input limit of {_human(cap)}",
                      hint=f"set {MAX_INPUT_ENV} to a bigger size to read it")


def _not_regular(shown: str, what: str, mode: int) -> InputError:
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return InputError(f"{shown}: is {kind}, expected a {what}", hint="regcred reads regular files only")


def read_file(path: Path, *, what: str = "file", shown: str | None = None) -> bytes:
    """A regular file's bytes, up to the cap; missing, non-regular, too big or unreadable is one line.

    `shown` names the file in messages (a node's own path rather than the host-root path).
    """
    shown = str(path) if shown is None else shown
    cap = max_input_bytes()
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):  # refused before open: opening a device can have effects
            raise _not_regular(shown, what, st.st_mode)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFoundError(f"{shown}: no such {what}", hint="check the path") from None
    except PermissionError:
        raise InputError(f"{shown}: permission denied reading the {what}") from None
    except OSError as exc:
        raise InputError(f"{shown}: cannot read the {what}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped between stat and open
            raise _not_regular(shown, what, st.st_mode)
        if st.st_size > cap:
            raise _too_big(shown, what, cap)
        data = _read_up_to(fd, cap + 1)
    except OSError as exc:
        raise InputError(f"{shown}: cannot read the {what}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > cap:  # it grew while being read
        raise _too_big(shown, what, cap)
    return data


def read_optional_file(path: Path, *, what: str = "file", shown: str | None = None) -> bytes | None:
    """Like read_file, but a missing file is None."""
    try:
        return read_file(path, what=what, shown=shown)
    except NotFoundError:
        return None


def read_stdin(*, what: str = "input") -> bytes:
    """Standard input up to the cap (more is refused; a TTY is read until end of file, as cat does)."""
    cap = max_input_bytes()
    stream = sys.stdin.buffer if sys.stdin is not None else None
    if stream is None:
        return b""
    data = stream.read(cap + 1)
    if len(data) > cap:
        raise _too_big("<stdin>", what, cap)
    return data


def _read_up_to(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(limit - size, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
