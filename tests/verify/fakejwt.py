"""Unsigned compact JWTs for token-reply tests: only the claims matter to regcred (it never verifies them)."""

from __future__ import annotations

import base64
import json


def unsigned_jwt(claims: object) -> str:
    def enc(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{enc({'alg': 'RS256'})}.{enc(claims)}.c2ln"
