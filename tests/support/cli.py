"""Run the real `regcred` entry point in a subprocess: that is what proves exit codes and clean errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


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
