"""The fields the pod watch must give the servers' view, read from a pod object as the API serves it."""

from __future__ import annotations

from typing import Any

from exporter.kube.pods import pod_info
from exporter.servers.model import ExpectedPod
from exporter.servers.pods import expected_pod as expected_from_info


def expected_pod(obj: dict[str, Any], app_labels: tuple[str, ...]) -> ExpectedPod:
    """The API object through the one pod parser, then as the servers' view expects it."""
    return expected_from_info(pod_info(obj, app_labels))


def pod_object(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {
            "name": "orders-7c9d-x2k4p",
            "namespace": "shop",
            "labels": {"app.kubernetes.io/name": "orders"},
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": "orders-7c9d", "controller": True},
                {"kind": "Other", "name": "x"},
            ],
        },
        "spec": {"nodeName": "node-3", "containers": [{"name": "app"}]},
        "status": {
            "phase": "Running",
            "podIP": "10.42.3.17",
            "startTime": "2026-11-30T10:00:00Z",
            "conditions": [
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-30T10:00:20Z"},
            ],
        },
    }
    for path, value in changes.items():
        section, key = path.split("__")
        obj[section][key] = value
    return obj


def test_every_field() -> None:
    pod = expected_pod(pod_object(), ("app.kubernetes.io/name", "app"))
    assert (pod.namespace, pod.name, pod.app, pod.ip, pod.node) == (
        "shop",
        "orders-7c9d-x2k4p",
        "orders",
        "10.42.3.17",
        "node-3",
    )
    assert pod.owner == "ReplicaSet/orders-7c9d"
    assert pod.start_time == 1796032800.0
    assert pod.ready_since == 1796032820.0
    assert pod.ready
    assert not pod.host_network


def test_not_ready_terminating_and_host_network() -> None:
    labels = ("app",)
    assert not expected_pod(pod_object(status__phase="Pending"), labels).ready
    assert not expected_pod(pod_object(metadata__deletionTimestamp="2026-11-30T11:00:00Z"), labels).ready
    not_ready = pod_object(status__conditions=[{"type": "Ready", "status": "False"}])
    assert not expected_pod(not_ready, labels).ready
    host = expected_pod(pod_object(spec__hostNetwork=True), labels)
    assert host.host_network
    assert host.app == "unknown"
