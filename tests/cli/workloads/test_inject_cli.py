"""`regcred inject` as users run it: a subprocess, so exit codes and the absence of tracebacks are real."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from tests.support.cli import assert_clean_error, run_regcred
from tests.support.workloadtexts import CRONJOB, DEPLOYMENT, EXISTING_BLOCK, JSON_DOC, MULTI


def _secrets(text: str) -> list[list[str]]:
    out = []
    for doc in yaml.safe_load_all(text):
        spec = (doc or {}).get("spec", {}).get("template", {}).get("spec")
        if spec is not None:
            out.append([e["name"] for e in spec.get("imagePullSecrets", [])])
    return out


def test_stdin_to_stdout() -> None:
    result = run_regcred("inject", "regsecret", input=DEPLOYMENT)
    assert result.returncode == 0, result.stderr
    assert _secrets(result.stdout) == [["regsecret"]]
    assert "# leading comment of the stream" in result.stdout


def test_directory_in_place_keeps_modes_and_skips_other_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    a, b, c = tmp_path / "a.yaml", tmp_path / "sub" / "b.yml", tmp_path / "c.json"
    untouched = tmp_path / "notes.txt"
    a.write_text(DEPLOYMENT)
    b.write_text(EXISTING_BLOCK)
    c.write_text(JSON_DOC)
    untouched.write_text("kind: Deployment\n")
    os.chmod(a, 0o640)
    os.chmod(c, 0o604)
    result = run_regcred("inject", "regsecret", "-f", tmp_path, "--in-place")
    assert result.returncode == 0, result.stderr
    assert (a.stat().st_mode & 0o777, c.stat().st_mode & 0o777) == (0o640, 0o604)
    assert _secrets(a.read_text()) == [["regsecret"]]
    assert _secrets(b.read_text()) == [["other", "third", "regsecret"]]
    assert json.loads(c.read_text())["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "regsecret"}]
    assert untouched.read_text() == "kind: Deployment\n"
    assert "3 pod specs updated in 3 of 3 files" in result.stderr
    again = run_regcred("inject", "regsecret", "-f", tmp_path, "--in-place")
    assert "0 pod specs updated in 0 of 3 files" in again.stderr


def test_in_place_writes_nothing_when_any_file_is_invalid(tmp_path: Path) -> None:
    good, bad = tmp_path / "a.yaml", tmp_path / "b.yaml"
    good.write_text(DEPLOYMENT)
    bad.write_text("kind: ConfigMap\n---\nkind: Pod\nspec: {containers: [\n")
    result = run_regcred("inject", "regsecret", "-f", good, "-f", bad, "--in-place")
    assert_clean_error(result, 2, str(bad), "document 2", "line", "nothing was written")
    assert good.read_text() == DEPLOYMENT


def test_multiple_files_to_stdout_form_one_stream(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(DEPLOYMENT.rstrip("\n"))
    (tmp_path / "b.yaml").write_text(MULTI)
    result = run_regcred("inject", "s1", "-f", tmp_path / "a.yaml", "-f", tmp_path / "b.yaml")
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert [d["kind"] for d in docs] == ["Deployment", "ConfigMap", "Deployment", "Widget"]


def test_registry_filter_and_service_account_refusal_exit_1(tmp_path: Path) -> None:
    text = MULTI.replace("serviceAccountName: 'default'", "serviceAccountName: ops") + "---\n" + CRONJOB
    result = run_regcred("inject", "regsecret", "--service-account", "puller", "--registry", "registry.example.com",
                         input=text)
    assert result.returncode == 1
    assert "skipped Deployment/api in <stdin>: uses ServiceAccount 'ops'" in result.stderr
    assert "1 pod specs skipped" in result.stderr and "Traceback" not in result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert "imagePullSecrets" not in docs[1]["spec"]["template"]["spec"]  # refused: untouched
    cron = docs[3]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert cron["serviceAccountName"] == "puller" and cron["imagePullSecrets"] == [{"name": "regsecret"}]


def test_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    assert_clean_error(run_regcred("inject", "Bad_Name", input=DEPLOYMENT), 2, "invalid Secret name 'Bad_Name':")
    assert_clean_error(run_regcred("inject", "s", "--registry", "host:abc", input=DEPLOYMENT), 2, "--registry")
    assert_clean_error(run_regcred("inject", "s", "-f", tmp_path / "missing.yaml"), 2, "missing.yaml")
    assert_clean_error(run_regcred("inject", "s", "-f", "-", "--in-place", input=DEPLOYMENT), 2, "standard input")
    assert_clean_error(run_regcred("inject", "s", "-f", tmp_path), 2, "no *.yaml")
    assert_clean_error(run_regcred("inject", "s", "--service-account", "NOPE", input=DEPLOYMENT), 2, "NOPE")
    (tmp_path / "x.yaml").write_bytes(b"kind: Pod\nname: \xff\n")
    assert_clean_error(run_regcred("inject", "s", "-f", tmp_path / "x.yaml"), 2, "not UTF-8")


def test_crlf_files_to_stdout_stay_crlf(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_bytes(b"kind: Pod\r\nspec:\r\n  containers: [{image: r.io/a}]\r\n")
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "regcred", "inject", "s", "-f", str(tmp_path)],
                            capture_output=True, stdin=subprocess.DEVNULL, check=False)  # bytes: no newline translation
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert out.count("- name: s\r\n") == 2 and "---\r\n" in out and out.count("\n") == out.count("\r\n")


def test_non_utf8_stdin_is_one_line_exit_2() -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "regcred", "inject", "s"], input=b"kind: Pod\nmetadata: {name: \xff}\n",
                            capture_output=True, check=False)
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    assert result.stderr.decode().strip() == "regcred: error: <stdin>: not UTF-8 text (byte 27) (nothing was written)"
    assert result.stdout == b""


def test_in_place_with_a_duplicate_key_writes_no_file(tmp_path: Path) -> None:
    good, dup = tmp_path / "a.yaml", tmp_path / "b.yaml"
    good.write_text(DEPLOYMENT)
    dup_text = "kind: Pod\nmetadata:\n  name: p\nspec:\n  containers: []\n  containers: []\n"
    dup.write_text(dup_text)
    result = run_regcred("inject", "regsecret", "-f", good, "-f", dup, "--in-place")
    assert_clean_error(result, 2, str(dup), "document 1", "line 6", "duplicate key 'containers'", "nothing was written")
    assert good.read_text() == DEPLOYMENT and dup.read_text() == dup_text
