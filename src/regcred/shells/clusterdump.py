"""Read what the audit simulates offline: objects from manifest files, and the node's credential files.

Manifests may be YAML or JSON (a `kubectl get -o json` dump is read with the json module, much faster than
a YAML parser on 10,000 pods). The live reads are the audit use case's (`usecases.audit.read_live`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from regcred.core.credentials.keyring import Keyring
from regcred.core.credentials.source import CredentialSource
from regcred.core.errors import InputError
from regcred.core.safeload import check_json_depth
from regcred.shells import credfile
from regcred.shells.manifests import iter_objects, load_documents, read_text_input

Note = Callable[[str], None]


def read_manifests(paths: Iterable[str]) -> list[dict[str, Any]]:
    """Every object of every file ('-' is stdin), `kind: List` expanded.

    A file with no Kubernetes object at all (empty, `- 1`, mappings without a `kind`) is an input error:
    auditing it would report nothing and pass a CI gate silently. An empty `kind: List` is an object
    (what `kubectl get -o yaml` prints for an empty namespace).
    """
    objects: list[dict[str, Any]] = []
    for path in paths:
        source, docs = _read(path)
        if not any(isinstance(doc, dict) and isinstance(doc.get("kind"), str) and doc["kind"] for doc in docs):
            raise InputError(f"{source}: no Kubernetes objects found (no document with a kind)",
                             hint="give manifests or a kubectl get -o yaml|json dump")
        objects.extend(iter_objects(docs))
    return objects


def _read(path: str) -> tuple[str, list[Any]]:
    source, text = read_text_input(path)
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        check_json_depth(text, source)
        try:
            data = json.loads(text)
        except ValueError:
            pass  # maybe YAML flow style, or several JSON documents: let the YAML reader say what is wrong
        else:
            return source, data if isinstance(data, list) else [data]
    return source, load_documents(text, source)


def node_keyring(paths: Iterable[Path], note: Note, *, as_node: bool = True) -> tuple[Keyring, str | None]:
    """The kubelet's node files in search order: the first one wins, files are never merged.

    Credentials name their file as a node source (`NodeConfig/<path>`, audit's object names) or, with
    `as_node=False` (`match`), as a plain file.
    """
    keyring = Keyring()
    ordered = list(paths)
    configs = [credfile.load(p) for p in ordered]  # each named file is parsed, so a broken one is never silent
    if not configs:
        return keyring, None
    source = (CredentialSource.node if as_node else CredentialSource.file)(str(ordered[0])).label
    keyring.add_config(configs[0], source)
    for shadowed in ordered[1:]:
        note(f"{shadowed} is shadowed by {ordered[0]} (the kubelet uses the first valid file)")
    return keyring, source
