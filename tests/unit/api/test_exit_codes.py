"""Exit codes are the CLI's: the error types carry none, and the CLI maps them to the documented codes."""

from __future__ import annotations

import pytest

import regcred
from regcred.cli.main import exit_code_for
from regcred.shells.kube.errors import KubeConflict, KubeUnreachable


@pytest.mark.parametrize(("error", "code"), [
    (regcred.OperationFailed("some namespaces failed"), 1),
    (KubeConflict("conflict", status=409), 1),  # an API write that failed is work that failed
    (regcred.InputError("bad flag"), 2),
    (regcred.ConfigFormatError("config.json", "not JSON"), 2),
    (regcred.ImageReferenceError("bad image"), 2),
    (regcred.NotFoundError("no such file"), 2),
    (regcred.SpecInvalid(["a: wrong", "b: wrong"]), 2),
    (KubeUnreachable("cannot connect"), 2),
    (regcred.RegcredError("anything else"), 2),
])
def test_the_cli_maps_error_types_to_exit_codes(error: regcred.RegcredError, code: int) -> None:
    assert exit_code_for(error) == code
    assert not hasattr(error, "exit_code")
