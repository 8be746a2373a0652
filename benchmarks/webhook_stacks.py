"""The HTTPS server stacks compared for the webhook (docs/decisions.md), each serving one handler on POST /mutate-pods.

`python benchmarks/webhook_stacks.py STACK PORT CERT_DIR` serves until killed; bench_webhook.py --stacks starts each
in its own process and drives it with `hey`. Every stack gets the same handler (bench_webhook.handler()) and the
same TLS pair; only the HTTP/TLS machinery differs:

- regcred: the shipped server (asyncio loop, llhttp via httptools, handler on a thread pool)
- stdlib: http.server.ThreadingHTTPServer + ssl (a thread per kept-alive connection, handler inline)
- threads: a thread per connection on blocking TLS sockets with llhttp, the handler inline
- uvicorn: uvicorn with httptools + uvloop, an ASGI app handing the handler to a thread pool
- aiohttp: aiohttp.web with the handler on a thread pool
- uvloop: the regcred server's protocol on a uvloop loop instead of asyncio's
- inline, uvloop-inline: the handler run on the loop's thread (not shippable: a slow call would stall every
  connection), to measure the thread-pool hand-off
- pool4, pool16: the regcred server with a thread pool of 4 or 16 instead of 64
- floor, threads-floor: the regcred server / the threads server answering a constant
uvicorn, aiohttp and uvloop are not dependencies of regcred: a stack whose package is missing is reported as
skipped (`.venv/bin/pip install uvicorn httptools uvloop aiohttp` to compare them all).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

STACKS = ("regcred", "stdlib", "threads", "uvicorn", "aiohttp", "uvloop", "inline", "uvloop-inline")
CONSTANT = b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"","allowed":true}}'


def _context(cert_dir: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_dir / "tls.crt", cert_dir / "tls.key")
    return ctx


class _Inline(ThreadPoolExecutor):
    """Runs the handler on the loop's own thread: the cost of the thread-pool hand-off, measured by its absence."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        from concurrent.futures import Future

        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def serve_regcred(port: int, cert_dir: Path, handler: Any, *, uvloop: bool = False, inline: bool = False,
                  pool: int = 0) -> None:
    from regcred.controller.webhook import server

    if pool:
        server.POOL_SIZE = pool
    if inline:
        server.ThreadPoolExecutor = _Inline  # type: ignore[misc]
    if uvloop:
        import uvloop as uv  # type: ignore[import-not-found,unused-ignore]

        server.asyncio.new_event_loop = uv.new_event_loop  # type: ignore[attr-defined]
    server.serve_webhook(f"127.0.0.1:{port}", handler, str(cert_dir))
    signal.pause()


def serve_stdlib(port: int, cert_dir: Path, handler: Any) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    ctx = _context(cert_dir)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            out = handler(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(out), out))

        def log_message(self, format: str, *args: Any) -> None:
            return

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

        def get_request(self) -> tuple[socket.socket, Any]:
            sock, addr = super().get_request()
            return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    Server(("127.0.0.1", port), Handler).serve_forever()


def serve_threads(port: int, cert_dir: Path, handler: Any) -> None:
    """A thread per connection on blocking TLS sockets (OpenSSL works without the GIL), llhttp, the handler inline."""
    import threading

    import httptools  # type: ignore[import-not-found,unused-ignore]

    ctx = _context(cert_dir)
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)

    def connection(raw: socket.socket) -> None:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        done: list[bytes] = []
        body: list[bytes] = []

        class Callbacks:
            def on_body(self, chunk: bytes) -> None:
                body.append(chunk)

            def on_message_complete(self) -> None:
                done.append(b"".join(body))
                body.clear()

        parser = httptools.HttpRequestParser(Callbacks())
        try:
            with ctx.wrap_socket(raw, server_side=True) as sock:
                while data := sock.recv(65536):
                    parser.feed_data(data)
                    while done:
                        out = handler(done.pop(0))
                        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                                     % (len(out), out))
        except (OSError, httptools.HttpParserError):
            return

    while True:
        raw, _ = listener.accept()
        threading.Thread(target=connection, args=(raw,), daemon=True).start()


def serve_uvicorn(port: int, cert_dir: Path, handler: Any) -> None:
    import uvicorn  # type: ignore[import-not-found,unused-ignore]

    pool = ThreadPoolExecutor(64)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        out = await asyncio.get_running_loop().run_in_executor(pool, handler, b"".join(chunks))
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    uvicorn.run(app, host="127.0.0.1", port=port, ssl_certfile=str(cert_dir / "tls.crt"),
                ssl_keyfile=str(cert_dir / "tls.key"), loop="uvloop", http="httptools", log_level="warning",
                access_log=False, lifespan="off", backlog=1024)


def serve_aiohttp(port: int, cert_dir: Path, handler: Any) -> None:
    from aiohttp import web  # type: ignore[import-not-found,unused-ignore]

    pool = ThreadPoolExecutor(64)

    async def mutate(request: Any) -> Any:
        out = await asyncio.get_running_loop().run_in_executor(pool, handler, await request.read())
        return web.Response(body=out, content_type="application/json")

    app = web.Application()
    app.router.add_post("/mutate-pods", mutate)
    web.run_app(app, host="127.0.0.1", port=port, ssl_context=_context(cert_dir), access_log=None, print=None)


def main() -> None:
    stack, port, cert_dir = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    from benchmarks.bench_webhook import handler

    if stack == "floor":  # the shipped server answering a constant: what the HTTP/TLS part costs
        serve_regcred(port, cert_dir, lambda body: CONSTANT)
    serve = {"regcred": serve_regcred, "stdlib": serve_stdlib, "uvicorn": serve_uvicorn, "aiohttp": serve_aiohttp,
             "uvloop": lambda p, c, h: serve_regcred(p, c, h, uvloop=True),
             "inline": lambda p, c, h: serve_regcred(p, c, h, inline=True), "threads": serve_threads,
             "pool4": lambda p, c, h: serve_regcred(p, c, h, pool=4),
             "pool16": lambda p, c, h: serve_regcred(p, c, h, pool=16),
             "threads-floor": lambda p, c, h: serve_threads(p, c, lambda body: CONSTANT),
             "uvloop-inline": lambda p, c, h: serve_regcred(p, c, h, uvloop=True, inline=True)}[stack]
    serve(port, cert_dir, handler())


if __name__ == "__main__":
    main()
