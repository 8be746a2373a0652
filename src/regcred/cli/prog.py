"""The program's name as the user called it, for error lines: `regcred`, or `kubectl regcred` as a plugin."""

from __future__ import annotations

import os
import sys


def prog_name() -> str:
    return "kubectl regcred" if os.path.basename(sys.argv[0]).startswith("kubectl-") else "regcred"
