"""regcred: private container-registry credentials for Kubernetes at every level."""

__version__ = "0.1.0"
