"""Pull Events told apart by cause, on the wording the real kubelet and runtimes record.

Sources: the kubelet's image manager (pkg/kubelet/images/image_manager.go: `Failed to pull image %q: %v`,
`Error: ErrImagePull`, `Back-off pulling image %q`, `FailedToRetrieveImagePullSecret`); containerd 1.6 on a real
kubelet 1.36 against an htpasswd registry (/work/shared/reference/real-components.md: `pulling from host ... failed
with status code [manifests v1]: 401 Unauthorized`); containerd's token flow (`failed to authorize: failed to fetch
anonymous token: unexpected status from GET request to ...: 401 Unauthorized`); containerd's resolver for an
unknown tag (`IMAGE: not found`); CRI-O/distribution (`manifest unknown`); Go's TLS and dialer errors.
"""

from __future__ import annotations

import pytest

from regcred.core.why.events import classify, failing_causes, pull_events

IMG = "127.0.0.1:5000/team/app:v1"
PREFIX = f'Failed to pull image "{IMG}": failed to pull and unpack image "{IMG}": failed to resolve reference "{IMG}": '

RECORDED = [
    (PREFIX + "pulling from host 127.0.0.1:5000 failed with status code [manifests v1]: 401 Unauthorized",
     "unauthorized"),
    (PREFIX + "failed to authorize: failed to fetch anonymous token: unexpected status from GET request to "
     "https://ghcr.io/token?scope=repository%3Ateam%2Fapp%3Apull&service=ghcr.io: 401 Unauthorized", "unauthorized"),
    (PREFIX + "failed to authorize: failed to fetch oauth token: unexpected status from POST request to "
     "https://auth.example.com/token: 401 Unauthorized", "unauthorized"),
    (PREFIX + "failed to authorize: failed to fetch anonymous token: unexpected status: 403 Forbidden", "unauthorized"),
    (f'Failed to pull image "{IMG}": rpc error: code = Unknown desc = Error response from daemon: pull access denied '
     "for team/app, repository does not exist or may require 'docker login': denied: requested access to the "
     "resource is denied", "unauthorized"),
    (PREFIX + f"{IMG}: not found", "not-found"),
    (f'Failed to pull image "{IMG}": rpc error: code = Unknown desc = reading manifest v1 in 127.0.0.1:5000/team/app: '
     "manifest unknown: manifest unknown", "not-found"),
    (PREFIX + 'failed to do request: Head "https://127.0.0.1:5000/v2/team/app/manifests/v1": tls: failed to verify '
     "certificate: x509: certificate signed by unknown authority", "x509"),
    (PREFIX + 'failed to do request: Head "https://10.0.0.9/v2/team/app/manifests/v1": dial tcp 10.0.0.9:443: i/o '
     "timeout", "timeout"),
    (PREFIX + "failed to authorize: failed to fetch anonymous token: Get \"https://auth.docker.io/token\": dial tcp: "
     "lookup auth.docker.io: i/o timeout", "timeout"),
    (PREFIX + 'failed to do request: Head "https://reg.invalid/v2/team/app/manifests/v1": dial tcp: lookup '
     "reg.invalid: no such host", "unreachable"),
]


@pytest.mark.parametrize(("message", "cause"), RECORDED)
def test_each_recorded_failure_is_told_apart(message: str, cause: str) -> None:
    assert classify(message)[0] == cause


def _event(reason: str, message: str, last: str, **extra: object) -> dict[str, object]:
    return {"reason": reason, "message": message, "lastTimestamp": last, **extra}


def test_the_kubelet_sequence_reads_as_one_failure_cause() -> None:
    events = pull_events([
        _event("Pulling", f'Pulling image "{IMG}"', "2026-12-02T10:00:00Z"),
        _event("Failed", RECORDED[0][0], "2026-12-02T10:00:01Z", count=4),
        _event("Failed", "Error: ErrImagePull", "2026-12-02T10:00:02Z"),
        _event("BackOff", f'Back-off pulling image "{IMG}"', "2026-12-02T10:00:03Z"),
        _event("Failed", "Error: ImagePullBackOff", "2026-12-02T10:00:04Z"),
        _event("FailedMount", "MountVolume.SetUp failed", "2026-12-02T10:00:05Z"),
    ])
    assert [e.reason for e in events] == ["Pulling", "Failed", "Failed", "BackOff", "Failed"]
    assert events[1].image == IMG and events[1].count == 4 and events[1].cause == "unauthorized"
    assert failing_causes(events, IMG) == ["unauthorized"]


def test_a_later_success_clears_the_failures_and_v1_events_are_read() -> None:
    events = pull_events([
        {"reason": "Failed", "note": RECORDED[5][0], "deprecatedLastTimestamp": "2026-12-02T10:00:01Z",
         "series": {"count": 2}},
        {"reason": "Pulled", "note": f'Successfully pulled image "{IMG}" in 1.2s', "eventTime": "2026-12-02T10:01:00Z"},
    ])
    assert events[0].cause == "not-found" and events[0].count == 2
    assert failing_causes(events, IMG) == []


def test_a_secret_the_kubelet_could_not_fetch() -> None:
    events = pull_events([_event("FailedToRetrieveImagePullSecret", 'Unable to retrieve some image pull secrets '
                                 '(pull); attempting to pull the image may not succeed.', "2026-12-02T10:00:00Z")])
    assert events[0].cause == "secret-not-fetched"
