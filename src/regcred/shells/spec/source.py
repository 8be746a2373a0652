"""Reading RegistryCredential files and resolving their sources: environment, files, cluster Secrets, plugins.

Passwords are read here and nowhere else; an error names the document, the field and the source,
never the value. `secretKeyRef` and `fromSecret` need the cluster: the caller passes a reader.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from regcred.core.cluster.podspec import is_list_kind
from regcred.core.credentials.dockerconfig import entry_object, raw_entries
from regcred.core.credentials.pullsecret import read_pull_secret
from regcred.core.credentials.registrykey import index_key
from regcred.core.errors import ConfigFormatError, InputError
from regcred.core.manifests.edits import looks_like_json
from regcred.core.names import env_var_label
from regcred.core.safeload import load_one
from regcred.core.spec.expiry import EXPIRES_AT_ANNOTATION, Expiry, annotated_expiry
from regcred.core.spec.model import (
    PasswordFrom,
    Registry,
    RegistryCredential,
    SpecInvalid,
    is_registry_credential,
    parse_documents,
)
from regcred.core.spec.planner import DesiredCredential, payload_from_entries
from regcred.core.spec.templated import placeholder_name
from regcred.shells.credprovider import PluginCache
from regcred.shells.files import read_bytes
from regcred.shells.manifests import expand_manifest_paths, load_documents, read_text_input

# (namespace, name) -> the Secret object, or None when it does not exist.
SecretReader = Callable[[str, str], "dict[str, Any] | None"]


@dataclass(frozen=True, slots=True)
class Inputs:
    """What `-f` files held: validated specs and every other object (manifests for `render`)."""

    specs: list[RegistryCredential]
    manifests: list[tuple[str, dict[str, Any]]]  # (source, object)
    # each file's text, split into documents only when `render` asks (validate/plan/apply never do)
    files: list[_FileText] = field(default_factory=list)

    def text_of(self, obj: dict[str, Any]) -> str | None:
        """The document's own text (comments, key order, quoting) for `render` to edit in place; None when
        its file's documents could not be split reliably."""
        for file in self.files:
            if id(obj) in file.index:
                return file.text_of(obj)
        return None


class _FileText:
    """A file's text and its parsed documents; the per-document texts are computed on first use."""

    def __init__(self, text: str, documents: list[Any]) -> None:
        self.text, self.documents = text, documents
        self.index = {id(doc): n for n, doc in enumerate(documents) if isinstance(doc, dict)}
        self._chunks: list[str] | None = None

    def text_of(self, obj: dict[str, Any]) -> str | None:
        if self._chunks is None:
            self._chunks = _chunks(self.text, self.documents)
        n = self.index.get(id(obj))
        return self._chunks[n] if n is not None and n < len(self._chunks) else None


_SEPARATOR = re.compile(r"^(?:---|\.\.\.)(?=[ \t]|$).*$\n?", re.MULTILINE)


def document_texts(text: str) -> list[tuple[str, Any]]:
    """(text, parsed) of each non-empty document of a YAML stream, comments included, separators left out.

    A line starting with `---` or `...` at column 0 is always a document marker in YAML (it cannot be
    content), so a textual split is exact; documents holding only comments are dropped.
    """
    parsed = ((chunk, load_one(chunk)) for chunk in _SEPARATOR.split(text))
    return [(chunk, doc) for chunk, doc in parsed if doc is not None]


def load_inputs(paths: Sequence[str]) -> Inputs:
    """Read every file (a directory: its *.yaml/*.yml/*.json); RegistryCredential documents become specs."""
    docs: list[tuple[Any, str]] = []
    manifests: list[tuple[str, dict[str, Any]]] = []
    files: list[_FileText] = []
    for path in expand_manifest_paths(list(paths)):
        source, text = read_text_input(path)
        documents = load_documents(text, source)
        present = [doc for doc in documents if doc is not None]
        files.append(_FileText(text, present))
        for index, doc in enumerate(documents, start=1):
            if doc is None:
                continue
            where = f"{source}: document {index}" if len(documents) > 1 else source
            if isinstance(doc, dict) and is_list_kind(doc):  # `kubectl get ... -o yaml` output: a List whose items are the documents
                for item_index, item in enumerate(doc["items"]):
                    item_where = f"{where}: items[{item_index}]"
                    if is_registry_credential(item):
                        docs.append((item, item_where))
                    elif isinstance(item, dict):
                        manifests.append((item_where, item))
            elif is_registry_credential(doc):
                docs.append((doc, where))
            elif isinstance(doc, dict):
                manifests.append((where, doc))
    specs = parse_documents(docs)
    return Inputs(specs, manifests, files)


