"""``kubectl get`` output for custom resources: a meta.k8s.io/v1 Table from the printer columns.

Why: ``kubectl get regcred`` asks for a Table (``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``);
the apiserver builds it from the CRD's additionalPrinterColumns, a small JSONPath subset.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from .request import ApiRequest, Response
from .resources import ResourceType
from .store import META_ORDER

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may allow "
    "a client to request the generation of an appropriate name automatically. Name is primarily intended for "
    "creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
_STEP = re.compile(r'\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_.-]+)\s*==\s*["\']([^"\']*)["\']\)\]')


def wants_table(req: ApiRequest) -> bool:
    """The first acceptable type is a meta.k8s.io/v1 Table (what kubectl get sends first)."""
    first = req.headers.get("accept", "").split(",")[0].replace(" ", "").lower()
    return "as=table" in first and "g=meta.k8s.io" in first and "v=v1" in first.split("as=table", 1)[1] + ";"


def jsonpath(obj: Any, path: str) -> Any:
    """The first value ``path`` finds (None when it finds nothing): .a.b, [0], [?(@.k=="v")]."""
    values = [obj]
    for field, index, key, want in _STEP.findall(path):
        nxt: list[Any] = []
        for v in values:
            if field and isinstance(v, dict) and field in v:
                nxt.append(v[field])
            elif index and isinstance(v, list) and int(index) < len(v):
                nxt.append(v[int(index)])
            elif key and isinstance(v, list):
                nxt += [x for x in v if isinstance(x, dict) and str(jsonpath(x, "." + key)) == want]
        values = nxt
    return values[0] if values else None


def human_duration(seconds: int) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    if seconds < 0:
        return "<invalid>" if seconds < -1 else "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes, hours = seconds // 60, seconds // 3600
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def _cell(obj: dict[str, Any], col: dict[str, Any]) -> Any:
    value = jsonpath(obj, col["jsonPath"])
    if value is None or col.get("type") != "date" or not isinstance(value, str):
        return value
    then = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return human_duration(int((datetime.now(UTC) - then).total_seconds()))


def table(req: ApiRequest, rt: ResourceType, resp: Response) -> Response:
    """Turn a GET/LIST answer for a custom resource into a Table."""
    if resp.code != 200 or resp.body is None or resp.stream is not None:
        return resp
    body = json.loads(resp.body) if isinstance(resp.body, bytes) else resp.body
    items = body.get("items", [body])
    columns = [{"name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0}]
    columns += [{"name": c["name"], "type": c["type"], "format": c.get("format", ""),
                 "description": c.get("description") or
                 f"Custom resource definition column (in JSONPath format): {c['jsonPath']}",
                 "priority": c.get("priority", 0)} for c in rt.printer_columns]
    with_object = (req.q("includeObject") or "Metadata") != "None"
    rows = []
    for obj in items:
        meta = obj["metadata"]
        partial = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                   "metadata": {k: meta[k] for k in META_ORDER if k in meta}}
        rows.append({"cells": [meta["name"], *(_cell(obj, c) for c in rt.printer_columns)],
                     "object": partial if with_object else None})
    meta_out = {k: body["metadata"][k] for k in ("resourceVersion", "continue", "remainingItemCount")
                if body["metadata"].get(k)} if "items" in body else {"resourceVersion": body["metadata"][
                    "resourceVersion"]}
    return Response(200, {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta_out,
                          "columnDefinitions": columns, "rows": rows}, resp.headers)
