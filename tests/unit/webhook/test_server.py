"""The webhook's HTTPS server with a stand-in handler: routes, keep-alive, limits, a slow handler, TLS reload."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from regcred.controller.webhook.server import MAX_BODY, MAX_HEAD, WebhookServer, serve_webhook
from regcred.core.errors import InputError
from regcred.localregistry.tls import Pki, generate_pki

REVIEW = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                     "request": {"uid": "u-1", "operation": "CREATE"}}).encode()


def answer(body: bytes) -> bytes:
    """The stand-in handler: echoes the request's uid (or a Status for a body that names none)."""
    try:
        uid = json.loads(body)["request"]["uid"]
    except (ValueError, KeyError, TypeError):
        return b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":"not a review","code":400}'
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "response": {"uid": uid, "allowed": True}}).encode()


class Observed:
    def __init__(self) -> None:
        self.results: list[str] = []

    def observe_admission(self, result: str, seconds: float) -> None:
        assert seconds >= 0
        self.results.append(result)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return generate_pki("webhook")


@pytest.fixture
def certdir(tmp_path: Path, pki: Pki) -> Path:
    pki.write(tmp_path / "certs", cert="tls.crt", key="tls.key")
    return tmp_path / "certs"


def start(certdir: Path, handler: Callable[[bytes], bytes] = answer, metrics: Observed | None = None
          ) -> WebhookServer:
    return serve_webhook("127.0.0.1:0", handler, str(certdir), metrics)


@pytest.fixture
def server(certdir: Path) -> Iterator[WebhookServer]:
    s = start(certdir)
    yield s
    s.stop()


def client(port: int, ca: bytes) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cadata=ca.decode())
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(sock, server_hostname="127.0.0.1")


def send(sock: ssl.SSLSocket, body: bytes, *, path: str = "/mutate-pods?timeout=10s", method: str = "POST") -> None:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    sock.sendall(head.encode() + body)


