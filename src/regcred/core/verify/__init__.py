"""Registry verification rules: auth challenges, results and what counts as over-privileged."""
