"""Work on many namespaces: bounded concurrency, and a failure in one never stops the others."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from regcred.core.errors import RegcredError
from regcred.usecases.rows import RowStatus, TargetResult

DEFAULT_WORKERS = 8


def run_per_namespace(namespaces: Sequence[str], work: Callable[[str], list[TargetResult]], *,
                      workers: int = DEFAULT_WORKERS, what: str = "namespaces") -> list[TargetResult]:
    """Run `work` on each namespace with at most `workers` at once; a failure never stops the others.

    A RegcredError (or a bug) in one namespace becomes a `failed` row with its one-line message.
    Progress shows on a TTY (stderr) only; results come back in namespace order.
    """
    show = sys.stderr.isatty()
    results: dict[str, list[TargetResult]] = {}

    def guarded(ns: str) -> list[TargetResult]:
        try:
            return work(ns)
        except RegcredError as exc:
            from regcred.shells.kube.errors import NamespaceGone, NamespaceTerminating

            if isinstance(exc, NamespaceTerminating):
                return [TargetResult(ns, "", RowStatus.SKIPPED, "namespace is being terminated")]
            if isinstance(exc, NamespaceGone):
                return [TargetResult(ns, "", RowStatus.SKIPPED, "namespace was deleted during the run")]
            return [TargetResult(ns, "", RowStatus.FAILED, exc.line())]
        except Exception as exc:  # a bug must not stop the other namespaces, nor leak data
            return [TargetResult(ns, "", RowStatus.FAILED, f"internal error: {type(exc).__name__}")]

    if len(namespaces) <= 1 or workers <= 1:
        for ns in namespaces:
            results[ns] = guarded(ns)
    else:
        with ThreadPoolExecutor(max_workers=min(workers, len(namespaces))) as pool, \
                _progress(show, len(namespaces), what) as advance:
            futures = {pool.submit(guarded, ns): ns for ns in namespaces}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                advance()
    return [row for ns in namespaces for row in results[ns]]


class _progress:
    """A rich progress bar on stderr when asked, else nothing (imports rich only when shown)."""

    def __init__(self, show: bool, total: int, what: str) -> None:
        self.show, self.total, self.what = show, total, what
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[], None]:
        if self.show:
            from rich.console import Console
            from rich.progress import Progress

            self._bar = Progress(console=Console(stderr=True), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.what, total=self.total)
        return self.advance

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
