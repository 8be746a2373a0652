"""Moved to regcred.localregistry.registry (the demo uses it too); kept as an import path for tests."""

from regcred.localregistry.registry import *  # noqa: F403
from regcred.localregistry.registry import REGISTRY_BIN, RegistryServer, hermetic_env, write_authfile  # noqa: F401
