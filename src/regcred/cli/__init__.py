"""The `regcred` command line: short commands that read through a shell, ask the core, write through a shell."""
