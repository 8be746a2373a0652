"""The node DaemonSet as data: a pod per node that keeps config.json in step with one pull Secret.

Each pod mounts the node's kubelet directory and the Secret, and every interval runs
`regcred node install --from-file … --prune --keep-existing`: entries are merged (other entries never
clobbered, an entry someone else wrote for the same registry is left as it is) and an entry the Secret
lost is removed only when regcred wrote it and it is unchanged (the ownership record next to config.json).
Nothing is written (or logged) when nothing changed, so the loop is cheap and keeps no backups.
"""

from __future__ import annotations

import posixpath
import shlex
from typing import Any

from regcred.core.credentials.pullsecret import KEY_DOCKERCONFIGJSON, MANAGED_BY_LABEL, MANAGED_BY_VALUE
from regcred.core.node.kubeletflags import DEFAULT_ROOT_DIR

DEFAULT_IMAGE = "ghcr.io/regcred/regcred:0.1.0"  # one image for the node DaemonSet and the controller (./dev image)
DEFAULT_NAME = "regcred-node"
HOST_ROOT = "/host"
SECRET_DIR = "/secret"


def sync_script(root_dir: str, *, host_root: str = HOST_ROOT, secret_dir: str = SECRET_DIR) -> str:
    """The container's loop: one `node install` per interval; a failed round is logged and retried.

    The shell is the container's PID 1, which the kernel spares from every signal it has no handler for:
    TERM is trapped, the sleep runs in the background and `wait` is interrupted, so a delete or rollout
    ends at once with exit 0. A TERM during a round runs once that `regcred` has finished (sh runs traps
    between commands), never in the middle of a write. The first round, and the first after a failure,
    print their result; later rounds use --quiet: an unchanged round logs nothing. Every path is
    shell-quoted: a root dir is data, never shell syntax.
    """
    secret_file = shlex.quote(f"{secret_dir}/{KEY_DOCKERCONFIGJSON}")
    return (
        "set -u\n"
        'sleeper=""\n'
        """trap 'test -z "$sleeper" || kill "$sleeper" 2>/dev/null; exit 0' TERM INT\n"""
        'quiet=""\n'
        "while :; do\n"
        "  next=--quiet\n"
        f"  regcred node install --from-file {secret_file} --host-root {shlex.quote(host_root)} "
        f"--root-dir {shlex.quote(root_dir)} --runtime none --prune --keep-existing -o json $quiet "
        '|| { echo "regcred-node: sync failed; retrying in ${REGCRED_INTERVAL}s" >&2; next=""; }\n'
        "  quiet=$next\n"
        '  sleep "${REGCRED_INTERVAL}" & sleeper=$!\n'
        '  wait "$sleeper"\n'
        '  sleeper=""\n'
        "done\n"
    )


def daemonset_manifest(*, secret: str, namespace: str, image: str, name: str = DEFAULT_NAME,
                       root_dir: str = DEFAULT_ROOT_DIR, interval: int = 60) -> dict[str, Any]:
    """The DaemonSet: tolerates every taint (control plane included), no API access, minimal privileges."""
    labels = {"app.kubernetes.io/name": name, MANAGED_BY_LABEL: MANAGED_BY_VALUE}
    mount = posixpath.join(HOST_ROOT, root_dir.lstrip("/"))
    container = {
        "name": "sync",
        "image": image,
        "command": ["/bin/sh", "-c", sync_script(root_dir)],
        "env": [{"name": "REGCRED_INTERVAL", "value": str(interval)}],
        "securityContext": {
            "runAsUser": 0,
            "runAsGroup": 0,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "5m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        "volumeMounts": [
            {"name": "kubelet-dir", "mountPath": mount},
            {"name": "pull-secret", "mountPath": SECRET_DIR, "readOnly": True},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "tolerations": [{"operator": "Exists"}],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "terminationGracePeriodSeconds": 5,
                    "containers": [container],
                    "volumes": [
                        {"name": "kubelet-dir", "hostPath": {"path": root_dir, "type": "Directory"}},
                        {"name": "pull-secret", "secret": {
                            "secretName": secret,
                            "items": [{"key": KEY_DOCKERCONFIGJSON, "path": KEY_DOCKERCONFIGJSON}],
                        }},
                    ],
                },
            },
        },
    }
