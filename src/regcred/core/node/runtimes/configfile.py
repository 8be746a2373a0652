"""Which file holds a runtime's per-host auth, and its reader, for the runtimes that keep auth in one config
file (containerd, k3s, rke2); CRI-O reads an auth file its config names (see `crio`)."""

from __future__ import annotations

from regcred.core.node.runtimes.common import CONTAINERD, RuntimeFacts
from regcred.core.node.runtimes.containerd import CONTAINERD_CONFIG, containerd_facts
from regcred.core.node.runtimes.k3s import REGISTRIES_YAML, registries_yaml_facts


def config_path(runtime: str) -> str:
    """The file holding per-host auth for containerd, k3s or rke2."""
    return CONTAINERD_CONFIG if runtime == CONTAINERD else REGISTRIES_YAML[runtime]


def config_facts(runtime: str, text: str | None) -> RuntimeFacts:
    """What the config text of containerd, k3s or rke2 (`config_path`) says."""
    return containerd_facts(text) if runtime == CONTAINERD else registries_yaml_facts(text, runtime)
