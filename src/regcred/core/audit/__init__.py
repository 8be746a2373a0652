"""The audit: the kubelet simulated over pods, templates, ServiceAccounts and Secrets, and its findings."""
