"""Controller logs: JSON lines or text, and no credential in any record, whatever a call site passes."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator

import pytest

from regcred.controller import logs
from tests.support.cli import assert_no_secret, encoded_forms

PASSWORD = "s3cr3t-Passw0rd-XYZ"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlLXZhbHVl"
REGISTERED = "opaque-value-registered-7Q"
AUTH = base64.b64encode(f"robot:{PASSWORD}".encode()).decode()
DOCKERCONFIG = json.dumps({"auths": {"registry.example:5000": {"username": "robot", "password": PASSWORD,
                                                              "auth": AUTH}}})
SECRET = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
          "metadata": {"name": "regcred", "namespace": "team-a"},
          "data": {".dockerconfigjson": base64.b64encode(DOCKERCONFIG.encode()).decode()}}


@pytest.fixture(params=[True, False], ids=["json", "text"])
def captured(request: pytest.FixtureRequest) -> Iterator[tuple[io.StringIO, bool]]:
    stream = io.StringIO()
    handler = logs.configure_logging(json=request.param, level="DEBUG", stream=stream)
    yield stream, request.param
    logging.getLogger("regcred").removeHandler(handler)


def emit_everything_a_careless_call_site_could() -> None:
    log = logging.getLogger("regcred.controller.reconcile")
    logs.register_secret(REGISTERED)
    log.info("applied secret %s", SECRET)
    log.info("payload %s", DOCKERCONFIG)
    log.info("payload as base64 %s", SECRET["data"][".dockerconfigjson"])
    log.warning("got auth=%s and password: %s", AUTH, PASSWORD)
    log.info("request", extra={"headers": {"Authorization": f"Bearer {TOKEN}"}, "secret": SECRET,
                               "object": {"stringData": {"key": PASSWORD}}, "namespace": "team-a"})
    log.info(f"a Python repr: {({'password': PASSWORD, 'token': TOKEN})}")
    log.debug("calling with Authorization: Bearer %s", TOKEN)
    log.info("a registered value in free text: %s, and base64: %s", REGISTERED,
             base64.b64encode(f"x{REGISTERED}".encode()).decode())
    try:
        raise ValueError(f"cannot parse {DOCKERCONFIG}")
    except ValueError:
        log.exception("reconcile failed")


def test_no_credential_in_any_record(captured: tuple[io.StringIO, bool]) -> None:
    stream, as_json = captured
    emit_everything_a_careless_call_site_could()
    out = stream.getvalue()
    assert_no_secret(out, [PASSWORD, TOKEN, AUTH, REGISTERED, DOCKERCONFIG])
    assert "<redacted>" in out
    # what is not a credential stays readable
    assert "team-a" in out and "registry.example:5000" in out and "reconcile failed" in out
    if as_json:
        records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert len(records) == 9
        assert {r["level"] for r in records} >= {"info", "warning", "debug", "error"}
        assert records[4]["namespace"] == "team-a" and records[4]["secret"] == "<redacted>"
        assert "ValueError" in records[-1]["error"]
        assert all(r["logger"] == "regcred.controller.reconcile" for r in records)


def test_text_format_is_one_line_per_record_with_fields() -> None:
    stream = io.StringIO()
    handler = logs.configure_logging(json=False, level=logging.INFO, stream=stream)
    try:
        logging.getLogger("regcred.controller.leader").info("leading", extra={"lease": "regcred/regcred"})
        logging.getLogger("regcred.controller.leader").debug("not shown at INFO")
    finally:
        logging.getLogger("regcred").removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    assert line.endswith('INFO    regcred.controller.leader: leading lease="regcred/regcred"'), line


def test_the_detector_catches_what_the_filter_would_miss() -> None:
    """The check is honest: without the filter the same records leak."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("regcred")
    logger.addHandler(handler)
    try:
        logging.getLogger("regcred.controller.reconcile").warning("password: %s", PASSWORD)
    finally:
        logger.removeHandler(handler)
    assert any(form in stream.getvalue() for form in encoded_forms(PASSWORD))