def receive(sock: ssl.SSLSocket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before an answer")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    while len(rest) < length:
        rest += sock.recv(65536)
    return int(lines[0].split()[1]), headers, rest[:length]


def closed(sock: ssl.SSLSocket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ConnectionError, ssl.SSLError):
        return True


def test_answers_reviews_on_one_kept_alive_connection(server: WebhookServer, pki: Pki) -> None:
    with client(server.port, pki.ca_pem) as sock:
        for uid in ("a", "b", "c"):
            send(sock, REVIEW.replace(b"u-1", uid.encode()))
            code, headers, body = receive(sock)
            assert (code, headers["content-type"]) == (200, "application/json")
            assert json.loads(body)["response"] == {"uid": uid, "allowed": True}
            assert "close" not in headers.get("connection", "")


def test_pipelined_requests_are_answered_in_order(server: WebhookServer, pki: Pki) -> None:
    with client(server.port, pki.ca_pem) as sock:
        for i in range(20):
            send(sock, REVIEW.replace(b"u-1", b"p-%d" % i))
        uids = [json.loads(receive(sock)[2])["response"]["uid"] for _ in range(20)]
    assert uids == [f"p-{i}" for i in range(20)]


@pytest.mark.parametrize(("method", "path", "code"), [
    ("POST", "/validate", 404), ("POST", "/", 404), ("GET", "/mutate-pods", 405), ("PUT", "/mutate-pods", 405),
])
def test_other_routes_and_methods(certdir: Path, pki: Pki, method: str, path: str, code: int) -> None:
    seen: list[bytes] = []
    observed = Observed()
    server = start(certdir, lambda body: seen.append(body) or answer(body), observed)
    try:
        with client(server.port, pki.ca_pem) as sock:
            send(sock, REVIEW, method=method, path=path)
            status, _, body = receive(sock)
            assert (status, json.loads(body)["code"]) == (code, code)
            send(sock, REVIEW)  # the connection stays usable
            assert receive(sock)[0] == 200
    finally:
        server.stop()
    assert seen == [REVIEW]
    assert observed.results == ["invalid"]


def test_a_status_from_the_handler_is_a_400(server: WebhookServer, pki: Pki) -> None:
    with client(server.port, pki.ca_pem) as sock:
        send(sock, b"not json")
        code, _, body = receive(sock)
    assert (code, json.loads(body)["kind"]) == (400, "Status")


def test_a_handler_that_raises_gets_a_500_and_the_server_goes_on(certdir: Path, pki: Pki,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    def broken(body: bytes) -> bytes:
        if body == b"boom":
            raise RuntimeError("a bug")
        return answer(body)

    server = start(certdir, broken)
    try:
        with client(server.port, pki.ca_pem) as sock:
            send(sock, b"boom")
            assert receive(sock)[0] == 500
            send(sock, REVIEW)
            assert receive(sock)[0] == 200
    finally:
        server.stop()


def test_a_body_over_the_cap_is_refused_unread(certdir: Path, pki: Pki) -> None:
    seen: list[bytes] = []
    observed = Observed()
    server = start(certdir, lambda body: seen.append(body) or answer(body), observed)
    try:
        with client(server.port, pki.ca_pem) as sock:
            head = f"POST /mutate-pods HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"
            sock.sendall(head.encode() + b"{" * 1024)
            code, headers, _ = receive(sock)
            assert (code, headers["connection"]) == (413, "close")
            assert closed(sock)
        with client(server.port, pki.ca_pem) as sock:  # chunked: no length up front, counted as it comes
            sock.sendall(b"POST /mutate-pods HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"x" * 65536
            for _ in range(MAX_BODY // len(chunk) + 1):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            assert receive(sock)[0] == 413
    finally:
        server.stop()
    assert seen == []
    assert observed.results == ["invalid", "invalid"]


def test_a_body_at_the_cap_is_served(server: WebhookServer, pki: Pki) -> None:
    body = REVIEW[:-1] + b',"pad":"' + b"x" * (MAX_BODY - len(REVIEW) - 9) + b'"}'
    assert len(body) == MAX_BODY
    with client(server.port, pki.ca_pem) as sock:
        send(sock, body)
        assert receive(sock)[0] == 200


def test_malformed_http_is_a_400_and_a_close(server: WebhookServer, pki: Pki) -> None:
    with client(server.port, pki.ca_pem) as sock:
        sock.sendall(b"POST /mutate-pods HTTP/1.1\r\nContent-Length: abc\r\n\r\n")
        assert receive(sock)[0] == 400
        assert closed(sock)


def test_a_slow_request_does_not_stall_the_others(certdir: Path, pki: Pki) -> None:
    """The slow handler call waits until a fast request on another connection has been answered."""
    fast_answered = threading.Event()
    slow_started = threading.Event()

    def handler(body: bytes) -> bytes:
        if b"slow" in body:
            slow_started.set()
            assert fast_answered.wait(10), "the fast request was never answered"
        return answer(body)

    server = start(certdir, handler)
    try:
        with client(server.port, pki.ca_pem) as slow, client(server.port, pki.ca_pem) as fast:
            send(slow, REVIEW.replace(b"u-1", b"slow"))
            assert slow_started.wait(10)
            for _ in range(5):
                send(fast, REVIEW)
                assert receive(fast)[0] == 200
            fast_answered.set()
            assert json.loads(receive(slow)[2])["response"]["uid"] == "slow"
    finally:
        server.stop()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_tls_1_2_is_the_floor(server: WebhookServer, pki: Pki) -> None:
    ctx = ssl.create_default_context(cadata=pki.ca_pem.decode())
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        assert sock.version() == "TLSv1.2"
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, pytest.raises(ssl.SSLError):
        ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def served_cert(port: int, cas: bytes, server_hostname: str = "127.0.0.1") -> bytes:
    ctx = ssl.create_default_context(cadata=cas.decode())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=server_hostname) as sock:
        der = sock.getpeercert(binary_form=True)
        assert der is not None
        return der


def wait_for_cert(port: int, cas: bytes, want: bytes, server_hostname: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + 15
    while served_cert(port, cas, server_hostname) != want:
        assert time.monotonic() < deadline, "the new certificate was never served"
        time.sleep(0.1)


@pytest.mark.parametrize("server_hostname", ["127.0.0.1", "localhost"])  # without SNI (an IP) and with it
def test_a_rotated_pair_is_served_without_a_restart(certdir: Path, pki: Pki, server_hostname: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    second, third = generate_pki("webhook-2"), generate_pki("webhook-3")
    cas = pki.ca_pem + second.ca_pem + third.ca_pem
    server = start(certdir)
    try:
        with client(server.port, pki.ca_pem) as kept:  # a connection made before the rotation
            assert served_cert(server.port, cas, server_hostname) == der(pki.cert_pem)
            second.write(certdir, cert="tls.crt", key="tls.key")
            wait_for_cert(server.port, cas, der(second.cert_pem), server_hostname)
            send(kept, REVIEW)
            assert receive(kept)[0] == 200
        # Half-way through the next rotation (new certificate, old key) the previous pair stays.
        (certdir / "tls.crt").write_bytes(third.cert_pem)
        deadline = time.monotonic() + 15
        while "keeps its previous TLS certificate" not in caplog.text:
            assert served_cert(server.port, cas, server_hostname) == der(second.cert_pem)
            assert time.monotonic() < deadline, "the half-written pair was never looked at"
            time.sleep(0.1)
        assert served_cert(server.port, cas, server_hostname) == der(second.cert_pem)
        (certdir / "tls.key").write_bytes(third.key_pem)
        wait_for_cert(server.port, cas, der(third.cert_pem), server_hostname)
    finally:
        server.stop()


def der(pem: bytes) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.decode().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")


def test_stop_closes_the_port(certdir: Path) -> None:
    server = start(certdir)
    port = server.port
    server.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    server.stop()  # twice is fine


def test_unusable_cert_dirs_and_addresses_are_one_line_errors(tmp_path: Path, certdir: Path) -> None:
    with pytest.raises(InputError, match="no TLS certificate in"):
        start(tmp_path / "nowhere")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "tls.crt").write_text("not a certificate")
    (tmp_path / "bad" / "tls.key").write_text("not a key")
    with pytest.raises(InputError, match="cannot use the TLS pair"):
        start(tmp_path / "bad")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(InputError, match="cannot listen on"):
            serve_webhook(f"127.0.0.1:{taken.getsockname()[1]}", answer, str(certdir))


def test_a_request_that_never_finishes_arriving_is_cut(certdir: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    import regcred.controller.webhook.server as module

    monkeypatch.setattr(module, "REQUEST_SECONDS", 0.2)
    server = start(certdir)
    try:
        with client(server.port, pki.ca_pem) as slow, client(server.port, pki.ca_pem) as busy:
            slow.sendall(b"POST /mutate-pods HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            slow.settimeout(10)
            assert closed(slow)  # the sweeper closed it
            send(busy, REVIEW)  # a connection that behaves is not affected
            assert receive(busy)[0] == 200
    finally:
        server.stop()


def test_a_client_that_expects_100_continue_gets_it(server: WebhookServer, pki: Pki) -> None:
    with client(server.port, pki.ca_pem) as sock:
        head = f"POST /mutate-pods HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {len(REVIEW)}\r\n\r\n"
        sock.sendall(head.encode())
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(REVIEW)
        assert receive(sock)[0] == 200


def test_hostile_bytes_close_the_connection_without_a_traceback(server: WebhookServer, pki: Pki,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    for junk in (b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x00\x05hello", bytes(range(256)) * 4):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            raw.sendall(junk)
            with contextlib.suppress(ConnectionError):
                while raw.recv(4096):
                    pass
    with client(server.port, pki.ca_pem) as sock:  # still serving
        send(sock, REVIEW)
        assert receive(sock)[0] == 200
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def test_oversized_headers_are_a_400_and_a_close(server: WebhookServer, pki: Pki) -> None:
    with client(server.port, pki.ca_pem) as sock:
        sock.sendall(b"POST /mutate-pods HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (MAX_HEAD + 1) + b"\r\n\r\n")
        assert receive(sock)[0] == 400
        assert closed(sock)
