"""Moved to regcred.localregistry.oci; kept as an import path for tests."""

from regcred.localregistry.oci import *  # noqa: F403
from regcred.localregistry.oci import build_oci_layout  # noqa: F401
