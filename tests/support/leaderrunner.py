"""One LeaseElector in its own process, for the two-replica tests: prints `leading` and `stopped` (flushed).

Usage: python -m tests.support.leaderrunner KUBECONFIG NAMESPACE NAME LEASE RENEW RETRY
SIGTERM and SIGINT set the stop event as the controller's manager does, so the Lease is released; a lost
lease ends the process with exit code 1, as controller-runtime does.
"""

from __future__ import annotations

import signal
import sys
import threading

from regcred.controller.leader import LeaseElector, default_identity
from regcred.shells.kube.client import ClusterConfig, connect


def main(argv: list[str]) -> int:
    kubeconfig, namespace, name, lease, renew, retry = argv
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    identity = default_identity()
    elector = LeaseElector(connect(ClusterConfig(kubeconfig=kubeconfig)), namespace=namespace, name=name,
                           identity=identity, lease_duration=float(lease), renew_deadline=float(renew),
                           retry_period=float(retry))
    print(f"identity {identity}", flush=True)
    elector.run(on_started_leading=lambda: print("leading", flush=True),
                on_stopped_leading=lambda: print("stopped", flush=True), stop=stop)
    return 0 if stop.is_set() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
