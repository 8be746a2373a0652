"""Running a plugin as the kubelet does (tests/support/credplugin.py, a real process): answers, failures, reuse."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from regcred.core.credentials.provider import CredentialProvider
from regcred.core.errors import InputError
from regcred.shells.credprovider import PluginCache, fetch

PLUGIN = str(Path(__file__).resolve().parents[2] / "support" / "credplugin.py")
TOKEN = "t0ken-that-must-not-leak"


def provider(tmp_path: Path, timeout: float = 10.0, **env: str) -> CredentialProvider:
    calls = {"CREDPLUGIN_CALLS": str(tmp_path / "calls")}
    return CredentialProvider(PLUGIN, (), tuple({**calls, **env}.items()),
                              image="r.example.com/team/app", timeout=timeout)


def calls(tmp_path: Path) -> list[str]:
    path = tmp_path / "calls"
    return path.read_text().splitlines() if path.exists() else []


def test_the_plugin_answers_for_the_image(tmp_path: Path) -> None:
    got = fetch(provider(tmp_path, CREDPLUGIN_DURATION="90s", CREDPLUGIN_PASSWORD=TOKEN), "w")
    assert (got.username, got.password, got.lifetime) == ("plugin-user", TOKEN, 90)
    assert calls(tmp_path) == ["r.example.com/team/app"]
    assert TOKEN not in repr(got)


def test_env_is_added_to_the_parent_environment_and_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDPLUGIN_USER", "from-parent")
    monkeypatch.setenv("CREDPLUGIN_PASSWORD", "parent-password")
    got = fetch(provider(tmp_path, CREDPLUGIN_USER="from-spec"), "w")
    assert (got.username, got.password) == ("from-spec", "parent-password")


@pytest.mark.parametrize(("mode", "message"), [
    ("exit", "plugin credplugin.py exited with status 3; its"),
    ("garbage", "its output is not JSON"),
    ("wrong-version", "apiVersion 'credentialprovider.kubelet.k8s.io/v9', not the request's"),
    ("wrong-kind", "kind 'Status'"),
    ("no-match", "no auth entry matching 'r.example.com/team/app'"),
    ("no-cache-key", "no valid cacheKeyType"),
    ("huge", "wrote more than 1048576 bytes and was killed"),
    ("deep", "nested too deeply"),
    ("token-on-stderr", "bytes on stderr and was killed"),
])
def test_a_misbehaving_plugin_is_one_line_without_a_token(tmp_path: Path, mode: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        fetch(provider(tmp_path, CREDPLUGIN_MODE=mode, CREDPLUGIN_PASSWORD=TOKEN), "f.yaml: spec.registries[0]")
    line = info.value.line()
    assert line.startswith("f.yaml: spec.registries[0]: plugin credplugin.py") and message in line, line
    assert TOKEN not in line and "\n" not in line


def test_a_hanging_plugin_is_killed_at_the_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(InputError, match=r"did not answer within 0.5s and was killed"):
        fetch(provider(tmp_path, timeout=0.5, CREDPLUGIN_MODE="hang"), "w")
    assert time.monotonic() - started < 30  # killed, not waited for (the plugin sleeps an hour)


def test_a_command_that_cannot_run_is_one_line(tmp_path: Path) -> None:
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\necho hi\n")
    for command in (str(tmp_path / "missing"), str(script)):
        with pytest.raises(InputError, match=r"^w: cannot run .*: (No such file|Permission denied)"):
            fetch(CredentialProvider(command, image="a.io"), "w")


def test_one_resolution_asks_each_source_once(tmp_path: Path) -> None:
    cache, source = PluginCache(), provider(tmp_path)
    answers = {cache.get(source, "w").password for _ in range(50)}
    assert answers == {"token-1"} and cache.calls == 1 and len(calls(tmp_path)) == 1


def test_a_long_lived_cache_asks_again_after_its_fraction_of_the_lifetime(tmp_path: Path) -> None:
    cache = PluginCache(0.8, floor=0.0)
    source = provider(tmp_path, CREDPLUGIN_DURATION="1s")
    assert cache.get(source, "w").password == "token-1"
    assert cache.get(source, "w").password == "token-1"
    time.sleep(0.85)
    assert cache.get(source, "w").password == "token-2"
    assert len(calls(tmp_path)) == 2


def test_one_resolution_does_not_keep_a_failure(tmp_path: Path) -> None:
    mode = tmp_path / "mode"
    mode.write_text("exit")
    cache, source = PluginCache(), provider(tmp_path, CREDPLUGIN_MODE_FILE=str(mode))
    with pytest.raises(InputError):
        cache.get(source, "w")
    mode.unlink()
    assert cache.get(source, "w").password == "token-2" and cache.calls == 2


def test_the_controllers_cache_backs_off_a_failing_source_with_jitter(tmp_path: Path) -> None:
    mode = tmp_path / "mode"
    mode.write_text("exit")
    now = [time.time()]
    cache = PluginCache(0.8, floor=10.0, retry_cap=40.0, clock=lambda: now[0])
    source = provider(tmp_path, CREDPLUGIN_MODE_FILE=str(mode))

    def attempt(after: float) -> int:
        """The calls made so far, after `after` more seconds and one more reconcile."""
        now[0] += after
        with pytest.raises(InputError, match="exited with status 3"):
            cache.get(source, "w")
        return len(calls(tmp_path))

    assert [attempt(0) for _ in range(5)] == [1] * 5  # every namespace at once: one call
    # waits of 10 s, then 20 s, then 40 s (the cap), each stretched by up to 100 %: never before, always after
    assert attempt(9.99) == 1 and attempt(10.02) == 2
    assert attempt(19.99) == 2 and attempt(20.02) == 3
    assert attempt(39.99) == 3 and attempt(40.02) == 4
    assert attempt(39.99) == 4 and attempt(40.02) == 5  # capped
    mode.unlink()
    now[0] += 80.0
    assert cache.get(source, "w").password == "token-6"
    mode.write_text("exit")  # a success resets the backoff: the next failure waits 10-20 s again
    now[0] += 3600.0  # the answer (no cacheDuration) is reused for the floor; an hour later it is asked again
    assert attempt(0) == 7 and attempt(9.99) == 7 and attempt(10.02) == 8


def test_a_hanging_source_does_not_hold_up_another(tmp_path: Path) -> None:
    (tmp_path / "hang").mkdir()
    (tmp_path / "ok").mkdir()
    cache = PluginCache(0.8, floor=10.0)
    hanging = provider(tmp_path / "hang", timeout=3.0, CREDPLUGIN_MODE="hang")
    fine = provider(tmp_path / "ok", CREDPLUGIN_DURATION="1h")
    failed: list[str] = []

    def stuck() -> None:
        try:
            cache.get(hanging, "w")
        except InputError as exc:
            failed.append(exc.message)

    worker = threading.Thread(target=stuck)
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while not calls(tmp_path / "hang") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert calls(tmp_path / "hang"), "the hanging plugin never started"
        assert cache.get(fine, "w").password == "token-1"
        assert worker.is_alive()  # answered while the other source's plugin still hangs
    finally:
        worker.join(10)
    assert failed and "did not answer within 3s" in failed[0]


def test_a_child_left_holding_the_output_is_killed_with_the_plugin(tmp_path: Path) -> None:
    pid_file = tmp_path / "child"
    script = tmp_path / "plugin"
    script.write_text(f"#!/bin/sh\nsleep 3600 &\necho $! > {pid_file}\necho '{{}}'\n")
    script.chmod(0o755)
    with pytest.raises(InputError, match=r"did not answer within 0\.5s and was killed"):
        fetch(CredentialProvider(str(script), image="a.io", timeout=0.5), "w")
    stat = Path(f"/proc/{pid_file.read_text().strip()}/stat")
    deadline = time.monotonic() + 10
    while stat.exists() and stat.read_text().split(") ")[-1][0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)  # SIGKILL is delivered asynchronously
    assert not stat.exists() or stat.read_text().split(") ")[-1][0] == "Z"  # gone, or dead and not yet reaped
