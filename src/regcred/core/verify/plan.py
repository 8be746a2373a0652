"""Which checks a verification runs: each distinct (registry, username, password) once, however many keys
or sources name it, and one output row per key answered by its check's result (or a planning error)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from regcred.core.credentials.keyring import Credential
from regcred.core.errors import InputError
from regcred.core.verify.hosts import contactable, registry_of_key
from regcred.core.verify.repository import RepositoryRef
from regcred.core.verify.results import CheckResult, result_json


@dataclass(frozen=True, slots=True)
class Target:
    """One check: a registry and a credential, with the repositories whose pull must be authorised.

    Not a Credential: a target has no key and no source, since one check answers every key (and every
    file or Secret) that holds the same user and password for the same host.
    """

    registry: str
    username: str
    password: str = field(repr=False)
    repositories: tuple[RepositoryRef, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """A credential as found (key, user, password, source), and the repositories it should be able to pull."""

    credential: Credential
    repositories: tuple[RepositoryRef, ...] = ()
    registry: str | None = None  # the host to contact when the key alone does not say (a wildcard key)


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """One output row: the key, its registry, and the target that answers it (or why there is none)."""

    request: CheckRequest
    registry: str
    target: int | None
    error: str | None = None


def _registry(request: CheckRequest) -> str:
    if request.registry is None:
        return registry_of_key(request.credential.key)
    return contactable(request.registry, what=f"registry {request.registry!r}")


def plan_checks(requests: Iterable[CheckRequest]) -> tuple[list[Target], list[PlannedRow]]:
    """Each distinct (registry, username, password) is checked once, with the union of its repositories.

    A key no client can contact becomes that row's error: one bad key in a file never stops the others.
    """
    index: dict[tuple[str, str, str], int] = {}
    repos: list[list[RepositoryRef]] = []
    heads: list[tuple[str, str, str]] = []
    rows: list[PlannedRow] = []
    for request in requests:
        cred = request.credential
        try:
            registry = _registry(request)
        except InputError as exc:
            rows.append(PlannedRow(request, request.registry or cred.key, None, exc.message))
            continue
        if not cred.username and not cred.password:
            rows.append(PlannedRow(request, registry, None, "the entry holds no username or password"))
            continue
        ident = (registry, cred.username, cred.password)
        slot = index.get(ident)
        if slot is None:
            slot = index[ident] = len(heads)
            heads.append(ident)
            repos.append([])
        for ref in request.repositories:
            if ref not in repos[slot]:
                repos[slot].append(ref)
        rows.append(PlannedRow(request, registry, slot))
    targets = [Target(r, u, p, tuple(rs)) for (r, u, p), rs in zip(heads, repos, strict=True)]
    return targets, rows


def row_json(row: PlannedRow, results: list[CheckResult]) -> dict[str, Any]:
    """A planned row rendered with the result of its target (or its planning error)."""
    key = row.request.credential.key
    if row.target is None:
        return result_json(key, CheckResult(registry=row.registry, errors=[row.error or "not verifiable"]))
    data = result_json(key, results[row.target])
    wanted = {ref.label for ref in row.request.repositories}
    if wanted != set(data["pull"]):
        data["pull"] = {label: ok for label, ok in data["pull"].items() if label in wanted}
    return data
