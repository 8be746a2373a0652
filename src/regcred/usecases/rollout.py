"""verifyBeforeRollout: a namespace's copy of a pull Secret is replaced only by credentials the registry accepts.

Why at the replacement and not at the creation: the copy in place may still work (a plugin's previous token
until it expires, an old password the registry still takes), while a new credential the registry refuses would
break every pull at once; creating a copy where there is none loses nothing, and keeps the webhook's synchronous
create fast. The check is `regcred verify`'s (`usecases.verification.run_checks`): the login, and the pull of the
repository the spec names (a credentialProvider's `image`). A 404 on that pull is no refusal: the registry
authorised the request and only lacks the tag.

One check per distinct credential for every namespace: a verdict is kept under a hash of registry key, user,
password and repositories (the password itself is never kept), a refusal for `refused_for` seconds (so a broken
credential does not send one login per namespace to the registry), an acceptance for `accepted_for` seconds.
Checks of one credential are serialised, so concurrent namespaces share one.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from regcred.core.credentials.source import CredentialSource
from regcred.core.errors import InputError
from regcred.core.spec.model import RegistryCredential
from regcred.core.spec.planner import DesiredCredential
from regcred.core.verify.hosts import registry_of_key
from regcred.core.verify.plan import CheckRequest
from regcred.core.verify.repository import RepositoryRef, parse_repository_option
from regcred.core.verify.results import status_reason
from regcred.usecases.verification import CheckOptions, request_for, run_checks

Checker = Callable[[list[CheckRequest], CheckOptions], list[dict[str, Any]]]
ACCEPTED_FOR = 300.0  # seconds an accepted credential is not checked again
REFUSED_FOR = 10.0  # seconds a refusal is repeated without asking the registry (the plugin cache's floor)
HELD_MARK = "(verifyBeforeRollout)"  # ends every held update's line


def is_held(message: str) -> bool:
    """Whether a failed row is an update the gate held (the controller records an Event for those)."""
    return message.endswith(HELD_MARK)


@dataclass(frozen=True, slots=True)
class _Verdict:
    refusal: str | None  # None: accepted
    until: float  # time.monotonic()


def spec_repositories(spec: RegistryCredential) -> list[RepositoryRef]:
    """The repositories a pull check may use: each credentialProvider's `image` (other sources name none)."""
    refs = []
    for registry in spec.registries:
        if registry.credential_provider is not None:
            try:
                refs.append(parse_repository_option(registry.credential_provider.image))
            except InputError:
                continue  # an image without a repository path (the server itself): the login only
    return refs


def refusal_of(row: dict[str, Any]) -> str | None:
    """Why a verify row refuses the credential for a rollout (None: it may be rolled out)."""
    ignored = {status_reason(404, what=f"pull {label}") for label in row["pull"]}
    errors = [e for e in (row["error"] or "").split("; ") if e and e not in ignored and not e.startswith("over-")]
    if row["login"] and not errors:
        return None
    reason = "; ".join(errors) or "the login failed"
    if not row["reachable"]:
        return f"the new credentials for {row['key']} could not be checked ({reason})"
    return f"the registry refused the new credentials for {row['key']} ({reason})"


def _contactable(key: str) -> bool:
    """A key names one registry to ask (a glob such as *.example.com names none: it cannot be checked)."""
    try:
        registry_of_key(key)
    except InputError:
        return False
    return True


class RolloutGate:
    """Decides whether planned Secret updates may replace the copies in place; thread-safe."""

    def __init__(self, options: CheckOptions | None = None, *, accepted_for: float = ACCEPTED_FOR,
                 refused_for: float = REFUSED_FOR, check: Checker = run_checks,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options or CheckOptions()
        self.accepted_for, self.refused_for = accepted_for, refused_for
        self.check, self.clock = check, clock
        self.checks = 0  # verifications sent to registries
        self._verdicts: dict[str, _Verdict] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def refusal(self, desired: DesiredCredential, keys: Collection[str]) -> str | None:
        """None when the credentials of these registry keys may replace a copy (or the spec does not ask for a
        check); else one line saying which registry refused what, and that the copy in place is kept."""
        if not desired.spec.verify_before_rollout:
            return None
        refs = spec_repositories(desired.spec)
        source = CredentialSource.secret(None, desired.spec.secret_name)
        for entry in desired.config.entries:
            if entry.key in keys and _contactable(entry.key):
                found = self._verdict(request_for(entry.key, entry.username, entry.password, refs, source))
                if found is not None:
                    return f"not replaced: {found}; the copy in place is kept {HELD_MARK}"
        return None

    def _verdict(self, request: CheckRequest) -> str | None:
        cred = request.credential
        digest = hashlib.sha256(json.dumps([cred.key, cred.username, cred.password,
                                            [r.label for r in request.repositories]]).encode()).hexdigest()
        with self._lock:
            lock = self._locks.setdefault(digest, threading.Lock())
        with lock:  # one check per credential at a time: the other namespaces wait for its verdict
            known = self._verdicts.get(digest)
            if known is not None and self.clock() < known.until:
                return known.refusal
            with self._lock:
                self.checks += 1
            rows = self.check([request], self.options)
            refusal = refusal_of(rows[0]) if rows else None
            ttl = self.accepted_for if refusal is None else self.refused_for
            with self._lock:
                self._verdicts[digest] = _Verdict(refusal, self.clock() + ttl)
                now = self.clock()
                for stale in [k for k, v in self._verdicts.items() if v.until <= now and not self._locks[k].locked()]:
                    del self._verdicts[stale], self._locks[stale]
            return refusal
