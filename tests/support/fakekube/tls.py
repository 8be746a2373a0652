"""The fake apiserver's serving certificate for 127.0.0.1 (generated once per process).

Why: real apiservers only speak HTTPS, and client-go-based tools (kubectl) refuse to send a
bearer token over plain HTTP; serving TLS also exercises the product's CA handling.
"""

from __future__ import annotations

import threading

from regcred.localregistry.tls import Pki, generate_pki

__all__ = ["Pki", "shared_pki"]

_lock = threading.Lock()
_cached: Pki | None = None


def shared_pki() -> Pki:
    """One PKI per test process (key generation is the slow part)."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = generate_pki("kube-apiserver", days=7)
        return _cached
