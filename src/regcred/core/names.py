"""Kubernetes object-name rules (apimachinery validation), checked before any request is made."""

from __future__ import annotations

import re

from regcred.core.errors import InputError

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"  # the pattern bodies, shared with the JSON Schema and the CRD
DNS1123_SUBDOMAIN = rf"{DNS1123_LABEL}(\.{DNS1123_LABEL})*"
_DNS1123_LABEL = re.compile(rf"\A{DNS1123_LABEL}\Z")
_UPPER_CASE_ENV = re.compile(r"\A[A-Z_][A-Z0-9_]{0,127}\Z")
_DNS1123_SUBDOMAIN = re.compile(rf"\A{DNS1123_SUBDOMAIN}\Z")


def validate_subdomain(name: str, what: str) -> str:
    """Secret, ServiceAccount and workload names: DNS-1123 subdomain, at most 253 characters."""
    if not name or len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        raise InputError(
            f"invalid {what} name {name!r}: must be a lowercase RFC 1123 subdomain "
            "(a-z, 0-9, '-' and '.', starting and ending with an alphanumeric character, at most 253 characters)"
        )
    return name


def validate_label(name: str, what: str) -> str:
    """Namespace names: DNS-1123 label, at most 63 characters."""
    if not name or len(name) > 63 or not _DNS1123_LABEL.match(name):
        raise InputError(
            f"invalid {what} name {name!r}: must be a lowercase RFC 1123 label "
            "(a-z, 0-9 and '-', starting and ending with an alphanumeric character, at most 63 characters)"
        )
    return name


def env_var_label(name: str) -> str:
    """How an error names an environment variable: by its name when it is an UPPER_CASE name, else not at all.

    Why: `--password-env "$TOKEN"`, or a templated `passwordFrom.env`, puts the password where the variable's
    name belongs, and the error about that "variable" must not print it.
    """
    if _UPPER_CASE_ENV.match(name):
        return f"environment variable {name}"
    return "the environment variable given (its name is not shown: not an UPPER_CASE name, it may be the password)"
