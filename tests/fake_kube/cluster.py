"""The cluster's behaviour on top of the store: namespaces, and a tiny kubelet that runs pods' containers.

Both the HTTP handlers and the control API go through here, so a pod created by `kubectl` or by a test gets
the same container instances, statuses and logs.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from typing import Any

from . import objects
from .errors import ApiError, bad_request, not_found
from .logs import ContainerInstance, LogStore
from .resources import NAMESPACE, POD, RESOURCES, ResourceType
from .store import ObjectStore
from .timeutil import now_ns, rfc3339

Obj = dict[str, Any]

_TERMINAL = {"Succeeded": (0, "Completed"), "Failed": (1, "Error")}


class Cluster:
    def __init__(self, *, history_limit: int = 100_000) -> None:
        self.store = ObjectStore(history_limit=history_limit)
        self.logs = LogStore()
        self._ips = itertools.count(2)

    # --- generic objects -------------------------------------------------------------------------------------

    def create(self, resource: ResourceType, obj: Obj, *, create_namespace: bool = False) -> Obj:
        """Create an object; pods start running at once (this kubelet has no image to pull)."""
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace", "")
        if resource.namespaced and namespace:
            if create_namespace:
                self.ensure_namespace(namespace)
            elif self.store.get(NAMESPACE, "", namespace) is None:
                raise not_found("", "namespaces", namespace)
        if resource is POD:
            return self._create_pod(obj)
        return self.store.create(resource, obj)

    def replace(self, resource: ResourceType, obj: Obj) -> Obj:
        if resource is POD:
            obj = copy.deepcopy(obj)
            self._sync_pod(obj)
        return self.store.replace(resource, obj)

    def delete(self, resource: ResourceType, namespace: str, name: str) -> Obj:
        if resource is NAMESPACE:
            self.store.require(NAMESPACE, "", name)
            for other in RESOURCES:
                if other.namespaced:
                    for obj in self.store.list(other, name):
                        self.delete(other, name, obj["metadata"]["name"])
        gone = self.store.delete(resource, namespace, name)
        if resource is POD:
            self.logs.remove_pod(namespace, name)
        return gone

    def ensure_namespace(self, name: str) -> None:
        if self.store.get(NAMESPACE, "", name) is None:
            self.store.create(NAMESPACE, objects.make_namespace(name))

    # --- pods and their containers ---------------------------------------------------------------------------

    def _create_pod(self, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        status = obj.setdefault("status", {})
        status.setdefault("phase", "Running")
        if not status.get("podIP"):
            n = next(self._ips)
            ip = f"10.244.{n // 250}.{n % 250 + 2}"
            status["podIP"], status["podIPs"] = ip, [{"ip": ip}]
        name, namespace = meta.get("name"), meta.get("namespace", "")
        if name and self.store.get(POD, namespace, name) is None and status["phase"] == "Running":
            for container in obj.get("spec", {}).get("containers", []):
                self.logs.start(namespace, name, container["name"])
        self._sync_pod(obj)
        return self.store.create(POD, obj)

    def _sync_pod(self, pod: Obj) -> None:
        """Recompute container statuses and conditions from the container instances."""
        meta, spec, status = pod["metadata"], pod.get("spec", {}), pod.setdefault("status", {})
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        statuses = [
            objects.container_status(c["name"], c.get("image", ""), self.logs.get(namespace, name, c["name"]))
            for c in spec.get("containers", [])
        ]
        status["containerStatuses"] = statuses
        ready = bool(statuses) and all(s["ready"] for s in statuses)
        started = [s["state"]["running"]["startedAt"] for s in statuses if "running" in s["state"]]
        since = max(started, default=meta.get("creationTimestamp") or rfc3339(now_ns()))
        status["conditions"] = objects.pod_conditions(ready, bool(spec.get("nodeName")), since)
        status.setdefault("hostIP", "10.0.0.1")
        status.setdefault("startTime", meta.get("creationTimestamp") or rfc3339(now_ns()))

    def pod_container_names(self, namespace: str, pod: str) -> list[str]:
        obj = self.store.require(POD, namespace, pod)
        return [c["name"] for c in obj.get("spec", {}).get("containers", [])]

    def _container(self, namespace: str, pod: str, container: str | None) -> str:
        names = self.pod_container_names(namespace, pod)
        if container is None:
            if len(names) != 1:
                raise bad_request(f"pod {pod} has containers {names}: name one")
            return names[0]
        if container not in names:
            raise bad_request(f"container {container} is not valid for pod {pod}")
        return container

    def append_log(
        self,
        namespace: str,
        pod: str,
        container: str | None,
        lines: list[bytes],
        timestamps: Sequence[int] | None = None,
    ) -> ContainerInstance:
        """Append lines to the running instance of a container and wake only that instance's followers."""
        name = self._container(namespace, pod, container)
        if timestamps is not None and len(timestamps) != len(lines):
            raise bad_request(f"{len(lines)} lines but {len(timestamps)} timestamps")
        instance = self.logs.append(namespace, pod, name, lines, list(timestamps) if timestamps else None)
        if instance is None:
            raise ApiError(409, "Conflict", f'container "{name}" in pod "{pod}" is not running')
        return instance

    def restart_container(
        self, namespace: str, pod: str, container: str | None, *, exit_code: int = 1, reason: str = "Error"
    ) -> ContainerInstance:
        """End the running instance (its follow streams end) and start a new one with a new container ID."""
        name = self._container(namespace, pod, container)
        instance = self.logs.start(namespace, pod, name, exit_code=exit_code, reason=reason)

        def edit(obj: Obj) -> None:
            obj["status"]["phase"] = "Running"
            self._sync_pod(obj)

        self.store.modify(POD, namespace, pod, edit)
        return instance

    def set_pod_phase(self, namespace: str, pod: str, phase: str) -> Obj:
        """Running starts containers that never ran; Succeeded/Failed terminate the running ones."""
        names = self.pod_container_names(namespace, pod)
        for name in names:
            log = self.logs.get(namespace, pod, name)
            current = log.current if log is not None else None
            if phase == "Running" and current is None:
                self.logs.start(namespace, pod, name)
            elif phase in _TERMINAL and current is not None:
                current.terminate(*_TERMINAL[phase])

        def edit(obj: Obj) -> None:
            obj["status"]["phase"] = phase
            self._sync_pod(obj)

        return self.store.modify(POD, namespace, pod, edit)
