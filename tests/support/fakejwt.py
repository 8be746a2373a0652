"""Unsigned compact JWTs for token-reply tests: only the claims matter to regcred (it never verifies them)."""

from __future__ import annotations

import base64
import json


def unsigned_jwt(claims: object) -> str:
    def enc(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{enc({'alg': 'RS256'})}.{enc(claims)}.c2ln"


def jwt_with_payload(payload_json: str) -> str:
    """A JWT whose claims are this JSON text verbatim (for payloads json.dumps cannot build)."""
    payload = base64.urlsafe_b64encode(payload_json.encode()).rstrip(b"=").decode()
    return f"{unsigned_jwt({}).split('.')[0]}.{payload}.c2ln"
