"""The cluster level: pull Secrets, ServiceAccount lists and pod specs, planned as data."""
