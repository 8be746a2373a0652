"""Images the kubelet pulls without credentials: the fix to name when the registry refuses them, the warning for
a Pod whose pull Secrets cover none of its images, and the findings of `audit --verify`'s anonymous checks.

With no matching credential the kubelet makes one anonymous pull (docs/concepts/kubelet-rules.md#0): a private
registry refuses it (401). Three set-ups end there and look fine without asking the registry: no credentials at
all, a Secret whose key misses the image's port (or path), and a Pod created before its ServiceAccount got the
Secret. Each gets its own fix: a Secret to create or attach, a key to correct, or the Pod to replace.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from regcred.core.audit.findings import AnonymousPull, Finding
from regcred.core.credentials.imageref import DEFAULT_DOMAIN
from regcred.core.credentials.registrykey import DOCKER_HUB_API_HOST, index_key, parse_schemeless

NEW_SECRET = "regcred-pull"  # the name the fixes suggest for a Secret that does not exist yet


@dataclass(frozen=True, slots=True)
class PullContext:
    """What decides the fix of one anonymous pull: the object's namespace and ServiceAccount, the pull Secrets it
    lists (after the admission copy); for a Pod created before its ServiceAccount changed, the account's list now
    and the Secret of it that covers the image."""

    namespace: str
    service_account: str
    listed: tuple[str, ...]
    is_pod: bool
    account_list: tuple[str, ...] = ()
    stale_secret: str | None = None


def secret_command(name: str, namespace: str, domain: str, *, overwrite: bool = False) -> str:
    """The `regcred secret create` that gives `domain` a key (Docker Hub: the default key)."""
    server = "" if domain == DEFAULT_DOMAIN else f" --server {domain}"
    tail = " --overwrite" if overwrite else ""
    return f"regcred secret create {name} -n {namespace}{server} --username USER --password-stdin{tail}"


def anonymous_fix(context: PullContext, domain: str) -> tuple[str, str]:
    """(why the pull is anonymous, the regcred command(s) that give it a credential)."""
    ns, sa = context.namespace, context.service_account
    if context.stale_secret is not None:
        return (f"the Pod was created before ServiceAccount {sa!r} was given Secret {context.stale_secret!r} and "
                "keeps its old list: replace it",
                f"regcred sa attach {context.stale_secret} -n {ns} --service-account {sa} --restart-stuck")
    if context.listed:
        names = ", ".join(context.listed)
        return (f"none of its pull Secrets ({names}) gives a credential for {domain}: write one with a key for "
                f"{domain} (port and path count)", secret_command(context.listed[0], ns, domain, overwrite=True))
    restart = " --restart-stuck" if context.is_pod else ""
    return ("no pull Secret gives it a credential: create one and attach it",
            f"{secret_command(NEW_SECRET, ns, domain)} && regcred sa attach {NEW_SECRET} -n {ns} "
            f"--service-account {sa}{restart}")


def near_misses(keys: Iterable[str], domain: str, path: str) -> list[str]:
    """Keys of the same host that miss the image only by port or path (the port-less key is the classic case)."""
    host, _, port = domain.partition(":")
    found: list[str] = []
    for key in keys:
        normal = index_key(key)
        parsed = parse_schemeless(normal) if normal is not None else None
        if parsed is not None and domain == DEFAULT_DOMAIN and parsed.host.lower() == DOCKER_HUB_API_HOST:
            found.append(f"{key!r} is Docker Hub's API host, which the kubelet never matches: use docker.io or "
                         "https://index.docker.io/v1/")
        if parsed is None or parsed.host.lower() != host.lower():
            continue
        if parsed.port != port:
            found.append(f"{key!r} has {'no port' if not parsed.port else 'port ' + parsed.port} while the image "
                         f"uses {'port ' + port if port else 'none'}")
        elif parsed.path and not (path + "/").startswith(parsed.path.strip("/") + "/"):
            found.append(f"{key!r} is limited to the path {parsed.path!r}")
    return found


def miss_message(listed: Iterable[str], image: str, domain: str, misses: list[str]) -> str:
    why = f" ({'; '.join(misses)})" if misses else ""
    return (f"lists pull Secrets ({', '.join(listed)}) but none has a key for {domain}{why}: image {image} is pulled "
            "anonymously; give a Secret a key for it (host:port[/path]) or check with audit --verify")


def anonymous_findings(pulls: Iterable[AnonymousPull],
                       outcomes: Mapping[str, tuple[bool, str | None]]) -> Iterator[Finding]:
    """Findings of the anonymous checks: `outcomes[image]` is (pull allowed, the registry's reason if not)."""
    for pull in pulls:
        ok, reason = outcomes.get(pull.image, (True, None))
        if ok:
            continue
        if reason and "refuses anonymous pulls" in reason:
            yield Finding("anonymous-pull-refused", pull.object, f"image {pull.image} is pulled without credentials "
                          f"and the registry refuses it ({reason}); fix: {pull.fix}")
        else:
            yield Finding("anonymous-pull-unverified", pull.object, f"image {pull.image} is pulled without "
                          f"credentials and could not be checked: {reason or 'no answer'}")
