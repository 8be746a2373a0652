"""Run the real `regcred` entry point in a subprocess: that is what proves exit codes and clean errors."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def run_regcred(
    *args: str | Path,
    input: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """`python -m regcred ARGS` with stdin closed unless `input` is given."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("REGCRED_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "regcred", *map(str, args)],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def assert_clean_error(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """Exit `code`, one line on stderr starting with 'regcred: error:', containing every needle."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("regcred: error:")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def encoded_forms(value: str) -> set[str]:
    """`value` and its base64, alone and at each of the three byte alignments it can have inside a longer
    encoded document (a Secret's `.dockerconfigjson`, an `auth` of `user:value`)."""
    data = value.encode()
    out = {value, base64.b64encode(data).decode()}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data).decode()
        start = (shift + 2) // 3 * 4  # the first 4-character group made of `value`'s bytes only
        end = (shift + len(data)) // 3 * 4  # the last one
        if end - start >= 8:
            out.add(encoded[start:end])
    return out


def assert_no_secret(text: str, secrets: Iterable[str]) -> None:
    """No secret in `text`, neither as is nor base64-encoded (see `encoded_forms`)."""
    for secret in secrets:
        leaked = sorted(form for form in encoded_forms(secret) if form in text)
        assert not leaked, (secret, leaked, text)


def run_regcred_kube(
    kube: Any,
    *args: str | Path,
    input: str | None = None,
    env: dict[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> subprocess.CompletedProcess[str]:
    """`regcred ARGS --kubeconfig` of the `kube` backend; never a traceback, and neither the backend's bearer
    token nor any of `secrets` (in any base64 form) on stdout or stderr."""
    result = run_regcred(*args, "--kubeconfig", kube.kubeconfig, input=input, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    output = result.stdout + result.stderr
    assert kube.token not in output, output
    assert_no_secret(output, secrets)
    return result


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    """Exit 0 without a traceback, and stdout parsed as JSON."""
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)
