"""`python -m regcred` runs the CLI."""

from regcred.cli.main import main

main()
