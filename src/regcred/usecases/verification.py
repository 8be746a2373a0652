"""Verify credentials against their registries: login, pull of each repository, and no push rights.

The requests come from a docker config file, pull Secrets in manifests, or the command line; one check runs
per distinct registry and credential (`core.verify.plan.plan_checks`), concurrently, and each key gets one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regcred.core.credentials.keyring import Credential
from regcred.core.credentials.source import CredentialSource
from regcred.core.errors import InputError
from regcred.core.verify.hosts import registry_of_key
from regcred.core.verify.plan import CheckRequest, Target, plan_checks, row_json
from regcred.core.verify.repository import RepositoryRef, repositories_for
from regcred.core.verify.results import CheckResult

PullOutcome = tuple[bool, str | None]  # pull allowed, and the registry's reason when not


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """How to talk to the registries."""

    ca_file: Path | None = None
    insecure_http: bool = False
    timeout: float = 10.0
    probe_upload: bool = False
    concurrency: int = 8


def request_for(key: str, username: str, password: str, refs: list[RepositoryRef],
                source: CredentialSource) -> CheckRequest:
    """The check of one credential, on the repositories given for its registry (none: the login only)."""
    try:
        chosen = tuple(repositories_for(registry_of_key(key), refs))
    except InputError:
        chosen = ()
    return CheckRequest(Credential(key, username, password, source=source.label), chosen)


def requests_from_file(path: Path, refs: list[RepositoryRef]) -> list[CheckRequest]:
    """One request per entry of a docker config file."""
    from regcred.shells import credfile  # lazy: the shell's I/O stack loads only on the path that uses it

    config = credfile.load(path)
    source = CredentialSource.file(str(path))
    return [request_for(e.key, e.username, e.password, refs, source) for e in config.entries]


def requests_from_secrets(paths: tuple[str, ...], refs: list[RepositoryRef]) -> list[CheckRequest]:
    """One request per entry of every pull Secret the kubelet would use in these manifests."""
    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells.manifests import read_pull_secrets

    return [
        request_for(e.key, e.username, e.password, refs, CredentialSource.secret(secret.namespace, secret.name))
        for secret in read_pull_secrets(paths)
        if secret.config is not None
        for e in secret.config.entries
    ]


def run_checks(requests: list[CheckRequest], options: CheckOptions) -> list[dict[str, Any]]:
    """Plan (one check per distinct registry+credential), run concurrently, render one row per key."""
    targets, rows = plan_checks(requests)
    results = _verify_targets(targets, options)
    return [row_json(row, results) for row in rows]


def check_anonymous(refs: dict[str, list[RepositoryRef]], options: CheckOptions) -> dict[tuple[str, str], PullOutcome]:
    """Whether each repository (registry, label) may be pulled without credentials, and the reason if not: the
    verify flow with an empty credential (core.verify.authflow), one check per registry."""
    targets = [Target(registry, "", "", tuple(dict.fromkeys(repos))) for registry, repos in refs.items()]
    outcomes: dict[tuple[str, str], PullOutcome] = {}
    for target, result in zip(targets, _verify_targets(targets, options), strict=True):
        general = [e for e in result.errors if not e.startswith("pull ")]
        for repo in target.repositories:
            if result.pull.get(repo.label):
                outcomes[(target.registry, repo.label)] = (True, None)
                continue
            own = [e for e in result.errors if e.startswith(f"pull {repo.label}: ")]
            outcomes[(target.registry, repo.label)] = (False, "; ".join(own + general) or "pull not allowed")
    return outcomes


def _verify_targets(targets: list[Target], options: CheckOptions) -> list[CheckResult]:
    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells.registry import RegistryClient, VerifyOptions

    verify_options = VerifyOptions(ca_file=options.ca_file, insecure_http=options.insecure_http,
                                   timeout=options.timeout, probe_upload=options.probe_upload,
                                   concurrency=options.concurrency)
    with RegistryClient(verify_options) as client:
        return client.verify_all(targets)
