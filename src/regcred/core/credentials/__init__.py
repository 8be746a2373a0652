"""Docker credential files and payloads, image references and the kubelet's keyring matching."""
