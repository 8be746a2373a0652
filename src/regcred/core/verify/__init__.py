"""Registry verification rules: the auth flow without I/O, hosts, tokens, planning and results."""