def load_specs(paths: str | Path | Sequence[str | Path]) -> list[RegistryCredential]:
    """The validated RegistryCredential documents of files or directories (`-`: stdin); others are ignored.

    Raises SpecInvalid (every problem, one line each) or InputError (a file that cannot be read or parsed).
    """
    many = [paths] if isinstance(paths, str | Path) else list(paths)
    return load_inputs([str(path) for path in many]).specs


def _chunks(text: str, documents: list[Any]) -> list[str]:
    """Document texts aligned with the parsed documents, or [] when they cannot be (then render re-dumps)."""
    if looks_like_json(text):
        return [text] if len(documents) == 1 else []
    try:
        chunks = document_texts(text)
    except Exception:  # a document only valid in the context of the stream (directives): re-dump instead
        return []
    return [chunk for chunk, _ in chunks] if [doc for _, doc in chunks] == documents else []


def require_specs(inputs: Inputs) -> list[RegistryCredential]:
    if not inputs.specs:
        raise InputError("no RegistryCredential document in the given files",
                         hint="give -f with a file holding `kind: RegistryCredential` (see `regcred spec schema`)")
    return inputs.specs


def read_password(source: PasswordFrom, where: str, read_secret: SecretReader | None) -> str:
    """The password from its source; an error names the place and the source, never a value."""
    if source.env is not None:
        value = os.environ.get(source.env)
        if value is None:
            raise InputError(f"{where}.env: {env_var_label(source.env)} is not set",
                             hint="export it before running regcred")
    elif source.file is not None:
        data = read_bytes(Path(source.file).expanduser(), what="password file")
        value = data.decode("utf-8", errors="replace")
        value = value[:-1] if value.endswith("\n") else value
        value = value[:-1] if value.endswith("\r") else value
    else:
        ref = source.secret_key_ref
        assert ref is not None
        secret = _read_secret(read_secret, ref.namespace, ref.name, f"{where}.secretKeyRef")
        value = _secret_key(secret, ref.key, f"{where}.secretKeyRef")
    if value == "":
        raise InputError(f"{where}: the password from {source.describe()} is empty")
    return value


def _read_secret(read_secret: SecretReader | None, namespace: str, name: str, where: str) -> dict[str, Any]:
    if read_secret is None:
        raise InputError(f"{where}: Secret {namespace}/{name} is in the cluster and no cluster is used here",
                         hint="give --context/--kubeconfig, or render with --no-secrets")
    secret = read_secret(namespace, name)
    if secret is None:
        raise InputError(f"{where}: Secret {namespace}/{name} not found",
                         hint="create it, or fix the reference")
    return secret


def _secret_key(secret: Mapping[str, Any], key: str, where: str) -> str:
    meta = secret.get("metadata") or {}
    label = f"Secret {meta.get('namespace')}/{meta.get('name')}"
    string_data = secret.get("stringData") or {}
    if isinstance(string_data.get(key), str):
        return str(string_data[key])
    value = (secret.get("data") or {}).get(key)
    if not isinstance(value, str):
        raise InputError(f"{where}: {label} has no key {key!r}", hint="fix secretKeyRef.key")
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InputError(f"{where}: {label} key {key!r} is not valid base64 UTF-8 text") from None


def resolve(spec: RegistryCredential, read_secret: SecretReader | None, *,
            placeholders: bool = False, plugins: PluginCache | None = None) -> DesiredCredential:
    """The spec with its credentials read: one payload holding every registry, in spec order.

    With `placeholders`, passwords become `${NAME}` and no `auth` field is written (it would encode
    the placeholder); `fromSecret` and `credentialProvider` registries are then left out (their keys or
    values are unknown offline). A plugin is run through `plugins` (once per source for all its users).
    """
    plugins = PluginCache() if plugins is None else plugins
    entries: list[tuple[str, dict[str, Any]]] = []
    expiries: list[Expiry] = []
    seen: dict[str, str] = {}
    problems: list[str] = []
    for index, registry in enumerate(spec.registries):
        try:
            new, expiry = _registry_entries(spec, registry, index, read_secret, placeholders=placeholders,
                                            plugins=plugins)
        except InputError as exc:
            problems.append(exc.line())
            continue
        expiries += [replace(e, registry=key) for key, _ in new for e in expiry]
        where = f"{spec.source}: {registry.path}"
        for key, obj in new:
            normal = index_key(key) or key
            if normal in seen:
                problems.append(InputError(f"{where}: registry {key!r} is also given by {seen[normal]}",
                                           hint="list each registry once").line())
                continue
            seen[normal] = registry.path
            entries.append((key, obj))
    if problems:
        raise SpecInvalid(problems)
    if not entries:
        raise InputError(f"{spec.source}: no registry credentials to write (fromSecret and credentialProvider "
                         "cannot be rendered with placeholders)")
    return DesiredCredential.build(spec, payload_from_entries(entries), tuple(expiries))


