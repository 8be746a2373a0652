"""`regcred why TARGET`: why an object's images pull or not, and the one command that fixes it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from regcred.cli.clusteropts import cluster_options
from regcred.cli.options import FiniteFloatRange
from regcred.cli.output import emit
from regcred.core.errors import OperationFailed

if TYPE_CHECKING:
    from regcred.cli.clusteropts import ClusterOptions


def _note(message: str) -> None:
    click.echo(f"note: {message}", err=True)


def _verdict(value: bool | None) -> str:
    return {True: "pulls", False: "FAILS", None: "unknown (no failure found; --verify asks the registry)"}[value]


def render(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for obj in data["objects"]:
        if obj["note"]:
            lines.append(f"note: {obj['note']}")
    for image in data["images"]:
        lines.append(f"{image['object']}  container {image['container']}  image {image['image']}: "
                     f"{_verdict(image['will_pull'])}")
        if image["credentials"]:
            for cred in image["credentials"]:
                state = {True: "accepted", False: f"REFUSED: {cred['error']}", None: "not verified"}[cred["verified"]]
                lines.append(f"  {cred['order']}. {cred['key']} (user {cred['username']}) from {cred['source']}: "
                             f"{state}")
        else:
            lines.append("  no credential matches: the kubelet pulls anonymously")
        for problem in image["problems"]:
            lines.append(f"  {problem['severity']}: {problem['code']} {problem['object']}: {problem['message']}")
        for event in image["events"]:
            cause = f" [{event['cause']}]" if event["cause"] else ""
            lines.append(f"  event {event['reason']}{cause} x{event['count']}: {event['message']}")
        lines.append(f"  why: {image['explanation']}")
        if image["fix"]:
            lines.append(f"  fix: {image['fix']}")
    for problem in data["node"]["problems"]:
        lines.append(f"node: {problem}")
    lines.extend(f"note: {n}" for n in data["notes"])
    return "\n".join(lines) if lines else "no image to explain"


@click.command()
@click.argument("target", required=False, metavar="KIND/NAME")
@click.option("-n", "--namespace", metavar="NS", help="Namespace (default: the context's namespace; -f: default).")
@click.option("-f", "--filename", "files", multiple=True, metavar="MANIFEST",
              help="Explain the Pods and workloads of these manifests (no cluster needed); repeatable.")
@click.option("--host-root", metavar="DIR", help="The node's / (as node doctor): its credential file is tried after "
              "the Pod's Secrets, as the kubelet does.")
@click.option("--node-config", "node_configs", multiple=True, type=click.Path(path_type=Path),
              help="A node credential file (config.json); repeat in the kubelet's search order (first wins).")
@click.option("--verify", is_flag=True, help="Check each credential found, and each anonymous pull, at the registry.")
@click.option("--ca-file", type=click.Path(path_type=Path), help="With --verify: trust only this PEM CA bundle.")
@click.option("--insecure-http", is_flag=True, help="With --verify: speak plain HTTP to the registries.")
@click.option("--timeout", type=FiniteFloatRange(min=0.1, max=86400), default=10.0, show_default=True,
              help="With --verify: seconds per network read.")
@cluster_options(namespaces=False, dry_run=False, output_choices=("table", "json"))
def why(target: str | None, namespace: str | None, files: tuple[str, ...], host_root: str | None,
        node_configs: tuple[Path, ...], verify: bool, ca_file: Path | None, insecure_http: bool, timeout: float,
        cluster: ClusterOptions) -> None:
    """Explain each image of a Pod or workload: the credentials the kubelet tries, in order, what is missing or
    broken, what the Pod's Events say, and the command that fixes it.

    KIND/NAME: pod/NAME, deployment/NAME, statefulset/NAME, daemonset/NAME, job/NAME, cronjob/NAME. A Pod that no
    longer exists is explained from its workload's template. Exit 1 when an image will not pull, 2 on bad input.
    """
    from regcred.usecases.verification import CheckOptions  # lazy: the use case loads when the command runs
    from regcred.usecases.why import WhyRequest  # lazy: the use case loads when the command runs
    from regcred.usecases.why import why as run_why  # lazy: the use case loads when the command runs

    checks = CheckOptions(ca_file=ca_file, insecure_http=insecure_http, timeout=timeout) if verify else None
    request = WhyRequest(target, files, namespace, node_configs, host_root, checks)
    data = run_why(request, cluster.connect, _note)
    emit(data, cluster.output, render(data) if cluster.output == "table" else None)
    failing = [i for i in data["images"] if i["will_pull"] is False]
    if failing:
        raise OperationFailed(f"{len(failing)} image(s) will not pull", hint="each image names its fix")
