"""The node level: the kubelet's search paths and flags, and the runtimes' own credential config."""
