"""regcred's version, in a module of its own so that shells (User-Agent) and the CLI (--version) can name it
without importing the package root, which is the library surface and sits above them."""

__version__ = "0.1.0"
