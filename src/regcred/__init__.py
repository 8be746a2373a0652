"""regcred: private container-registry credentials for Kubernetes at every level.

The Python API is the names in `__all__`, and only those: every module under `regcred` is internal and may
change in any release (see docs/api.md). Names load on first use (PEP 562), so `import regcred` and the
CLI's cold start pay for nothing they do not use.
"""

from regcred._version import __version__ as __version__

TYPE_CHECKING = False  # not typing's: importing typing (and re) would double `import regcred`'s cost

# public name -> the internal module that defines it
_EXPORTS: dict[str, str] = {
    # docker credential files: parse as the kubelet does, rewrite keeping everything else
    "DockerConfig": "regcred.core.credentials.dockerconfig",
    "Layout": "regcred.core.credentials.dockerconfig",
    "parse_config_json": "regcred.core.credentials.dockerconfig",
    "parse_dockercfg": "regcred.core.credentials.dockerconfig",
    "with_entry": "regcred.core.credentials.dockerconfig",
    "without_entry": "regcred.core.credentials.dockerconfig",
    "dumps_file": "regcred.core.credentials.dockerconfig",
    # the kubelet's keyring
    "Keyring": "regcred.core.credentials.keyring",
    "Credential": "regcred.core.credentials.keyring",
    "build_keyring": "regcred.core.credentials.keyring",
    # image references
    "ImageReference": "regcred.core.credentials.imageref",
    "parse_image": "regcred.core.credentials.imageref",
    "normalize_repository": "regcred.core.credentials.imageref",
    # RegistryCredential specs: load, resolve, plan
    "RegistryCredential": "regcred.core.spec.model",
    "load_specs": "regcred.shells.spec.source",
    "resolve_all": "regcred.shells.spec.source",
    "plan": "regcred.core.spec.planner",
    "Plan": "regcred.core.spec.planner",
    "Change": "regcred.core.spec.planner",
    "ClusterState": "regcred.core.spec.planner",
    "DesiredCredential": "regcred.core.spec.planner",
    # errors
    "RegcredError": "regcred.core.errors",
    "InputError": "regcred.core.errors",
    "ConfigFormatError": "regcred.core.errors",
    "ImageReferenceError": "regcred.core.errors",
    "NotFoundError": "regcred.core.errors",
    "OperationFailed": "regcred.core.errors",
    "SpecInvalid": "regcred.core.spec.model",
}

__all__ = [  # the public API; every name but __version__ loads lazily from _EXPORTS
    "Change",
    "ClusterState",
    "ConfigFormatError",
    "Credential",
    "DesiredCredential",
    "DockerConfig",
    "ImageReference",
    "ImageReferenceError",
    "InputError",
    "Keyring",
    "Layout",
    "NotFoundError",
    "OperationFailed",
    "Plan",
    "RegcredError",
    "RegistryCredential",
    "SpecInvalid",
    "__version__",
    "build_keyring",
    "dumps_file",
    "load_specs",
    "normalize_repository",
    "parse_config_json",
    "parse_dockercfg",
    "parse_image",
    "plan",
    "resolve_all",
    "with_entry",
    "without_entry",
]

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ loads each name on first use
    from typing import Any

    from regcred.core.credentials.dockerconfig import (
        DockerConfig,
        Layout,
        dumps_file,
        parse_config_json,
        parse_dockercfg,
        with_entry,
        without_entry,
    )
    from regcred.core.credentials.imageref import ImageReference, normalize_repository, parse_image
    from regcred.core.credentials.keyring import Credential, Keyring, build_keyring
    from regcred.core.errors import (
        ConfigFormatError,
        ImageReferenceError,
        InputError,
        NotFoundError,
        OperationFailed,
        RegcredError,
    )
    from regcred.core.spec.model import RegistryCredential, SpecInvalid
    from regcred.core.spec.planner import Change, ClusterState, DesiredCredential, Plan, plan
    from regcred.shells.spec.source import load_specs, resolve_all


def __getattr__(name: str) -> "Any":
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'regcred' has no attribute {name!r}")
    import importlib  # lazy: only a name's first use pays for it (import regcred stays ~free)

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
