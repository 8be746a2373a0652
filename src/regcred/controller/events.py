"""Events on a RegistryCredential (events.k8s.io/v1), repeats folded into one Event's series, as client-go does.

Why fold: a failing namespace is retried with backoff; an Event per retry would flood `kubectl describe`. The
same (object, type, reason, note) seen again patches `series` {count, lastObservedTime} of the Event this
process created (everything else of an events.k8s.io Event is immutable). An Event is best effort: a failure
to record one never fails the reconcile (returns None).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from regcred.core.errors import RegcredError
from regcred.shells.kube.errors import KubeNotFound
from regcred.usecases.kubeapi import Obj

CONTROLLER = "regcred.dev/controller"
EVENT_NAMESPACE = "default"  # a cluster-scoped object's Events live here (client-go's choice)


def micro_time() -> str:
    """MicroTime as the API server wants it: six fractional digits."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventRecorder:
    """Creates Events, then counts repeats in their series (per process: a new replica starts new Events)."""

    def __init__(self, api: Any, *, instance: str, controller: str = CONTROLLER) -> None:
        self.api = api
        self.instance = instance
        self.controller = controller
        # One occurrence at a time, as client-go's single sender: two workers reporting the same thing at once
        # would otherwise both create an Event, or both write the same series count.
        self._send = threading.Lock()
        self._seen: dict[tuple[str, str, str, str], tuple[str, int]] = {}  # -> (event name, count)

    def emit(self, regarding: Obj, type_: str, reason: str, note: str, *, action: str = "Reconcile") -> Obj | None:
        """Record one occurrence (type_ Normal | Warning); the API's answer, or None when it could not."""
        meta = regarding.get("metadata") or {}
        key = (str(meta.get("uid") or meta.get("name")), type_, reason, note[:1024])
        with self._send:
            seen = self._seen.get(key)
            try:
                if seen is not None:
                    name, count = seen
                    try:
                        answer: Obj = self.api.patch("Event", name, EVENT_NAMESPACE, {"series": {
                            "count": count + 1, "lastObservedTime": micro_time()}}, patch_type="merge")
                        self._seen[key] = (name, count + 1)
                        return answer
                    except KubeNotFound:  # expired (Events live an hour): start a new one
                        pass
                answer = self.api.create(self._event(regarding, type_, reason, key[3], action), EVENT_NAMESPACE)
                self._seen[key] = (str(answer["metadata"]["name"]), 1)
                return answer
            except RegcredError:
                return None

    def _event(self, regarding: Obj, type_: str, reason: str, note: str, action: str) -> Obj:
        meta = regarding.get("metadata") or {}
        ref = {"apiVersion": regarding.get("apiVersion", "regcred.dev/v1alpha1"),
               "kind": regarding.get("kind", "RegistryCredential"), "name": meta.get("name"),
               "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}
        return {"apiVersion": "events.k8s.io/v1", "kind": "Event",
                "metadata": {"name": f"{meta.get('name')}.{time.time_ns():x}", "namespace": EVENT_NAMESPACE},
                "eventTime": micro_time(), "reportingController": self.controller,
                "reportingInstance": self.instance, "action": action, "reason": reason, "note": note,
                "type": type_, "regarding": {k: v for k, v in ref.items() if v}}