def _registry_entries(spec: RegistryCredential, registry: Registry, index: int, read_secret: SecretReader | None,
                      *, placeholders: bool, plugins: PluginCache
                      ) -> tuple[list[tuple[str, dict[str, Any]]], list[Expiry]]:
    """The (key, entry) pairs one `registries[]` item stands for ([] for fromSecret and plugins with
    placeholders), and when their credential expires (the registry field is filled in by the caller)."""
    where = f"{spec.source}: {registry.path}"
    expiries = [] if registry.expires_at is None else [Expiry("", registry.expires_at, "expiresAt")]
    if registry.from_secret is not None:
        if placeholders:
            return [], []
        ref = registry.from_secret
        secret = _read_secret(read_secret, ref.namespace, ref.name, f"{where}.fromSecret")
        expiries += _annotated(secret, ref.namespace, ref.name, f"{where}.fromSecret")
        try:
            pull = read_pull_secret(secret)
        except ConfigFormatError as exc:
            raise InputError(f"{where}.fromSecret: {exc.line()}") from None
        if pull.config is None:
            raise InputError(f"{where}.fromSecret: Secret {ref.namespace}/{ref.name} is not a pull secret: "
                             f"{pull.ignored_reason}")
        new = list(raw_entries(pull.config).items())
    elif registry.credential_provider is not None:
        if placeholders:
            return [], []
        assert registry.server is not None
        answer = plugins.get(registry.credential_provider, f"{where}.credentialProvider")
        new = [(registry.server, entry_object(answer.username, answer.password, registry.email))]
        if answer.lifetime > 0:
            plugin = os.path.basename(registry.credential_provider.command)
            expiries.append(Expiry("", answer.fetched_at + answer.lifetime, f"plugin {plugin}", renewed=True))
    else:
        assert registry.server is not None and registry.username is not None
        assert registry.password_from is not None
        if placeholders:
            obj = {"username": registry.username,
                   "password": "${" + placeholder_name(spec, registry, index) + "}"}
            if registry.email:
                obj["email"] = registry.email
        else:
            password = read_password(registry.password_from, f"{where}.passwordFrom", read_secret)
            obj = entry_object(registry.username, password, registry.email)
            key_ref = registry.password_from.secret_key_ref
            if key_ref is not None:  # read already: resolve_all's memo answers, no second request
                at = f"{where}.passwordFrom.secretKeyRef"
                secret = _read_secret(read_secret, key_ref.namespace, key_ref.name, at)
                expiries += _annotated(secret, key_ref.namespace, key_ref.name, at)
        new = [(registry.server, obj)]
    return new, expiries


def _annotated(secret: Mapping[str, Any], namespace: str, name: str, where: str) -> list[Expiry]:
    """The source Secret's expiry annotation as an Expiry; a malformed one is the spec's problem, said once."""
    at, problem = annotated_expiry(secret)
    label = f"Secret {namespace}/{name}"
    if problem is not None:
        raise InputError(f"{where}: {label}: {problem}", hint="fix or remove the annotation")
    return [] if at is None else [Expiry("", at, f"annotation {EXPIRES_AT_ANNOTATION} of {label}")]


def resolve_all(specs: Sequence[RegistryCredential], read_secret: SecretReader | None, *,
                placeholders: bool = False, plugins: PluginCache | None = None) -> list[DesiredCredential]:
    """Resolve every spec, reporting every unresolvable source at once (one line each).

    A Secret several registries refer to is read once: one request, and one version of it for all of them;
    a credential-provider plugin is run once per source (`plugins`: a longer-lived cache, the controller's).
    """
    plugins = PluginCache() if plugins is None else plugins
    problems: list[str] = []
    desired: list[DesiredCredential] = []
    if read_secret is not None:
        read_secret = _read_once(read_secret)
    for spec in specs:
        try:
            desired.append(resolve(spec, read_secret, placeholders=placeholders, plugins=plugins))
        except SpecInvalid as exc:
            problems += exc.problems
        except InputError as exc:
            problems.append(exc.line())
    if problems:
        raise SpecInvalid(problems)
    return desired


def _read_once(read_secret: SecretReader) -> SecretReader:
    seen: dict[tuple[str, str], dict[str, Any] | None] = {}

    def read(namespace: str, name: str) -> dict[str, Any] | None:
        if (namespace, name) not in seen:
            seen[(namespace, name)] = read_secret(namespace, name)
        return seen[(namespace, name)]

    return read
