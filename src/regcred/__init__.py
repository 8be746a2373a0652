"""regcred: private container-registry credentials for Kubernetes at every level."""

from regcred._version import __version__ as __version__
