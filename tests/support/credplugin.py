#!/usr/bin/env python3
"""A kubelet credential-provider plugin for tests: speaks CredentialProviderRequest/Response over stdin/stdout.

An executable (the spec's `command` is this file's absolute path). Behaviour from the environment, which the
spec's `env` sets, as the kubelet would:

- CREDPLUGIN_CALLS: a file that gets one line per call (the request's image): the call counter;
- CREDPLUGIN_TIMES: a file that gets one line per call, the wall-clock time (time.time()) the call started
  (once the interpreter is up): when a benchmark's refresh began;
- CREDPLUGIN_MODE: ok (default) | exit | garbage | wrong-version | wrong-kind | no-match | hang | huge | deep
  | token-on-stderr | no-cache-key | bad-password (a password the registry refuses); CREDPLUGIN_MODE_FILE: a
  file whose content, when it exists, is the mode;
- CREDPLUGIN_USER / CREDPLUGIN_PASSWORD: the credential (default: plugin-user / the call number appended to
  "token-"), CREDPLUGIN_DURATION: cacheDuration (absent: none), CREDPLUGIN_KEY: the auth key (default: the
  registry part of the requested image);
- CREDPLUGIN_TOKEN_URL: a token API (tests/support/tokenapi.py) that CREDPLUGIN_USER / CREDPLUGIN_PASSWORD, the
  long-lived account, buy the credential from, as ecr-credential-provider does from AWS; its lifetime is the
  cacheDuration unless CREDPLUGIN_DURATION says otherwise.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.request
from typing import Any


def bought(url: str) -> dict[str, Any]:
    """A short-lived credential from the token API, paid for with the long-lived account."""
    account = f"{os.environ.get('CREDPLUGIN_USER', '')}:{os.environ.get('CREDPLUGIN_PASSWORD', '')}"
    request = urllib.request.Request(url, headers={"Authorization": "Basic " + base64.b64encode(account.encode())
                                                   .decode()})
    with urllib.request.urlopen(request, timeout=10) as answer:
        found: dict[str, Any] = json.loads(answer.read())
    return found


def main() -> int:
    times = os.environ.get("CREDPLUGIN_TIMES")
    if times:
        with open(times, "a", encoding="utf-8") as f:
            f.write(f"{time.time():.6f}\n")
    request = json.loads(sys.stdin.read())
    image = request["image"]
    calls = os.environ.get("CREDPLUGIN_CALLS")
    number = 1
    if calls:
        with open(calls, "a", encoding="utf-8") as f:
            f.write(image + "\n")
        with open(calls, encoding="utf-8") as f:
            number = sum(1 for _ in f)
    mode = os.environ.get("CREDPLUGIN_MODE", "ok")
    mode_file = os.environ.get("CREDPLUGIN_MODE_FILE")  # a test switches a running controller's plugin with it
    if mode_file and os.path.exists(mode_file):
        with open(mode_file, encoding="utf-8") as f:
            mode = f.read().strip()
    password = os.environ.get("CREDPLUGIN_PASSWORD", f"token-{number}")
    user = os.environ.get("CREDPLUGIN_USER", "plugin-user")
    duration = os.environ.get("CREDPLUGIN_DURATION")
    if os.environ.get("CREDPLUGIN_TOKEN_URL") and mode in ("ok", "bad-password"):
        answer = bought(os.environ["CREDPLUGIN_TOKEN_URL"])
        user, password = answer["username"], answer["password"]
        duration = duration or f"{answer['expiresIn']:g}s"
    if mode == "bad-password":
        password += "-revoked"
    if mode == "exit":
        sys.stderr.write(f"failed, the token was {password}\n")
        return 3
    if mode == "hang":
        time.sleep(3600)
    if mode == "garbage":
        sys.stdout.write(f"<html>{password}</html>")
        return 0
    if mode == "huge":
        sys.stdout.write("x" * (2 << 20))
        return 0
    if mode == "deep":
        sys.stdout.write("[" * 5000 + "]" * 5000)
        return 0
    if mode == "token-on-stderr":
        sys.stderr.write(password * 10000)
    key = os.environ.get("CREDPLUGIN_KEY", image.split("/")[0])
    if mode == "no-match":
        key = "elsewhere.example.com"
    response = {
        "kind": "CredentialProviderResponse" if mode != "wrong-kind" else "Status",
        "apiVersion": request["apiVersion"] if mode != "wrong-version" else "credentialprovider.kubelet.k8s.io/v9",
        "auth": {key: {"username": user, "password": password}},
    }
    if mode != "no-cache-key":
        response["cacheKeyType"] = "Registry"
    if duration:
        response["cacheDuration"] = duration
    sys.stdout.write(json.dumps(response))
    return 0


if __name__ == "__main__":
    sys.exit(main())
