"""States as types: their printed forms are stable contracts (JSON outputs, tables, audit object names)."""

from __future__ import annotations

import json

import pytest
import yaml

from regcred.core.credentials.pullsecret import read_pull_secret, secret_manifest
from regcred.core.credentials.source import CredentialSource, SourceKind
from regcred.usecases.dryrun import DryRun
from regcred.usecases.rows import RowStatus, TargetResult, summarize


def test_credential_source_labels() -> None:
    assert CredentialSource.file("/etc/cfg.json").label == "/etc/cfg.json"
    assert CredentialSource.secret("team", "pull").label == "secret team/pull"
    assert CredentialSource.secret(None, "pull").label == "secret pull"
    assert CredentialSource.node("/var/lib/kubelet/config.json").label == "NodeConfig//var/lib/kubelet/config.json"
    assert CredentialSource.command_line().label == "command line"
    assert str(CredentialSource.secret("a", "b")) == "secret a/b"
    assert CredentialSource.secret("a", "b").kind is SourceKind.SECRET


def test_a_pull_secret_names_itself_through_its_source() -> None:
    obj = secret_manifest("pull", b'{"auths": {}}', namespace="team")
    assert read_pull_secret(obj).source == "secret team/pull"


def test_row_status_values_are_the_printed_words() -> None:
    assert RowStatus.would("create") is RowStatus.WOULD_CREATE
    assert RowStatus.would("remove").value == "would-remove"
    with pytest.raises(ValueError):
        RowStatus.would("explode")
    row = TargetResult("ns", "Secret/pull", RowStatus.UPDATED, "done")
    doc = {"results": [row.as_json()], "summary": summarize([row, row])}
    assert json.loads(json.dumps(doc))["results"][0]["status"] == "updated"
    assert yaml.safe_load(yaml.safe_dump(doc)) == {  # plain strings: safe_dump refuses enum members
        "results": [{"namespace": "ns", "name": "Secret/pull", "status": "updated", "message": "done"}],
        "summary": {"updated": 2}}


def test_dry_run_modes() -> None:
    assert [m.value for m in DryRun] == ["none", "client", "server"]
    assert DryRun("client").sends_nothing and not DryRun.CLIENT.on_server
    assert DryRun.SERVER.on_server and DryRun.SERVER.changes_nothing and not DryRun.NONE.changes_nothing
