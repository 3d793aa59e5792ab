"""This node's pods and their log directories: the follower set, kept in step with the pods the watch reports.

The pods come from a `NodePodSource`: a coroutine that tells a `PodSink` the full set after each (re)list, then
each change, until stopped. In the app it is `logwatch.pods.watch_pods` over all namespaces with
`fieldSelector=spec.nodeName=$NODE_NAME` (and the `--logs.selector` label selector). Sink calls arrive on the
event loop; they only record what changed. The reading thread applies it at the start of its next pass, so the
follower set is never changed while it is being read.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from exporter.agent.cri import CriCounter
from exporter.agent.follower import ContainerLog, PollResult, Start
from exporter.agent.positions import PositionStore
from exporter.agent.settings import AgentLogSettings
from exporter.kube.pods import PodInfo, PodSink
from exporter.logwatch.tally import LogSource

NodePodSource = Callable[[PodSink, asyncio.Event], Awaitable[None]]


def pod_directory(log_dir: Path, namespace: str, pod: str, uid: str) -> Path:
    """Where kubelet writes a pod's container logs: `<log_dir>/<namespace>_<pod>_<uid>/`."""
    return log_dir / f"{namespace}_{pod}_{uid}"


def pod_source(pod: PodInfo, container: str = "") -> LogSource:
    return LogSource(namespace=pod.namespace, app=pod.app, pod=pod.name, container=container)


@dataclass(slots=True)
class PodLogs:
    """A pod's container directories; `finishing` once the pod is gone (its files are then read to their end)."""

    pod: PodInfo
    start: Start
    finishing: bool = False
    containers: dict[str, ContainerLog] = field(default_factory=dict)
    looked: bool = False  # its directory was listed once: containers found later are new
    removed: bool = False  # its series were dropped (once, however many containers finished in the last pass)


class NodeFollowers(PodSink):
    """The pods of this node, as the source reports them, and a `ContainerLog` per container directory."""

    def __init__(self, settings: AgentLogSettings, store: PositionStore) -> None:
        self._settings = settings
        self._store = store
        self.pods: dict[str, PodLogs] = {}  # by uid; touched only between passes
        self._changes: list[tuple[str, PodInfo | None, str, bool]] = []  # (kind, pod, uid, initial)
        self._listed: set[str | None] = set()
        self.orphans_pending = False

    # The sink side (event loop): record only.
    def replace_all(self, scope: str | None, pods: Sequence[PodInfo]) -> None:
        initial = scope not in self._listed
        self._listed.add(scope)
        if initial:
            self.orphans_pending = True  # positions of pods deleted while the agent was down
        self._changes.append(("replace", None, "", initial))
        for pod in pods:
            self._changes.append(("upsert", pod, pod.uid, initial))

    def upsert(self, pod: PodInfo) -> None:
        self._changes.append(("upsert", pod, pod.uid, False))

    def remove(self, namespace: str, uid: str) -> None:
        self._changes.append(("remove", None, uid, False))

    # Between passes (event loop): apply the recorded changes; returns the pods that are new, for the tally.
    def apply_changes(self) -> list[PodInfo]:
        changes, self._changes = self._changes, []
        added: list[PodInfo] = []
        listed: set[str] | None = None
        for kind, pod, uid, initial in changes:
            if kind == "replace":
                if listed is not None:
                    self._finish_unlisted(listed)
                listed = set()
            elif kind == "remove":
                if uid in self.pods:
                    self.pods[uid].finishing = True
            elif pod is not None:
                if listed is not None:
                    listed.add(uid)
                known = self.pods.get(uid)
                if known is None:
                    start = Start.NOW if initial and not self._settings.from_start else Start.BEGINNING
                    self.pods[uid] = PodLogs(pod, start)
                    added.append(pod)
                else:
                    known.pod, known.finishing = pod, False
        if listed is not None:
            self._finish_unlisted(listed)
        return added

    def _finish_unlisted(self, listed: set[str]) -> None:
        """After a relist, pods it did not return are gone (deleted while the watch was down)."""
        for uid, logs in self.pods.items():
            if uid not in listed:
                logs.finishing = True

    # The reading thread.
    def poll_all(self) -> list[tuple[PodLogs, ContainerLog, PollResult]]:
        """One pass over every container directory; finished pods are dropped here and reported as finished."""
        if self.orphans_pending:
            self.orphans_pending = False
            self._adopt_orphans()
        results = []
        budget = self._settings.pass_budget
        for logs in list(self.pods.values()):
            self._find_containers(logs)
            for container in list(logs.containers.values()):
                container.finishing = logs.finishing
                share = min(self._settings.container_budget, max(budget, 0))
                result = container.poll(share)
                budget -= result.bytes_read
                results.append((logs, container, result))
                if result.finished:
                    del logs.containers[container.source.container]
            if logs.finishing and not logs.containers:
                del self.pods[logs.pod.uid]
        self._store.flush()
        return results

    def _find_containers(self, logs: PodLogs) -> None:
        pod = logs.pod
        directory = pod_directory(self._settings.log_dir, pod.namespace, pod.name, pod.uid)
        try:
            names = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir(follow_symlinks=False))
        except (FileNotFoundError, NotADirectoryError):
            names = []
        wanted = self._settings.containers
        for name in names:
            if name in logs.containers or (wanted and name not in wanted):
                continue
            start = logs.start if not logs.looked else Start.BEGINNING
            logs.containers[name] = ContainerLog(
                directory / name,
                pod_source(pod, name),
                pod.uid,
                CriCounter(self._settings.patterns),
                self._store,
                start=start,
                container_id=pod.current_id(name) or "",
            )
        logs.looked = True  # containers that appear after the first look are new: counted from their first line

    def _adopt_orphans(self) -> None:
        """Positions of pods not on this node any more: finish their files if kubelet has not removed them yet."""
        for position in self._store.load_all():
            if position.uid in self.pods:
                continue
            pod = PodInfo(position.namespace, position.pod, position.uid, position.app, (), ())
            directory = pod_directory(self._settings.log_dir, pod.namespace, pod.name, pod.uid)
            if not directory.is_dir():
                self._store.delete(position.uid, position.container)
                continue
            self.pods[pod.uid] = PodLogs(pod, Start.BEGINNING, finishing=True)

    def close(self) -> None:
        for logs in self.pods.values():
            for container in logs.containers.values():
                container.close()
        self._store.flush()
