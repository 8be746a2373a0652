"""Fixtures of the node command tests."""

from __future__ import annotations

import errno
import os

import pytest

from regcred.shells import files as files_module


@pytest.fixture
def fail_replace(monkeypatch):
    """Make the rename onto a file of the given name fail with ENOSPC (a real I/O error, as on a full disk)."""
    real = os.replace

    def arm(name: str):
        def replace(src, dst, *a, **kw):
            if os.path.basename(dst) == name:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(src, dst, *a, **kw)

        monkeypatch.setattr(files_module.os, "replace", replace)

    return arm
