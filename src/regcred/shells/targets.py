"""Work on many namespaces: one result row per object, bounded concurrency, a failure never stops the others.

Shared by the commands (`sa`, `secret create`, `workload`) and the spec shell (`apply`): the rows they
return are what `report` prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from regcred.core.errors import RegcredError

DEFAULT_WORKERS = 8
WRITE_ATTEMPTS = 5  # conditional writes retried on 409 (read again, plan again) before giving up


@dataclass
class TargetResult:
    """One row of a summary: what happened to one object (or one namespace)."""

    namespace: str
    name: str
    status: str  # e.g. created, updated, unchanged, attached, detached, skipped, failed, would-...
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def as_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name, "status": self.status,
                "message": self.message, **self.extra}


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
            # lazy: loads httpx, lightkube
            from regcred.shells.kube.errors import NamespaceGone, NamespaceTerminating

            if isinstance(exc, NamespaceTerminating):
                return [TargetResult(ns, "", "skipped", "namespace is being terminated")]
            if isinstance(exc, NamespaceGone):
                return [TargetResult(ns, "", "skipped", "namespace was deleted during the run")]
            return [TargetResult(ns, "", "failed", exc.line())]
        except Exception as exc:  # a bug must not stop the other namespaces, nor leak data
            return [TargetResult(ns, "", "failed", f"internal error: {type(exc).__name__}")]

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
            from rich.console import Console  # lazy: rich costs ~8 ms, only for progress on a TTY
            from rich.progress import Progress  # lazy: as above

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


def skipped_rows(skipped: dict[str, str]) -> list[TargetResult]:
    return [TargetResult(ns, "", "skipped", reason) for ns, reason in sorted(skipped.items())]


def summarize(rows: Sequence[TargetResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return dict(sorted(counts.items()))
