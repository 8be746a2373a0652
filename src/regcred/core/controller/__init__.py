"""Pure rules of the in-cluster controller (no I/O): rate-limit math, cache field selection."""
