"""The in-cluster controller (`regcred controller`): an interface layer over the use cases, like regcred.cli."""
