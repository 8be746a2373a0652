"""The registry shell: it sends what the flow yields, and keeps every registry's failure in its own result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from regcred.core.verify.plan import Target
from regcred.shells import registry as registry_shell
from regcred.shells.registry import RegistryClient, VerifyOptions
from tests.support.fakeregistry import BASIC, FakeServer, Route, basic_registry


def test_an_unforeseen_failure_is_that_registrys_result_and_never_quotes_the_exception(
        serve: Callable[[Route], FakeServer], monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-registry isolation is a rule, not a list of known cases: any exception one check raises (here a
    planted one whose text holds a secret) becomes that registry's result; the other registry is checked."""
    good = serve(basic_registry())
    real_flow = registry_shell.check_flow

    def flow(target: Target, *args: Any, **kwargs: Any) -> Any:
        if target.registry == "hostile.example":
            raise RecursionError(f"secret {BASIC}")
        return real_flow(target, *args, **kwargs)

    monkeypatch.setattr(registry_shell, "check_flow", flow)
    password = "fake-Secret-pw-42"
    targets = [Target("hostile.example", "alice", password), Target(good.host, "alice", password)]
    with RegistryClient(VerifyOptions(insecure_http=True, timeout=5, concurrency=2)) as client:
        hostile, ok = client.verify_all(targets)
    assert ok.ok and ok.login
    assert hostile.errors == ["the check of hostile.example stopped on an unexpected RecursionError; other "
                              "registries are checked as usual"]
    assert not hostile.ok and BASIC not in repr(hostile)


def test_keyboard_interrupt_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only failures of the check are isolated; the user stopping the run still stops it."""

    def interrupted(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(registry_shell, "check_flow", interrupted)
    with RegistryClient(VerifyOptions()) as client, pytest.raises(KeyboardInterrupt):
        client.verify(Target("r.example", "u", "p"))
