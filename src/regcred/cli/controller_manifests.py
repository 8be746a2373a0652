"""`regcred controller manifests`: print (or write as a kustomize base) the controller's deployment.

The objects are data from `regcred.core.controller.manifests`; this command only checks its options and prints.
"""

from __future__ import annotations

from pathlib import Path

import click

from regcred import __version__
from regcred.core.controller.manifests import (
    DEFAULT_NAMESPACE,
    DEFAULT_REPLICAS,
    IMAGE_REPOSITORY,
    controller_manifests,
    file_name,
    kustomization,
)
from regcred.core.errors import InputError
from regcred.core.names import validate_label

DEFAULT_IMAGE = f"{IMAGE_REPOSITORY}:{__version__}"


@click.command("manifests")
@click.option("-n", "--namespace", default=DEFAULT_NAMESPACE, show_default=True, metavar="NS",
              help="Namespace of the controller (created; its Lease and Role live there).")
@click.option("--image", default=DEFAULT_IMAGE, show_default=True, help="Image built by ./dev image.")
@click.option("--replicas", type=click.IntRange(1, 10), default=DEFAULT_REPLICAS, show_default=True,
              help="Replicas of the Deployment (one leads; no PodDisruptionBudget with 1).")
@click.option("--out-dir", metavar="DIR", help="Write a kustomize base (one file per object and "
              "kustomization.yaml) into DIR instead of printing.")
@click.option("--webhook", is_flag=True, help="Also the admission webhook: its Service, MutatingWebhookConfiguration, "
              "RBAC and the Deployment's --webhook flag and port.")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="A YAML stream, or a JSON v1 List.")
def manifests_command(namespace: str, image: str, replicas: int, out_dir: str | None, webhook: bool,
                      output: str) -> None:
    """Print the CRD, Namespace, RBAC (exactly the verbs used), Deployment and PodDisruptionBudget."""
    from regcred.cli.output import dump_json  # lazy: loaded when the command runs, not for --help
    from regcred.shells.manifests import dump_yaml  # lazy: loaded when the command runs, not for --help

    validate_label(namespace, "namespace")
    if not image.strip() or any(c.isspace() for c in image):
        raise InputError("--image must be a non-empty image reference without spaces")
    objects = controller_manifests(namespace=namespace, image=image, replicas=replicas,
                                   features=("webhook",) if webhook else ())
    if out_dir is not None:
        from regcred.shells.files import atomic_write  # lazy: loaded when the command runs, not for --help

        target = Path(out_dir)
        target.mkdir(parents=True, exist_ok=True)
        files = {file_name(o): o for o in objects} | {"kustomization.yaml": kustomization(objects)}
        for name, obj in files.items():
            atomic_write(target / name, dump_yaml(obj).encode(), mode=0o644)
        click.echo(f"wrote {len(files)} files to {target}")
    elif output == "json":
        click.echo(dump_json({"apiVersion": "v1", "kind": "List", "items": objects}))
    else:
        click.echo("---\n".join(dump_yaml(o) for o in objects), nl=False)
