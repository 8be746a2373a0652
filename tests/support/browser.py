"""A real headless Chromium (Debian's `chromium`) driven over the DevTools protocol, for the HTML report tests.

Why the protocol and not `--dump-dom`/`--screenshot` alone: a test must type into the page (the namespace filter)
and see console errors, which only a live session shows. The client is the `websockets` library's sync client
(a few JSON messages; Playwright would bring its own Node driver and browser builds). One browser per test:
Chromium is CPU-heavy and the machine is shared.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.fixtures import require_binaries

_LISTENING = re.compile(r"DevTools listening on (ws://127\.0\.0\.1:(\d+)/\S+)")


def chromium_binary() -> str:
    """The Chromium to drive; skips (fails under REGCRED_REQUIRE_REAL) when Debian's package is missing."""
    require_binaries("chromium")
    return str(shutil.which("chromium"))


class Page:
    """One tab: navigate, evaluate JavaScript, take a screenshot; console errors and requests are recorded."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        wanted = self.next_id
        self.socket.send(json.dumps({"id": wanted, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result") or {})
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            self.events.append(json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic()))))

    def open(self, path: Path) -> None:
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def console_errors(self) -> list[str]:
        """Uncaught exceptions, console.error calls and browser log errors (a CSP-blocked load is one)."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params") or {}
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params.get("exceptionDetails")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(json.dumps(params.get("args")))
            elif method == "Log.entryAdded" and (params.get("entry") or {}).get("level") == "error":
                found.append(str(params["entry"].get("text")))
        return found

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]


@contextmanager
def chromium_page(workdir: Path, width: int = 1280, height: int = 1600) -> Iterator[Page]:
    """A headless Chromium with one blank tab, stopped (by its own pid) afterwards."""
    from websockets.sync.client import connect

    binary = chromium_binary()
    log = workdir / "chromium.log"
    args = [binary, "--headless", "--disable-gpu", "--remote-debugging-port=0", "--no-first-run",
            f"--user-data-dir={workdir / 'profile'}", f"--window-size={width},{height}", "about:blank"]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")  # Chromium refuses to run its sandbox as root
    with log.open("w") as err:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (match := _LISTENING.search(log.read_text(errors="replace"))):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"chromium did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        targets = httpx.get(f"http://127.0.0.1:{match.group(2)}/json/list", timeout=10).json()
        page_url = next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")
        with connect(page_url, max_size=None, open_timeout=30) as socket:
            yield Page(socket)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def artifact_path(tmp_path: Path, name: str) -> Path:
    """Where a test keeps a file for people to look at (a screenshot): $REGCRED_ARTIFACTS when set (CI uploads
    it), else the test's own pytest tmp dir (the last three runs are kept under /tmp/pytest-of-$USER/)."""
    root = os.environ.get("REGCRED_ARTIFACTS")
    folder = Path(root) if root else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
