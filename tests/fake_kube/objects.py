"""Builders for the objects tests add most, shaped like what a real cluster returns (so clients deserialize them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .logs import ContainerInstance, ContainerLog
from .timeutil import rfc3339

Obj = dict[str, Any]


def make_namespace(name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def make_pod(
    namespace: str,
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    containers: Sequence[str] = ("app",),
    node_name: str = "node-1",
    phase: str = "Running",
    image: str = "registry.example/app:1.0",
    annotations: Mapping[str, str] | None = None,
    pod_ip: str = "",
) -> Obj:
    """A pod as the scheduler and kubelet leave it; container statuses are filled in by the cluster."""
    metadata: Obj = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if annotations:
        metadata["annotations"] = dict(annotations)
    spec: Obj = {
        "containers": [
            {"name": c, "image": image, "imagePullPolicy": "IfNotPresent", "resources": {}} for c in containers
        ],
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
    }
    if node_name:
        spec["nodeName"] = node_name
    status: Obj = {"phase": phase, "qosClass": "BestEffort"}
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


def _terminated(instance: ContainerInstance) -> Obj:
    return {
        "terminated": {
            "exitCode": instance.exit_code,
            "reason": instance.reason or ("Completed" if instance.exit_code == 0 else "Error"),
            "startedAt": rfc3339(instance.started_ns),
            "finishedAt": rfc3339(instance.finished_ns or instance.started_ns),
            "containerID": instance.container_id,
        }
    }


def container_status(name: str, image: str, log: ContainerLog | None, pod: str = "") -> Obj:
    """status.containerStatuses[] derived from the container's instances as last published to the API (kubelet's
    status reaches the API server late: see `ContainerLog.published`), the one source of truth for them."""
    status: Obj = {
        "name": name,
        "image": image,
        "imageID": "",
        "ready": False,
        "started": False,
        "restartCount": 0,
        "state": {"waiting": {"reason": "ContainerCreating"}},
        "lastState": {},
    }
    instances = log.instances[: log.published] if log is not None else []
    if log is None or not instances:
        return status
    current = instances[-1]
    status["imageID"] = image.split(":", 1)[0] + "@sha256:" + "0" * 64
    status["restartCount"] = len(instances) - 1
    waiting = log.published_waiting if log.published == len(log.instances) else ""
    status["containerID"] = current.container_id
    if waiting and not current.running:
        # CrashLoopBackOff: nothing runs; the instance that crashed is lastState (and still the containerID).
        message = f"back-off 10s restarting failed container={name} pod={pod}"
        status["state"] = {"waiting": {"reason": waiting, "message": message}}
        status["lastState"] = _terminated(current)
        return status
    if current.running:
        status.update(ready=True, started=True, state={"running": {"startedAt": rfc3339(current.started_ns)}})
    else:
        status["state"] = _terminated(current)
    if len(instances) > 1:
        status["lastState"] = _terminated(instances[-2])
    return status


def pod_conditions(ready: bool, scheduled: bool, since: str) -> list[Obj]:
    def condition(kind: str, ok: bool) -> Obj:
        return {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None, "lastTransitionTime": since}

    return [
        condition("PodReadyToStartContainers", ready),
        condition("Initialized", scheduled),
        condition("Ready", ready),
        condition("ContainersReady", ready),
        condition("PodScheduled", scheduled),
    ]
