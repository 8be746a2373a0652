"""The controller's logs: text or JSON lines on stderr, and a filter that keeps every credential out of them.

A log line outlives the Secret it mentions (shipped, indexed, shared in issues), so redaction is not left to
each call site: the handler's filter rewrites every record before any formatter sees it. It removes
credential-shaped values from the message, its arguments, the `extra` fields and the traceback: values under
keys such as password/auth/token/data, Bearer tokens, base64 docker-config documents, and any value registered
with `register_secret` (with its base64 forms) by code that reads one.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from typing import IO, Any

from regcred.core.credentials.dockerconfig import DockerConfig

REDACTED = "<redacted>"
SECRET_KEYS = frozenset({"password", "auth", "token", "identitytoken", "registrytoken", "data", "stringdata",
                         ".dockerconfigjson", ".dockercfg", "authorization", "bearer", "secret"})
_KEY = r"(?:password|auth|token|identitytoken|registrytoken|identityToken|registryToken|authorization)"
_PATTERNS = (
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+"),
    # "password": "x" / 'auth': 'x' / password=x / token: x  (JSON, Python repr, key=value, YAML)
    re.compile(r"""(?i)(["']?\b""" + _KEY + r"""["']?\s*[:=]\s*)(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;}&)\]]+)"""),
    # "data": {...} / 'stringData': {...}: a Secret's whole payload (its values are strings: no nested braces)
    re.compile(r"""(?i)(["']?\b(?:data|stringData)["']?\s*[:=]\s*)\{[^{}]*\}"""),
    # base64 of a JSON document ('{"' encodes as eyJ): a docker config, or a JWT with its dots
    re.compile(r"()eyJ[A-Za-z0-9+/_.=-]{13,}"),
)
_registered: set[str] = set()
_lock = threading.Lock()
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def register_secret(value: str) -> None:
    """A credential value this process holds: it and its base64 forms are cut from every later record."""
    if len(value) < 4:
        return
    data = value.encode()
    forms = {value, base64.b64encode(data).decode()}
    for shift in range(3):  # inside a longer base64 document, at each alignment
        encoded = base64.b64encode(b"\0" * shift + data).decode()
        start, end = (shift + 2) // 3 * 4, (shift + len(data)) // 3 * 4
        if end - start >= 8:
            forms.add(encoded[start:end])
    with _lock:
        _registered.update(forms)


def register_config(config: DockerConfig) -> None:
    """Every credential value of a parsed docker config: passwords, `auth` values, tokens."""
    for entry in config.entries:
        register_secret(entry.password)
    auths = config.raw.get("auths")
    for fields in (auths.values() if isinstance(auths, dict) else ()):
        for key, value in (fields.items() if isinstance(fields, dict) else ()):
            if key.lower() in SECRET_KEYS and isinstance(value, str):
                register_secret(value)


def redact_text(text: str) -> str:
    """`text` with every credential-shaped or registered value replaced by <redacted>."""
    with _lock:
        known = sorted(_registered, key=len, reverse=True)
    for value in known:
        text = text.replace(value, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def redact_value(value: Any) -> Any:
    """A structured value (an `extra` field) with secret keys' values removed and strings redacted."""
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in SECRET_KEYS else redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


class RedactFilter(logging.Filter):
    """Rewrites the record in place: message rendered and redacted, extras redacted, traceback redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = redact_text(message), None
        for key in [k for k in vars(record) if k not in _STANDARD]:
            setattr(record, key, REDACTED if key.lower() in SECRET_KEYS else redact_value(getattr(record, key)))
        if record.exc_info:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the extra fields, and error (a traceback) if any."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname.lower(), "logger": record.name,
                               "msg": record.getMessage(), **_extras(record)}
        if record.exc_text:
            doc["error"] = record.exc_text
        return json.dumps(doc, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`TIME LEVEL logger: message key=value ...`: for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in _extras(record).items())
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        line = f"{line} {fields}" if fields else line
        return f"{line}\n{record.exc_text}" if record.exc_text else line


def configure_logging(json: bool = False, level: int | str = logging.INFO, stream: IO[str] | None = None,
                      ) -> logging.Handler:
    """Send `regcred.*` records to stderr through the redacting filter; returns the handler (tests remove it)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactFilter())
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    logger = logging.getLogger("regcred")
    for old in [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    logger.propagate = False
    return handler
