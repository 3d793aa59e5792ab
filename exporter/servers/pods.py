"""What the pod watch must extract for the servers' view: one API pod object -> `ExpectedPod`.

The one pod watch (`exporter.logwatch.pods`) lists and watches the application pods; it keeps only what the log
followers need today. This function is the specification of the extra fields, written against the API's JSON, so
the watch can call it on the same objects (or extend its `PodInfo` with the same fields) and pods are never listed
twice: `status.podIP`, `status.startTime`, `spec.nodeName`, `spec.hostNetwork`, the controlling
`metadata.ownerReferences` entry, the `Ready` condition (status and `lastTransitionTime`), `status.phase` and
`metadata.deletionTimestamp` (a terminating pod is not expected to be connected).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from exporter.servers.model import ExpectedPod


def _time(value: object) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _owner(metadata: Mapping[str, Any]) -> str:
    for reference in metadata.get("ownerReferences") or ():
        if isinstance(reference, dict) and reference.get("controller"):
            return f"{reference.get('kind', '')}/{reference.get('name', '')}"
    return ""


def expected_pod(obj: Mapping[str, Any], app_labels: Sequence[str]) -> ExpectedPod:
    """The pod as the join and the verdicts need it; `ready` is Running, Ready=True and not terminating."""
    metadata = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    labels = metadata.get("labels") or {}
    app = next((str(labels[key]) for key in app_labels if labels.get(key)), "unknown")
    ready_condition: Mapping[str, Any] = next(
        (c for c in status.get("conditions") or () if isinstance(c, dict) and c.get("type") == "Ready"), {}
    )
    ready = (
        status.get("phase") == "Running"
        and ready_condition.get("status") == "True"
        and not metadata.get("deletionTimestamp")
    )
    return ExpectedPod(
        namespace=str(metadata.get("namespace", "")),
        name=str(metadata.get("name", "")),
        app=app,
        ip=str(status.get("podIP") or ""),
        start_time=_time(status.get("startTime")),
        node=str(spec.get("nodeName") or ""),
        owner=_owner(metadata),
        ready=ready,
        host_network=bool(spec.get("hostNetwork")),
        ready_since=_time(ready_condition.get("lastTransitionTime")) if ready else None,
    )
