"""Fuzz tier: `verify` against a fake registry whose challenge and token reply carry odd values.

Whatever a registry sends (a realm that is no URL, an IDNA-invalid host, expiry values of 1e308, NaN or far
in the past, issued_at in the far future, a deeply nested token body, any status), the run ends with exit 0,
1 or 2, no traceback, no internal error and never the password in the output.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.cli import run_regcred
from tests.support.fakeregistry import PASSWORD, FakeServer, Reply
from tests.support.hostile import assert_handled

_numbers = st.sampled_from(["1e308", "-1e15", "1e20", "NaN", "Infinity", "-0", "0", "300", '"300"', "null", "[]",
                            "{}", "9" * 400, "true"])
_realms = st.sampled_from(["http://[::1", "http://xn--zz/t", "http://a..b/t", "http://" + "a" * 64 + ".io/t",
                           "http://\u200b.io/t", "ftp://x/t", "", "http://127.0.0.1:99999/t", "REALM"])
_deep = "[" * 5000 + "]" * 5000


@st.composite
def _token_reply(draw: st.DrawFn) -> bytes:
    fields = {name: draw(_numbers) for name in draw(st.sets(st.sampled_from(["expires_in", "issued_at"])))}
    token = draw(st.sampled_from(['"opaque"', '"a.b.c"', '"eyJhbGciOiJub25lIn0.' + "W" * 12 + '.x"', _deep, "null"]))
    body = "{" + ", ".join([f'"token": {token}', *(f'"{k}": {v}' for k, v in fields.items())]) + "}"
    return draw(st.sampled_from([body.encode(), _deep.encode(), b"\xff\xfe", b""]))


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(_realms, st.booleans(), _token_reply(), st.sampled_from([200, 401, 404, 500]))
def test_odd_registry_values_never_end_the_run(realm: str, realm_is_ours: bool, reply: bytes, status: int) -> None:
    token_server = FakeServer(lambda h: (200, {"Content-Type": "application/json"}, reply))
    try:
        where = f"http://{token_server.host}/token" if realm_is_ours else realm

        def registry(h: BaseHTTPRequestHandler) -> Reply:
            if "Authorization" not in h.headers:
                return 401, {"WWW-Authenticate": f'Bearer realm="{where}",service="fake"'}, b"{}"
            return status, {}, b"{}"

        server = FakeServer(registry)
        try:
            result = run_regcred("verify", server.host, "-u", "alice", "--password-stdin", "--insecure-http",
                                 "--timeout", "2", "-o", "json", input=PASSWORD + "\n")
        finally:
            server.close()
    finally:
        token_server.close()
    assert_handled(result)
    assert PASSWORD not in result.stdout + result.stderr
    if result.returncode != 2:
        json.loads(result.stdout)
