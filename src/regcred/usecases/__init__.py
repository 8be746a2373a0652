"""What regcred does, as functions over a typed API protocol: the CLI (and later the controller) call these.

Use cases import the core and the shells, never an interface; an interface parses, calls one use case and prints.
"""
