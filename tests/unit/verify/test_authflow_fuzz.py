"""Odd registry values as strategies: whatever a registry answers, the flow returns a result (it never raises),
the token reader raises only TokenReplyError, the host rule only HostError, and no reason holds the secret."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regcred.core.verify.authflow import FlowOptions, Request, Response, check_flow, run_flow
from regcred.core.verify.hosts import HostError, check_hostport, http_url
from regcred.core.verify.plan import Target
from regcred.core.verify.repository import RepositoryRef
from regcred.core.verify.tokens import TokenReplyError, expires_at, read_token_reply
from tests.support.fakejwt import jwt_with_payload, unsigned_jwt
from tests.support.scriptedregistry import NOW, PASSWORD

DEEP = "[" * 50_000 + "]" * 50_000
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e15, 1e20, 253402300800, 2**63]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5),
                                                                                          inner, max_size=3),
                      max_leaves=10)
hosts_text = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"\A[a-zA-Z0-9.\-_\[\]:%\u200b\ufffd]{0,70}\Z"),
    st.sampled_from(["xn--zz.io", "a..b", "[zz]:5000", "[::1", "999.1.1.1", "r.io:99999", "a" * 64]),
)


def _claims() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={"exp": values, "access": values, "iat": values})


@st.composite
def token_replies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["jwt", "opaque", "deep-body", "deep-claims", "raw"]))
    if kind == "raw":
        return draw(st.binary(max_size=200))
    if kind == "deep-claims":
        token = jwt_with_payload('{"access": ' + DEEP + "}")
    elif kind == "jwt":
        token = unsigned_jwt(draw(_claims()))
    else:
        token = draw(st.one_of(st.just("opaque"), st.text(min_size=1, max_size=20)))
    body: dict[str, Any] = {draw(st.sampled_from(["token", "access_token"])): token}
    for name in ("expires_in", "issued_at"):
        if draw(st.booleans()):
            body[name] = draw(st.one_of(values, st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00"])))
    text = json.dumps(body, allow_nan=True)
    return (text[:-1] + ', "x": ' + DEEP + "}" if kind == "deep-body" else text).encode()


@given(token_replies())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_token_replies_raise_only_token_reply_errors(body: bytes) -> None:
    try:
        _token, grant = read_token_reply(body)
        moment = expires_at(grant, NOW)
    except TokenReplyError:
        return
    assert moment is None or len(moment) == 20


@given(hosts_text)
@settings(max_examples=500)
def test_the_host_rule_raises_only_host_errors(hostport: str) -> None:
    try:
        ascii_form = check_hostport(hostport)
    except HostError:
        return
    assert ascii_form.isascii()
    with contextlib.suppress(HostError):
        http_url(f"https://{hostport}/token", what="realm")


challenges = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.builds(lambda realm, extra: f'Bearer realm="{realm}"{extra}',
              st.one_of(st.sampled_from(["https://auth.example/t", "http://[::1", "http://xn--zz/t",
                                         "https://a..b/t", "https://reg.example/t"]), st.text(max_size=20)),
              st.sampled_from(["", ',service="s"', ",scope=x", ', Basic realm="r"'])),
    st.sampled_from(['Basic realm="r"', "Basic", "Digest nonce=1", "Bearer", 'Bearer realm="']),
)


@st.composite
def responses(draw: st.DrawFn) -> Response:
    headers = {}
    if (challenge := draw(challenges)) is not None:
        headers["www-authenticate"] = challenge
    if draw(st.booleans()):
        headers["location"] = draw(st.one_of(st.text(max_size=30), st.sampled_from(["/v2/x", "http://[::1"])))
    status = draw(st.sampled_from([200, 200, 202, 204, 401, 401, 403, 404, 405, 429, 500, 302, 999]))
    return Response(status, headers, draw(token_replies()), draw(st.sampled_from(["", "https://reg.example/v2/"])))


@given(st.data(), st.booleans(), st.sampled_from(["https", "http"]))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_whatever_a_registry_answers_the_flow_returns_a_result(data: st.DataObject, probe: bool, scheme: str) -> None:
    repos = (RepositoryRef("team/app", "v1"), RepositoryRef("team/lib", "v2"))
    target = Target("reg.example", "alice", PASSWORD, repos)
    sent: list[Request] = []

    def answer(request: Request) -> Response:
        sent.append(request)
        assert len(sent) < 50  # the flow is bounded
        return data.draw(responses())

    result = run_flow(check_flow(target, FlowOptions(scheme, probe), now=NOW), answer)
    assert set(result.pull) == {r.label for r in repos}
    assert PASSWORD not in json.dumps(result.errors) and result.ok in (True, False)
