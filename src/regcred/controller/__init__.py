"""The in-cluster controller (issue 12): an interface layer over the same use cases as `regcred apply`."""
