"""Node doctor: walk the kubelet's node-credential search on a node and name every problem.

Which file the kubelet uses, what it shadows, which credential each image would get, and whether the
runtime (which pulls the sandbox image itself) has credentials for the sandbox image's registry.
"""

from __future__ import annotations

import dataclasses
import posixpath
from typing import Any

from regcred.core.credentials.dockerconfig import parse_config_json
from regcred.core.credentials.imageref import parse_image
from regcred.core.errors import ConfigFormatError
from regcred.core.node import search as nodesearch
from regcred.core.node.runtimes import common as runtimes


def diagnose_node(host_root: str, root_dir: str | None, images: tuple[str, ...] | list[str] = (), *,
                  kubelet_home: str | None = None, kubelet_cwd: str | None = None) -> tuple[dict[str, Any], Any]:
    """The doctor's report for the node at `host_root`, and the kubelet settings it used (overrides applied)."""
    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells.host import open_host_root

    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells.nodefiles import kubelet_settings_for

    for image in images:
        parse_image(image)  # a bad IMAGE is a usage error (exit 2) before anything is read
    host = open_host_root(host_root)
    settings = kubelet_settings_for(host, root_dir)
    overrides: dict[str, Any] = {}
    if kubelet_home:
        overrides.update(home=posixpath.normpath(kubelet_home), home_source="--kubelet-home")
    if kubelet_cwd:
        overrides.update(cwd=posixpath.normpath(kubelet_cwd))
    settings = dataclasses.replace(settings, **overrides)
    return diagnose(host, settings, images), settings


def diagnose(host: Any, settings: Any, images: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """The doctor's report as data (the JSON of `-o json`)."""
    candidates = nodesearch.candidate_paths(settings.root_dir, settings.cwd, settings.home)
    paths = [c.path for c in candidates]
    hint = nodesearch.home_hint_path(settings.user_home)
    if hint:
        paths.append(hint)
    states = {p: host.state(p) for p in paths}
    report = nodesearch.evaluate(candidates, states, home=settings.home, expected_home=settings.user_home)
    problems = list(report.problems)
    runtime = runtime_report(host, report.used)
    problems.extend(runtime.pop("problems"))
    image_rows = nodesearch.credentials_for_images(report.used, list(images))
    providers = provider_section(host, image_rows)
    problems.extend(providers.pop("problems"))
    return {
        "root_dir": settings.root_dir,
        "root_dir_source": settings.root_dir_source,
        "home": settings.home,
        "cwd": settings.cwd,
        "candidates": [c.to_json() for c in report.candidates],
        "used": report.used.path if report.used else None,
        "images": image_rows,
        "runtime": runtime,
        "credential_providers": providers,
        "problems": problems,
        "notes": report.notes,
    }


def provider_section(host: Any, image_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The kubelet's credential-provider plugins, and for each image the providers it asks and what it uses first.

    The kubelet's order for one pull (pkg/kubelet/images): the pod's pull Secrets' matches, then the node
    file's, then the plugins' (every provider whose matchImages match is asked, in config order; their answers
    go into one keyring). Each credential is tried in turn; the first pull that succeeds wins.
    """
    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells.nodeproviders import provider_report

    section = provider_report(host, [row["repository"] for row in image_rows])
    for row, asked in zip(image_rows, section.pop("asked"), strict=True):
        row["providers"] = asked
        row["uses"] = ("node file" if row["credentials"] else f"provider {asked[0]['name']}" if asked
                       else "anonymous pull")
        row["order"] = "pod Secrets that match come first, then the node file, then the providers"
    return section


def runtime_report(host: Any, used: nodesearch.CandidateReport | None) -> dict[str, Any]:
    """The runtime's sandbox image and whether it can pull it with credentials the kubelet has for it."""
    # lazy: the shell's I/O stack loads only on the path that uses it
    from regcred.shells.host import detect_runtime, runtime_facts

    name = detect_runtime(host)
    out: dict[str, Any] = {"name": name, "config": None, "sandbox_image": None, "sandbox_registry": None,
                           "registry_has_credentials": None, "auth_hosts": [], "problems": [], "notes": []}
    if name is None:
        out["notes"].append("no container runtime found under the host root")
        return out
    try:
        facts = runtime_facts(host, name)
    except ConfigFormatError as exc:
        out["problems"].append(f"{name} configuration: {exc.line()}")
        return out
    auth_hosts = list(facts.auth_hosts)
    if name == runtimes.CRIO and facts.auth_file:
        auth_hosts = _auth_file_hosts(host, facts.auth_file, out)
    out.update(config=facts.config, sandbox_image=facts.sandbox_image, auth_hosts=auth_hosts)
    out["notes"].extend(facts.notes)
    if facts.config and facts.auth_hosts:
        mode = host.path(facts.config).stat().st_mode
        if mode & 0o044:
            out["problems"].append(f"{facts.config} holds registry passwords and is readable by group/others "
                                   f"(mode {mode & 0o777:04o}): run chmod 600 on it")
    if not facts.sandbox_image:
        out["notes"].append(f"{name}: sandbox image not set in the configuration (the runtime's default is used)")
        return out
    sandbox_host = runtimes.image_host(facts.sandbox_image)
    has = runtimes.runtime_has_credentials(facts, sandbox_host, auth_hosts)
    out.update(sandbox_registry=sandbox_host, registry_has_credentials=has)
    kubelet_has = bool(nodesearch.credentials_for_images(used, [facts.sandbox_image])[0]["credentials"])
    if kubelet_has and not has:
        out["problems"].append(
            f"the sandbox image {facts.sandbox_image} is pulled by {name}, not the kubelet, and {name} has no "
            f"credentials for {sandbox_host}: run regcred node install --runtime {name}"
        )
    return out


def _auth_file_hosts(host: Any, auth_file: str, out: dict[str, Any]) -> list[str]:
    state = host.state(auth_file)
    if state.content is None:
        out["problems"].append(f"crio auth file {auth_file} is missing or unreadable")
        return []
    try:
        config = parse_config_json(state.content, auth_file)
    except ConfigFormatError as exc:
        out["problems"].append(f"crio auth file: {exc.line()}")
        return []
    return sorted({h for e in config.entries if (h := runtimes.runtime_host(e.key))})
