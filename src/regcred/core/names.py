"""Kubernetes object-name rules (apimachinery validation), checked before any request is made."""

from __future__ import annotations

import re

from regcred.core.errors import InputError

_DNS1123_LABEL = re.compile(r"\A[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DNS1123_SUBDOMAIN = re.compile(r"\A[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")


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
