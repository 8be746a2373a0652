"""`regcred node daemonset`: one pull Secret, every node (the manifest is core/node/daemonset)."""

from __future__ import annotations

import posixpath

import click

from regcred.cli.output import emit
from regcred.core.errors import InputError
from regcred.core.names import validate_label, validate_subdomain
from regcred.core.node.daemonset import DEFAULT_IMAGE, DEFAULT_NAME, daemonset_manifest
from regcred.core.node.kubeletflags import DEFAULT_ROOT_DIR


@click.command("daemonset")
@click.option("--secret", required=True, metavar="NAME", help="The kubernetes.io/dockerconfigjson Secret to roll out.")
@click.option("-n", "--namespace", default="kube-system", show_default=True, help="Namespace of the Secret and DaemonSet.")
@click.option("--image", default=DEFAULT_IMAGE, show_default=True, help="Image built by ./dev image or deploy/image/Dockerfile.")
@click.option("--name", default=DEFAULT_NAME, show_default=True, help="Name of the DaemonSet.")
@click.option("--root-dir", default=DEFAULT_ROOT_DIR, show_default=True, metavar="DIR", help="The kubelet's --root-dir.")
@click.option("--interval", type=click.IntRange(5, 86400), default=60, show_default=True,
              help="Seconds between two syncs.")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def daemonset(secret: str, namespace: str, image: str, name: str, root_dir: str, interval: int, output: str) -> None:
    """Render a DaemonSet that keeps every node's <root-dir>/config.json in step with one pull Secret."""
    validate_subdomain(secret, "Secret")
    validate_label(namespace, "namespace")
    validate_subdomain(name, "DaemonSet")
    if not root_dir.startswith("/") or not image.strip() or any(c.isspace() for c in root_dir + image):
        raise InputError("--root-dir must be an absolute path and --image a non-empty image reference without spaces")
    manifest = daemonset_manifest(secret=secret, namespace=namespace, image=image, name=name,
                                  root_dir=posixpath.normpath(root_dir), interval=interval)
    emit(manifest, output)
