"""Manifest text editing without I/O: a YAML/JSON stream in, the edited stream out, checked before it is used."""
