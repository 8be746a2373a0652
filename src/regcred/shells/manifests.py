"""Reading Kubernetes manifests (YAML or JSON, one or many documents) with errors that name the place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regcred.core.errors import InputError
from regcred.core.safeload import load_documents as load_documents  # every manifest reader's parser
from regcred.shells.files import read_bytes
from regcred.shells.input import read_stdin

if TYPE_CHECKING:
    from regcred.core.credentials.pullsecret import PullSecret


MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def expand_manifest_paths(paths: tuple[str, ...] | list[str]) -> list[str]:
    """FILE, DIR (every *.yaml/*.yml/*.json under it, any case, sorted) or '-', each once; a bad path is bad input."""
    found: list[str] = []
    for raw in paths:
        if raw == "-":
            found.append(raw)
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES)
            if not files:
                raise InputError(f"{path}: no *.yaml, *.yml or *.json files in this directory")
            found.extend(str(p) for p in files)
        elif not path.exists():
            raise InputError(f"{path}: no such file or directory", hint="check the -f path")
        else:
            found.append(raw)
    return list(dict.fromkeys(found))


def dump_yaml(data: Any) -> str:
    """A manifest as YAML: keys in their order, block style, Unicode as is."""
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False))


def dump_json_like_kubectl(manifest: dict[str, Any]) -> str:
    """A manifest as `kubectl create --dry-run=client -o json` prints it (4-space indent)."""
    import json

    return json.dumps(manifest, indent=4, ensure_ascii=False)


def iter_objects(docs: list[Any]) -> Iterator[dict[str, Any]]:
    """Kubernetes objects in documents, expanding `kind: List` items."""
    from regcred.core.cluster.podspec import is_list_kind

    for doc in docs:
        if not isinstance(doc, dict):
            continue
        if is_list_kind(doc):
            for item in doc["items"]:
                if isinstance(item, dict):
                    yield item
        else:
            yield doc


def read_text_input(path: str) -> tuple[str, str]:
    """(source name, text) of a manifest file, or of stdin for '-'; a directory or unreadable file is bad input."""
    if path == "-":
        return "<stdin>", read_stdin(what="manifest stream").decode("utf-8", errors="replace")
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{path} is a directory", hint="give manifest files (shell globs work: dir/*.yaml)")
    return str(p), read_bytes(p, what="manifest file").decode("utf-8", errors="replace")


def read_manifest_file(path: str) -> tuple[str, list[Any]]:
    """Read a manifest file (or '-' for stdin) and return (source name, documents)."""
    source, text = read_text_input(path)
    return source, load_documents(text, source)


def read_pull_secrets(paths: tuple[str, ...] | list[str]) -> list[PullSecret]:
    """The pull Secrets the kubelet would use from manifest files, in document order.

    A file without any Secret is an error; a Secret the kubelet ignores (wrong type or key) is noted on
    stderr and left out; one it would fail on raises ConfigFormatError naming the file and Secret.
    """
    import click

    from regcred.core.credentials.pullsecret import read_pull_secret

    usable: list[PullSecret] = []
    for path in paths:
        source, docs = read_manifest_file(path)
        secrets = [obj for obj in iter_objects(docs) if obj.get("kind") == "Secret"]
        if not secrets:
            raise InputError(f"{source}: no Secret found", hint="give a manifest holding kind: Secret")
        for obj in secrets:
            secret = read_pull_secret(obj, source)
            if secret.config is None:
                click.echo(f"note: {source}: {secret.source} is ignored by the kubelet: {secret.ignored_reason}",
                           err=True)
                continue
            usable.append(secret)
    return usable
