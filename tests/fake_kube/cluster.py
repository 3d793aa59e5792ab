"""The cluster's behaviour on top of the store: namespaces, and a tiny kubelet that runs pods' containers.

Both the HTTP handlers and the control API go through here, so a pod created by `kubectl` or by a test gets
the same container instances, statuses and logs.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import Callable, Sequence
from typing import Any

from . import objects
from .errors import ApiError, bad_request, not_found
from .logs import ContainerInstance, LogStore
from .resources import NAMESPACE, POD, RESOURCES, ResourceType
from .store import ObjectStore
from .timeutil import now_ns, rfc3339

_NS = 1_000_000_000

Obj = dict[str, Any]

_TERMINAL = {"Succeeded": (0, "Completed"), "Failed": (1, "Error")}


class Cluster:
    def __init__(self, *, history_limit: int = 100_000, log_offset: int = 0, status_lag: float = 0.0) -> None:
        self.store = ObjectStore(history_limit=history_limit)
        self.logs = LogStore(offset=log_offset)
        self.status_lag = status_lag  # seconds between kubelet's change of a container and the API's pod status
        self._ips = itertools.count(2)
        self._timers: dict[tuple[str, str, str], asyncio.TimerHandle] = {}  # (what, namespace, pod)

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
            for what in ("publish", "delete"):
                timer = self._timers.pop((what, namespace, name), None)
                if timer is not None:
                    timer.cancel()
        return gone

    def cancel_timers(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _later(self, what: str, namespace: str, pod: str, delay: float, action: Callable[[], object]) -> None:
        """Run `action` after `delay` seconds in the running loop (at once if 0); one pending timer per kind/pod."""
        old = self._timers.pop((what, namespace, pod), None)
        if old is not None:
            old.cancel()
        if delay <= 0:
            action()
            return

        def fire() -> None:
            self._timers.pop((what, namespace, pod), None)
            if self.store.get(POD, namespace, pod) is not None:
                action()

        self._timers[(what, namespace, pod)] = asyncio.get_running_loop().call_later(delay, fire)

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
        for container in obj.get("spec", {}).get("containers", []):
            self.logs.container(namespace, name or "", container["name"]).publish()
        self._sync_pod(obj)
        return self.store.create(POD, obj)

    def _sync_pod(self, pod: Obj) -> None:
        """Recompute container statuses and conditions from the container instances."""
        meta, spec, status = pod["metadata"], pod.get("spec", {}), pod.setdefault("status", {})
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        statuses = [
            objects.container_status(
                c["name"], c.get("image", ""), self.logs.get(namespace, name, c["name"]), f"{name}_{namespace}"
            )
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
        stream: str = "stdout",
    ) -> ContainerInstance:
        """Append lines to the running instance of a container and wake only that instance's followers."""
        name = self._container(namespace, pod, container)
        if timestamps is not None and len(timestamps) != len(lines):
            raise bad_request(f"{len(lines)} lines but {len(timestamps)} timestamps")
        if stream not in ("stdout", "stderr"):
            raise bad_request(f"stream must be stdout or stderr, not {stream!r}")
        instance = self.logs.append(namespace, pod, name, lines, list(timestamps) if timestamps else None, stream)
        if instance is None:
            raise ApiError(409, "Conflict", f'container "{name}" in pod "{pod}" is not running')
        return instance

    def publish_status(self, namespace: str, pod: str, lag: float | None = None) -> None:
        """Let the pod's status show what kubelet knows, after `lag` seconds (the cluster's status lag if None).

        Until then the API still shows the old containerID, restartCount and state, while kubelet already serves
        the new instance to a follow request by container name.
        """

        def publish() -> None:
            for name in self.pod_container_names(namespace, pod):
                self.logs.container(namespace, pod, name).publish()

            def edit(obj: Obj) -> None:
                logs = [self.logs.get(namespace, pod, n) for n in self.pod_container_names(namespace, pod)]
                if any(log is not None and log.current is not None and log.current.running for log in logs):
                    obj["status"]["phase"] = "Running"
                self._sync_pod(obj)

            self.store.modify(POD, namespace, pod, edit)

        self._later("publish", namespace, pod, self.status_lag if lag is None else lag, publish)

    def restart_container(
        self,
        namespace: str,
        pod: str,
        container: str | None,
        *,
        exit_code: int = 1,
        reason: str = "Error",
        status_lag: float | None = None,
    ) -> ContainerInstance:
        """End the running instance (its follow streams end) and start a new one with a new container ID.

        The pod's status follows after the status lag; a restart out of CrashLoopBackOff leaves the crashed
        instance as it was.
        """
        name = self._container(namespace, pod, container)
        instance = self.logs.start(namespace, pod, name, exit_code=exit_code, reason=reason)
        self.publish_status(namespace, pod, status_lag)
        return instance

    def crash_container(
        self,
        namespace: str,
        pod: str,
        container: str | None,
        *,
        exit_code: int = 1,
        reason: str = "Error",
        status_lag: float | None = None,
    ) -> ContainerInstance:
        """The running instance exits and kubelet backs off: `waiting: CrashLoopBackOff` with the crashed instance
        in `lastState.terminated`, until `restart_container` starts the next one."""
        name = self._container(namespace, pod, container)
        log = self.logs.container(namespace, pod, name)
        instance = log.current
        if instance is None or not instance.running:
            raise ApiError(409, "Conflict", f'container "{name}" in pod "{pod}" is not running')
        instance.terminate(exit_code, reason)
        log.waiting = "CrashLoopBackOff"
        self.publish_status(namespace, pod, status_lag)
        return instance

    def terminate_containers(
        self, namespace: str, pod: str, *, exit_code: int = 0, status_lag: float | None = None
    ) -> list[ContainerInstance]:
        """Every running container of the pod exits for good (state.terminated, its follow streams end)."""
        ended = []
        for name in self.pod_container_names(namespace, pod):
            log = self.logs.container(namespace, pod, name)
            log.waiting = ""
            if log.current is not None and log.current.running:
                log.current.terminate(exit_code, "Completed" if exit_code == 0 else "Error")
                ended.append(log.current)
        self.publish_status(namespace, pod, status_lag)
        return ended

    def delete_pod(
        self,
        namespace: str,
        pod: str,
        grace_period: int,
        *,
        stop_containers: bool = True,
        exit_code: int = 0,
    ) -> Obj:
        """Graceful deletion as the API server and kubelet do it.

        The pod gets `deletionTimestamp` (now + grace) and `deletionGracePeriodSeconds` (MODIFIED); its containers
        are stopped (another MODIFIED, after the status lag) unless `stop_containers=False`; their logs are served
        until the grace period ends, then the pod is DELETED and its logs answer 404. A second deletion may only
        shorten the grace period; 0 deletes at once.
        """
        obj = self.store.require(POD, namespace, pod)
        meta = obj["metadata"]
        if grace_period <= 0:
            return self.delete(POD, namespace, pod)
        if meta.get("deletionTimestamp") and grace_period >= int(meta.get("deletionGracePeriodSeconds", 0)):
            return obj
        deadline = now_ns() + grace_period * _NS

        def mark(changed: Obj) -> None:
            changed["metadata"]["deletionTimestamp"] = rfc3339(deadline)
            changed["metadata"]["deletionGracePeriodSeconds"] = grace_period

        marked = self.store.modify(POD, namespace, pod, mark)
        if stop_containers:
            self.terminate_containers(namespace, pod, exit_code=exit_code)
        self._later("delete", namespace, pod, grace_period, lambda: self.delete(POD, namespace, pod))
        return marked

    def finish_deletion(self, namespace: str, pod: str) -> Obj:
        """End a Terminating pod's grace period now: DELETED."""
        return self.delete(POD, namespace, pod)

    def rotate_logs(self, namespace: str, pod: str, container: str | None) -> tuple[ContainerInstance, int]:
        """kubelet rotates the container's log file: lines written so far are no longer served by the API."""
        name = self._container(namespace, pod, container)
        log = self.logs.get(namespace, pod, name)
        if log is None or log.current is None:
            raise ApiError(409, "Conflict", f'container "{name}" in pod "{pod}" never ran')
        return log.current, log.current.rotate()

    def set_pod_phase(self, namespace: str, pod: str, phase: str) -> Obj:
        """Running starts containers that never ran; Succeeded/Failed terminate the running ones."""
        names = self.pod_container_names(namespace, pod)
        for name in names:
            log = self.logs.container(namespace, pod, name)
            current = log.current
            if phase == "Running" and current is None:
                self.logs.start(namespace, pod, name)
            elif phase in _TERMINAL and current is not None:
                current.terminate(*_TERMINAL[phase])
            log.publish()

        def edit(obj: Obj) -> None:
            obj["status"]["phase"] = phase
            self._sync_pod(obj)

        return self.store.modify(POD, namespace, pod, edit)
