"""`regcred secret`: kubernetes.io/dockerconfigjson Secrets, byte-compatible with kubectl's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from regcred.cli.clusteropts import ClusterOptions, cluster_options
from regcred.cli.options import password_options, resolve_password
from regcred.core.credentials.pullsecret import DOCKER_HUB_SERVER, dockerconfigjson_payload, secret_manifest
from regcred.core.credentials.registrykey import validate_server
from regcred.core.errors import InputError
from regcred.core.names import validate_subdomain
from regcred.shells.manifests import dump_json_like_kubectl


def build_payload(server: str, username: str | None, email: str, from_file: Path | None,
                  password_stdin: bool, password_env: str | None, password_literal: str | None) -> bytes:
    """The `.dockerconfigjson` bytes from --from-file or from the flags."""
    if from_file is not None:
        from regcred.usecases.credfiles import payload_from_file

        return payload_from_file(from_file)
    validate_server(server)  # before the password is asked for
    if not username:
        raise InputError("--username is required (or use --from-file)")
    return dockerconfigjson_payload(server, username, resolve_password(password_stdin, password_env, password_literal),
                                    email)


@click.group()
def secret() -> None:
    """Create kubernetes.io/dockerconfigjson image pull Secrets."""


@secret.command("create")
@click.argument("name")
@click.option("--server", "--docker-server", "server", default=DOCKER_HUB_SERVER, show_default=True,
              help="Registry key, copied verbatim (as kubectl does).")
@click.option("--username", "--docker-username", "username", help="Registry user name.")
@password_options
@click.option("--email", "--docker-email", "email", default="", help="Optional e-mail.")
@click.option("--from-file", type=click.Path(path_type=Path), help="Use this docker config.json as the payload.")
@click.option("--overwrite", is_flag=True,
              help="Take over a same-named Secret that regcred does not manage (its payload is replaced).")
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default=None,
              help="Output format [default: json for --dry-run=client (the manifest), else table].")
@cluster_options(output=False)
def create(name: str, server: str, username: str | None, password_stdin: bool, password_env: str | None,
           password_literal: str | None, email: str, from_file: Path | None, overwrite: bool,
           output: str | None, cluster: ClusterOptions) -> None:
    """Create or update the pull Secret NAME in the cluster (print it with --dry-run=client).

    Idempotent: nothing is written when the Secret already holds this payload. A same-named Secret that
    regcred does not manage is left untouched unless --overwrite.
    """
    validate_subdomain(name, "Secret")
    payload = build_payload(server, username, email, from_file, password_stdin, password_env, password_literal)
    if cluster.dry_run == "client" and not cluster.fans_out:
        if output == "table":
            raise InputError("--dry-run=client prints the Secret manifest", hint="use -o json or -o yaml")
        manifest = secret_manifest(name, payload, namespace=cluster.namespace)
        if output == "yaml":
            click.echo(dump_yaml_sorted(manifest), nl=False)
        else:
            click.echo(dump_json_like_kubectl(manifest))
        return
    from regcred.cli.clusteropts import report
    from regcred.usecases.pullsecrets import apply_pull_secret

    cluster = replace(cluster, output=output or "table")
    with cluster.connect() as api:
        rows = apply_pull_secret(api, cluster.namespaces, name, payload, overwrite=overwrite,
                                 dry_run=cluster.dry_run, workers=cluster.workers)
    report(rows, cluster, document={"kind": "SecretApplyResult", "secret": name})


def dump_yaml_sorted(manifest: dict[str, object]) -> str:
    import yaml

    return str(yaml.safe_dump(manifest, sort_keys=True, allow_unicode=True, default_flow_style=False))

