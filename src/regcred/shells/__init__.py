"""Thin shells around I/O: files, the terminal, the Kubernetes API, registries over HTTP."""
