"""Where the cluster is and how to log in: kubectl's kubeconfig rules, then lightkube's loader and auth stack.

regcred picks the source as kubectl does (--kubeconfig, the files of $KUBECONFIG merged, ~/.kube/config, then
the in-cluster ServiceAccount); lightkube (<1, on httpx) parses the chosen context and builds the TLS + auth
stack (client certificates, tokens, exec plugins) that `connect` hands to the client.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from lightkube.config.client_adapter import Client as adapter_client
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import KubeConfig
from lightkube.core.exceptions import ConfigError

from regcred._version import __version__
from regcred.core.safeload import describe_yaml_error, load_one
from regcred.shells.input import read_file
from regcred.shells.kube.client import KubeApi
from regcred.shells.kube.errors import KubeConfigError


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """How to reach the cluster: what --kubeconfig/--context/--qps/--burst asked for."""

    kubeconfig: str | None = None
    context: str | None = None
    qps: float = 50.0
    burst: int = 100
    timeout: float = 30.0



def _kubeconfig_paths(explicit: str | None) -> list[Path]:
    """kubectl's order: --kubeconfig, else every existing file of $KUBECONFIG, else ~/.kube/config."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise KubeConfigError(f"kubeconfig {explicit} not found", hint="give an existing file to --kubeconfig")
        return [path]
    env = os.environ.get("KUBECONFIG")
    if env:
        found = [Path(part).expanduser() for part in env.split(os.pathsep) if part]
        existing = [p for p in found if p.is_file()]
        if existing:
            return existing
    default = Path("~/.kube/config").expanduser()
    return [default] if default.is_file() else []


# File-valued fields of a kubeconfig, relative to the file that holds them.
_FILE_FIELDS = {"clusters": ("cluster", ("certificate-authority",)),
                "users": ("user", ("client-certificate", "client-key", "tokenFile"))}


def merge_kubeconfigs(documents: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """kubectl's merge of $KUBECONFIG files: the first file to define a name or current-context wins.

    Relative file references are made absolute against their own file first, since the merged document
    no longer has one directory.
    """
    merged: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for path, doc in documents:
        if not isinstance(doc, dict):
            continue
        if doc.get("current-context") and not merged.get("current-context"):
            merged["current-context"] = doc["current-context"]
        for section in ("clusters", "users", "contexts"):
            seen = {item.get("name") for item in merged[section]}
            for item in doc.get(section) or []:
                if not isinstance(item, dict) or item.get("name") in seen:
                    continue
                item = dict(item)
                inner_key, fields = _FILE_FIELDS.get(section, ("", ()))
                inner = dict(item.get(inner_key) or {}) if inner_key else {}
                for field_name in fields:
                    value = inner.get(field_name)
                    if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
                        inner[field_name] = str(path.parent / value)
                if inner_key and inner:
                    item[inner_key] = inner
                merged[section].append(item)
                seen.add(item.get("name"))
    return merged


def _load_kubeconfig(path: Path) -> Any:
    """A kubeconfig read and parsed within regcred's input bounds (shells/input, core/safeload)."""
    return load_one(read_file(path, what="kubeconfig").decode("utf-8"))


def connect(config: ClusterConfig) -> KubeApi:
    """A KubeApi for the kubeconfig/context (or the in-cluster ServiceAccount when there is no kubeconfig)."""
    paths = _kubeconfig_paths(config.kubeconfig)
    path = paths[0] if paths else None
    try:
        if len(paths) > 1:
            documents = [(p, _load_kubeconfig(p)) for p in paths]
            kubeconfig = KubeConfig.from_dict(merge_kubeconfigs(documents), fname=paths[0])
        elif path is not None:
            kubeconfig = KubeConfig.from_dict(_load_kubeconfig(path), fname=path)
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            kubeconfig = KubeConfig.from_service_account()
        else:
            raise KubeConfigError("no kubeconfig found and not running in a cluster",
                                  hint="give --kubeconfig, set KUBECONFIG or create ~/.kube/config")
        single = kubeconfig.get(config.context)
        if single is None or (single.user is None and not single.cluster.server):
            raise KubeConfigError("the kubeconfig has no usable context", hint="pick one with --context")
        params = ConnectionParams(timeout=httpx.Timeout(config.timeout))
        http = adapter_client(single, params)
    except ConfigError as exc:
        where = f"kubeconfig {path}" if path else "in-cluster configuration"
        raise KubeConfigError(f"{where}: {' '.join(str(exc).split())}",
                              hint="check --kubeconfig and --context") from None
    except yaml.YAMLError as exc:
        raise KubeConfigError(f"kubeconfig {path} is not valid YAML: {describe_yaml_error(exc)}",
                              hint="check the file") from None
    except (KeyError, TypeError, ValueError, AttributeError, AssertionError) as exc:
        where = f"kubeconfig {path}" if path else "in-cluster configuration"
        raise KubeConfigError(f"{where} is not usable: {type(exc).__name__} {' '.join(str(exc).split())}",
                              hint="check the file with kubectl config view") from None
    except OSError as exc:
        raise KubeConfigError(f"cannot read the cluster credentials: {exc.strerror or exc}",
                              hint="check the certificate and key paths of the kubeconfig") from None
    http.headers["User-Agent"] = f"regcred/{__version__}"
    return KubeApi(http, server=str(single.cluster.server), namespace=single.namespace or "default",
                   qps=config.qps, burst=config.burst)
