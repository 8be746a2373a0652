"""Issue 11, items 1-4: hostile input ends fast, with exit 2 and one line, in every command that reads a file.

Before the input rules (shells/input, core/safeload) deep nesting gave `internal error: RecursionError`
(exit 70), alias bombs hung spec validate/plan/apply/render/inject, /dev/zero grew to gigabytes, a FIFO
blocked node doctor/install forever, and control characters gave a two-line error.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import run_regcred
from tests.support.hostile import (
    CONFIG_READERS,
    DEPLOYMENT,
    MANIFEST_READERS,
    SPEC,
    alias_bomb,
    assert_handled,
    bomb_in_configmap,
    bomb_in_deployment,
    deep_json,
    deep_object,
    isolated_env,
    sha256,
)

# node doctor reports a bad file as one of its findings (exit 1) instead of stopping
_DOCTOR = ("node doctor",)


def _codes(name: str) -> tuple[int, ...]:
    return (1,) if name in _DOCTOR else (2,)


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    return "\n".join(lines)


@pytest.mark.parametrize("name", sorted(CONFIG_READERS))
@pytest.mark.parametrize("text", [deep_json(), deep_object(), deep_json(150)], ids=["list", "object", "150"])
def test_deep_nesting_in_a_credential_file_is_bad_input(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(text)
    result = CONFIG_READERS[name](path, tmp_path)
    assert_handled(result, codes=_codes(name))
    assert "nested deeper than 100 levels" in _error_line(result), result.stderr


@pytest.mark.parametrize("name", sorted(MANIFEST_READERS))
@pytest.mark.parametrize("text", ["a: " + deep_json(), "a: " + deep_json(150), deep_json(150)],
                         ids=["yaml-100000", "yaml-150", "json-150"])
def test_deep_nesting_in_a_manifest_is_bad_input(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    before = sha256(path)
    result = MANIFEST_READERS[name](path, tmp_path)
    assert_handled(result, codes=(2,))
    assert "nest" in _error_line(result), result.stderr
    assert sha256(path) == before


@pytest.mark.parametrize("name", sorted(MANIFEST_READERS))
@pytest.mark.parametrize("text", [bomb_in_configmap(), bomb_in_deployment(), "l: &l [*l]\n"],
                         ids=["configmap", "deployment", "self"])
def test_alias_bombs_are_refused_fast(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    started = time.monotonic()
    result = MANIFEST_READERS[name](path, tmp_path)
    assert time.monotonic() - started < 30
    assert_handled(result, codes=(2,))
    line = _error_line(result)
    assert "excessive aliasing" in line or "alias to itself" in line, result.stderr


def test_a_modest_use_of_anchors_still_works(tmp_path: Path) -> None:
    doc = DEPLOYMENT.replace("selector: {matchLabels: {app: web}}", "selector: {matchLabels: &l {app: web}}")
    doc = doc.replace("metadata: {labels: {app: web}}", "metadata: {labels: *l}")
    path = tmp_path / "d.yaml"
    path.write_text(doc + "---\n" + alias_bomb(levels=3, width=3))
    result = run_regcred("inject", "s", "-f", path)
    assert result.returncode == 0, result.stderr
    assert "imagePullSecrets" in result.stdout


@pytest.mark.parametrize("name", sorted(CONFIG_READERS) + sorted(MANIFEST_READERS))
def test_a_device_is_refused_before_reading(tmp_path: Path, name: str) -> None:
    runner = {**CONFIG_READERS, **MANIFEST_READERS}[name]
    result = runner(Path("/dev/zero"), tmp_path)
    assert_handled(result, codes=_codes(name))
    assert ("not found" if name == "kubeconfig" else "character device") in _error_line(result), result.stderr


@pytest.mark.parametrize("name", sorted(CONFIG_READERS) + sorted(MANIFEST_READERS))
def test_a_fifo_never_blocks(tmp_path: Path, name: str) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    runner = {**CONFIG_READERS, **MANIFEST_READERS}[name]
    result = runner(fifo, tmp_path)  # run_regcred's timeout fails the test if it blocks
    assert_handled(result, codes=_codes(name))
    assert ("not found" if name == "kubeconfig" else "FIFO") in _error_line(result), result.stderr


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (768 * 1024 * 1024, 768 * 1024 * 1024))


@pytest.mark.parametrize("args", [("auth", "list", "--file"), ("spec", "validate", "-f"), ("inject", "s", "-f")])
def test_dev_zero_under_a_memory_limit_is_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = subprocess.run([sys.executable, "-m", "regcred", *args, "/dev/zero"], capture_output=True, text=True,
                            timeout=60, preexec_fn=_limit_memory, env={**os.environ, **isolated_env(tmp_path)},
                            check=False)
    assert_handled(result, codes=(2,))


def test_files_over_the_size_cap_are_refused_and_the_cap_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"auths": {"r.example.com": {"auth": "dTpw"}}, "pad": "' + "x" * 2048 + '"}')
    small = run_regcred("auth", "list", "--file", path, env={"REGCRED_MAX_INPUT_BYTES": "1K"})
    assert_handled(small, codes=(2,))
    assert "input limit of 1 KiB" in small.stderr and "REGCRED_MAX_INPUT_BYTES" in small.stderr
    assert run_regcred("auth", "list", "--file", path, env={"REGCRED_MAX_INPUT_BYTES": "4K"}).returncode == 0
    bad = run_regcred("auth", "list", "--file", path, env={"REGCRED_MAX_INPUT_BYTES": "lots"})
    assert_handled(bad, codes=(2,))


@pytest.mark.parametrize("args", [("spec", "validate", "-f", "-"), ("inject", "s", "-f", "-"),
                                  ("audit", "-f", "-"), ("match", "--secret-file", "-", "r.example.com/a")])
def test_stdin_is_bounded_too(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run_regcred(*args, input=SPEC * 100, env={"REGCRED_MAX_INPUT_BYTES": "1K"})
    assert_handled(result, codes=(2,))
    assert "<stdin>" in result.stderr and "input limit" in result.stderr


def test_password_stdin_is_bounded(tmp_path: Path) -> None:
    result = run_regcred("auth", "add", "r.example.com", "-u", "u", "--password-stdin", "--file",
                         tmp_path / "c.json", input="p" * 2048, env={"REGCRED_MAX_INPUT_BYTES": "1K"})
    assert_handled(result, codes=(2,))
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize("name", sorted(MANIFEST_READERS))
@pytest.mark.parametrize("char", ["\x01", "\x7f", "\ufffe"], ids=["soh", "del", "nonchar"])
def test_control_characters_are_one_line(tmp_path: Path, name: str, char: str) -> None:
    path = tmp_path / "ctl.yaml"
    path.write_text(DEPLOYMENT.replace("name: web", f'name: "we{char}b"'))
    result = MANIFEST_READERS[name](path, tmp_path)
    assert_handled(result, codes=(2,))
    assert "in \"<unicode string>\"" not in result.stderr and "position" not in result.stderr
    assert "line 4" in result.stderr, result.stderr


@pytest.mark.parametrize("error", [MemoryError, RecursionError])
def test_memory_and_recursion_errors_are_never_internal_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: type[Exception]
) -> None:
    """The last resort in main (the causes are bounded above): one line, exit 2, never exit 70."""
    from regcred.cli.main import main
    from regcred.shells import credfile

    def fail(path: Path) -> None:
        raise error()

    monkeypatch.setattr(credfile, "load", fail)
    monkeypatch.delenv("REGCRED_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["auth", "list", "--file", str(tmp_path / "c.json")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("regcred: error: the input is") and err.count("\n") == 1


def test_a_fifo_where_node_install_keeps_its_backup_never_blocks(tmp_path: Path) -> None:
    """Before: node install --keep-backup blocked forever reading the old backup (a FIFO) to be able to restore it."""
    kubelet = tmp_path / "host" / "var" / "lib" / "kubelet"
    kubelet.mkdir(parents=True)
    (kubelet / "config.json").write_text('{"auths": {}}\n')
    os.mkfifo(kubelet / "config.json.regcred-bak")
    result = run_regcred("node", "install", "r.example.com", "-u", "u", "--password-env", "PW", "--runtime", "none",
                         "--keep-backup", "--host-root", tmp_path / "host", env=isolated_env(tmp_path), timeout=30)
    assert_handled(result, codes=(1, 2))
    assert "config.json.regcred-bak: is a FIFO" in result.stderr
    assert (kubelet / "config.json").read_text() == '{"auths": {}}\n'
