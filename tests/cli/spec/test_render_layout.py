"""render edits a given ServiceAccount in the file's own layout: line endings and list indentation survive."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import run_regcred

SPEC = """\
apiVersion: regcred.dev/v1alpha1
kind: RegistryCredential
metadata: {name: harbor}
spec:
  registries: [{server: r.example.com, username: u, passwordFrom: {env: T}}]
  namespaces: {include: [team-a]}
  serviceAccounts: [builder]
"""

SA = ("apiVersion: v1\r\nkind: ServiceAccount\r\nmetadata:\r\n    name: builder    # CI\r\n    namespace: team-a\r\n"
      "imagePullSecrets:\r\n    -   name: existing\r\n")


def test_a_crlf_service_account_with_wide_indentation_keeps_its_layout(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SPEC)
    (tmp_path / "sa.yaml").write_bytes(SA.encode())
    out = tmp_path / "out"
    result = run_regcred("render", "-f", tmp_path / "s.yaml", "-f", tmp_path / "sa.yaml", "--out", out, "--no-secrets")
    assert result.returncode == 0, result.stderr
    text = (out / "team-a" / "serviceaccount-builder.yaml").read_bytes().decode()
    # CRLF on every line (no stray carriage return after a comment), the list at the file's own offset; the
    # mappings come out at ruamel's 2 spaces (a round trip, unlike inject's text edits)
    assert text == ("apiVersion: v1\r\nkind: ServiceAccount\r\nmetadata:\r\n  name: builder      # CI\r\n"
                    "  namespace: team-a\r\n  annotations:\r\n    regcred.dev/added-pull-secrets: harbor\r\n"
                    "imagePullSecrets:\r\n    - name: existing\r\n    - name: harbor\r\n")
