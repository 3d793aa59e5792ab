"""Which application pods to follow: list-then-watch by label selector, per namespace, sharded by pod UID.

Pods are kept as the few fields the followers need, read from the API's JSON. A watch that fails with 410 Gone
(history compacted) relists at once; any other ERROR event (the watch cache's `504 Too large resource version`) or
failed request relists after a backoff that keeps growing until a watch delivers something: a list that succeeds
before a watch that fails does not reset it. A `Retry-After` (429) is waited at least. A pod whose labels stop
matching arrives as DELETED, as the API server reports it to a watch with a selector.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from exporter.kube.client import KubeApi, KubeError
from exporter.runtime.backoff import Backoff
from exporter.runtime.waiting import wait_or_stop

log = logging.getLogger(__name__)

WATCH_TIMEOUT_SECONDS = 300  # the API server ends a watch after this; it is reopened from the last version
WATCH_READ_TIMEOUT = WATCH_TIMEOUT_SECONDS + 60  # with bookmarks on, more silence than this is a dead connection
RELIST_BACKOFF = Backoff(initial=1.0, maximum=30.0)
_ORDINAL = re.compile(r"-(\d+)$")


@dataclass(frozen=True, slots=True)
class ContainerInstance:
    name: str
    container_id: str  # changes when the container restarts


@dataclass(frozen=True, slots=True)
class NamedPort:
    name: str
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True, slots=True)
class PodInfo:
    """One pod as every feature needs it, parsed once from the API object (the pod watch, `check`, the servers' view).

    `running`, `terminated` and `previous` are container instances by container ID: a follower counts the lines of
    exactly one instance, so it must be able to tell the instance that is running from the one that just ended.
    """

    namespace: str
    name: str
    uid: str
    app: str
    running: tuple[ContainerInstance, ...]  # containers with a running instance now
    previous: tuple[ContainerInstance, ...]  # each container's last terminated instance (lastState), when known
    terminated: tuple[ContainerInstance, ...] = ()  # instances whose current state is terminated (a Job, deletion)
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str = ""  # status.podIP ("" before it has one)
    ports: tuple[NamedPort, ...] = ()  # the containers' named ports
    node: str = ""  # spec.nodeName
    host_network: bool = False  # spec.hostNetwork: its IP is the node's, shared with every such pod
    start_time: float | None = None  # status.startTime, Unix time
    owner: str = ""  # "Kind/name" of the controlling ownerReference ("" if none)
    phase: str = ""
    ready: bool = False  # Running, the Ready condition True, and not terminating
    ready_since: float | None = None  # the Ready condition's lastTransitionTime, while ready
    deleting: bool = False  # metadata.deletionTimestamp is set: Terminating, served until its grace period ends

    def current_id(self, container: str) -> str | None:
        return next((c.container_id for c in self.running if c.name == container), None)

    def previous_id(self, container: str) -> str | None:
        return next((c.container_id for c in self.previous if c.name == container), None)

    def terminated_id(self, container: str) -> str | None:
        return next((c.container_id for c in self.terminated if c.name == container), None)


def pod_info(obj: Mapping[str, Any], app_labels: Sequence[str]) -> PodInfo:
    """Parse an API pod object; missing or malformed fields become empty values, never an error."""
    metadata = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    labels = {str(key): str(value) for key, value in (metadata.get("labels") or {}).items()}
    app = next((labels[key] for key in app_labels if labels.get(key)), "unknown")
    running: list[ContainerInstance] = []
    terminated: list[ContainerInstance] = []
    previous: list[ContainerInstance] = []
    for container in status.get("containerStatuses") or ():
        if not isinstance(container, dict):
            continue
        name = str(container.get("name", ""))
        state = container.get("state") or {}
        container_id = str(container.get("containerID") or "")
        if "running" in state and container_id:
            running.append(ContainerInstance(name, container_id))
        ended = state.get("terminated") or {}
        if ended and (ended.get("containerID") or container_id):
            terminated.append(ContainerInstance(name, str(ended.get("containerID") or container_id)))
        last = (container.get("lastState") or {}).get("terminated") or {}
        if last.get("containerID"):
            previous.append(ContainerInstance(name, str(last["containerID"])))
    ready_condition: Mapping[str, Any] = next(
        (c for c in status.get("conditions") or () if isinstance(c, dict) and c.get("type") == "Ready"), {}
    )
    phase = str(status.get("phase") or "")
    deleting = bool(metadata.get("deletionTimestamp"))
    ready = phase == "Running" and ready_condition.get("status") == "True" and not deleting
    return PodInfo(
        namespace=str(metadata.get("namespace", "")),
        name=str(metadata.get("name", "")),
        uid=str(metadata.get("uid", "")),
        app=app,
        running=tuple(running) if phase == "Running" else (),
        previous=tuple(previous),
        terminated=tuple(terminated),
        labels=labels,
        ip=str(status.get("podIP") or ""),
        ports=tuple(_named_ports(spec)),
        node=str(spec.get("nodeName") or ""),
        host_network=bool(spec.get("hostNetwork")),
        start_time=_timestamp(status.get("startTime")),
        owner=_owner(metadata),
        phase=phase,
        ready=ready,
        ready_since=_timestamp(ready_condition.get("lastTransitionTime")) if ready else None,
        deleting=deleting,
    )


def _named_ports(spec: Mapping[str, Any]) -> list[NamedPort]:
    ports = []
    for container in spec.get("containers") or ():
        for port in (container.get("ports") or ()) if isinstance(container, dict) else ():
            if isinstance(port, dict) and port.get("name") and isinstance(port.get("containerPort"), int):
                ports.append(NamedPort(str(port["name"]), port["containerPort"], str(port.get("protocol") or "TCP")))
    return ports


def _timestamp(value: object) -> float | None:
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


class PodSink:
    """What the watcher tells: the full set after a (re)list, then each change."""

    def replace_all(self, scope: str | None, pods: Sequence[PodInfo]) -> None: ...
    def upsert(self, pod: PodInfo) -> None: ...
    def remove(self, namespace: str, uid: str) -> None: ...


async def watch_pods(
    api: KubeApi,
    namespace: str | None,
    selector: str,
    app_labels: Sequence[str],
    sink: PodSink,
    stopping: asyncio.Event,
    *,
    field_selector: str | None = None,
    rng: Callable[[], float] = random.random,
) -> None:
    """List then watch the pods of one namespace (None: all) until `stopping` is set. `field_selector` (e.g.
    `spec.nodeName=node-1`, for the node agent) is sent with the list and every watch."""
    path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
    selectors = [("labelSelector", selector)] + ([("fieldSelector", field_selector)] if field_selector else [])
    failures = 0
    while not stopping.is_set():
        retry_after = 0.0
        try:
            listed = await api.get_json("list pods", path, selectors)
            version = str((listed.get("metadata") or {}).get("resourceVersion", ""))
            pods = [pod_info(item, app_labels) for item in listed.get("items") or ()]
            sink.replace_all(namespace, pods)
            while not stopping.is_set():
                version, progressed = await _watch_once(api, path, selectors, version, app_labels, sink, stopping)
                if progressed:
                    failures = 0
        except _Relist as relist:
            if relist.gone and not failures:
                continue  # history compacted (410): list again, at once
            failures += 1
        except KubeError as exc:
            failures += 1
            retry_after = exc.retry_after
        delay = max(RELIST_BACKOFF.delay(failures, rng=rng), retry_after) if failures else 0.0
        if await wait_or_stop(stopping, delay):
            return


class _Relist(Exception):
    def __init__(self, *, gone: bool = False) -> None:
        super().__init__("relist")
        self.gone = gone  # 410: the history was compacted, an ordinary event


async def _watch_once(
    api: KubeApi,
    path: str,
    selectors: Sequence[tuple[str, str]],
    version: str,
    app_labels: Sequence[str],
    sink: PodSink,
    stopping: asyncio.Event,
) -> tuple[str, bool]:
    """One watch request; returns the version to continue from and whether it delivered anything, or raises
    _Relist."""
    query = [
        *selectors,
        ("watch", "true"),
        ("resourceVersion", version),
        ("allowWatchBookmarks", "true"),
        ("timeoutSeconds", str(WATCH_TIMEOUT_SECONDS)),
    ]
    progressed = False
    async with api.stream("watch pods", path, query) as response:
        while not stopping.is_set():
            try:
                async with asyncio.timeout(WATCH_READ_TIMEOUT):
                    line = await response.content.readline()
            except (TimeoutError, aiohttp.ClientError):
                return version, progressed  # a dead or broken connection: watch again from where we are
            except ValueError:  # an event larger than the reader's line limit: the list will have it
                raise _Relist from None
            if not line:
                return version, True  # the server ended the watch (timeoutSeconds)
            try:
                event = json.loads(line)
                kind, obj = event["type"], event["object"]
            except (ValueError, KeyError, TypeError):
                obj = None
            if not isinstance(obj, dict):
                log.warning("unreadable watch event; relisting", extra={"bytes": len(line)})
                raise _Relist
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise _Relist(gone=True)
                # e.g. the watch cache's 504 "Too large resource version": relist, after a backoff.
                log.warning(
                    "watch error; relisting",
                    extra={"code": obj.get("code", ""), "error": obj.get("message", "")},
                )
                raise _Relist
            progressed = True
            version = str((obj.get("metadata") or {}).get("resourceVersion", version))
            if kind == "BOOKMARK":
                continue
            pod = pod_info(obj, app_labels)
            if kind == "DELETED":
                sink.remove(pod.namespace, pod.uid)
            else:
                sink.upsert(pod)
    return version, progressed


class PodIndex(PodSink):
    """The pods a watch currently sees, by (namespace, name): what a feature reads when it needs the whole set."""

    def __init__(self) -> None:
        self._by_scope: dict[str | None, dict[str, PodInfo]] = {}

    def replace_all(self, scope: str | None, pods: Sequence[PodInfo]) -> None:
        self._by_scope[scope] = {pod.uid: pod for pod in pods}

    def upsert(self, pod: PodInfo) -> None:
        for scope, pods in self._by_scope.items():
            if scope is None or scope == pod.namespace:
                pods[pod.uid] = pod
                return
        self._by_scope.setdefault(pod.namespace, {})[pod.uid] = pod

    def remove(self, namespace: str, uid: str) -> None:
        for pods in self._by_scope.values():
            pods.pop(uid, None)

    def pods(self) -> list[PodInfo]:
        return [pod for pods in self._by_scope.values() for pod in pods.values()]


class TeeSink(PodSink):
    """One watch, several readers: every change goes to each sink in turn (pods are never listed twice)."""

    def __init__(self, *sinks: PodSink) -> None:
        self._sinks = sinks

    def replace_all(self, scope: str | None, pods: Sequence[PodInfo]) -> None:
        for sink in self._sinks:
            sink.replace_all(scope, pods)

    def upsert(self, pod: PodInfo) -> None:
        for sink in self._sinks:
            sink.upsert(pod)

    def remove(self, namespace: str, uid: str) -> None:
        for sink in self._sinks:
            sink.remove(namespace, uid)
