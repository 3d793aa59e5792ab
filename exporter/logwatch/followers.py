"""The set of followed container instances, kept in step with the pods the watchers report."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from exporter.config.logs import LogSettings, in_shard
from exporter.kube.client import KubeApi
from exporter.kube.pods import PodInfo, PodSink
from exporter.logwatch.lines import LineCounter
from exporter.logwatch.matcher import Matcher
from exporter.logwatch.pod_logs import ContainerFollower, Fate, FollowSettings, Start
from exporter.logwatch.tally import LogSource, LogTally
from exporter.runtime.supervisor import Supervisor, WorkerFactory

log = logging.getLogger(__name__)

REMOVE_GRACE = 3.0  # a deleted pod's streams end on their own; one that only stopped matching is cut after this


class PodFollowers(PodSink):
    def __init__(
        self,
        api: KubeApi,
        settings: LogSettings,
        matcher: Matcher,
        tally: LogTally,
        supervisor: Supervisor,
        stopping: asyncio.Event,
    ) -> None:
        self._api = api
        self._settings = settings
        self._matcher = matcher
        self._tally = tally
        self._supervisor = supervisor
        self._stopping = stopping
        self._follow = FollowSettings(settings.silence_timeout, settings.max_stream_lifetime, settings.app_labels)
        self.pods: dict[str, PodInfo] = {}  # by uid
        self._workers: dict[str, set[str]] = {}  # uid -> names of its followers' workers
        self._listed: set[str | None] = set()  # scopes listed at least once
        self._seen: dict[str, set[str]] = {}  # uid -> container IDs that have (had) a follower: never a second

    def replace_all(self, scope: str | None, pods: Sequence[PodInfo]) -> None:
        # Only a scope's first listing finds pods that were running before the exporter: later (re)lists, after a
        # 410 or a watcher restart, find pods that are new since.
        initial = scope not in self._listed
        self._listed.add(scope)
        listed = {pod.uid for pod in pods}
        for uid, pod in list(self.pods.items()):
            if (scope is None or pod.namespace == scope) and uid not in listed:
                self.remove(pod.namespace, uid)
        for pod in pods:
            self._upsert(pod, initial=initial)

    def upsert(self, pod: PodInfo) -> None:
        self._upsert(pod, initial=False)

    def _upsert(self, pod: PodInfo, *, initial: bool) -> None:
        if not in_shard(pod.uid, self._settings.shard, self._settings.total_shards):
            return
        known = pod.uid in self.pods
        self.pods[pod.uid] = pod
        if not known:
            self._tally.add_pod(self._source(pod, ""))
        containers = self._settings.containers
        # A pod already running when the exporter started is counted from now (unless from_start); a pod or
        # container instance that appears later is new, and counted from its first line, even if it has already
        # terminated (a short Job, a crash between two watch events): its rest is read with one request.
        start = Start.NOW if initial and not self._settings.from_start else Start.BEGINNING
        candidates = [(instance, Fate.RUNNING) for instance in pod.running]
        seen = self._seen.setdefault(pod.uid, set())
        if start is Start.BEGINNING:
            candidates += [(instance, Fate.TERMINATED) for instance in pod.terminated]
            candidates += [(instance, Fate.PREVIOUS) for instance in pod.previous]
        else:  # instances that ended before "now" hold nothing to count, now or at a later relist
            seen.update(instance.container_id for instance in (*pod.terminated, *pod.previous))
        for instance, fate in candidates:
            if (containers and instance.name not in containers) or instance.container_id in seen:
                continue
            seen.add(instance.container_id)
            name = f"logs:{pod.namespace}/{pod.name}/{instance.name}/{instance.container_id}"
            counter = LineCounter(self._source(pod, instance.name), self._matcher, self._tally, timestamps=True)
            follower = ContainerFollower(self._api, pod, instance, counter, self._follow, start=start, fate=fate)
            self._workers.setdefault(pod.uid, set()).add(name)
            self._supervisor.start(name, self._worker(pod, name, follower))

    def _worker(self, pod: PodInfo, name: str, follower: ContainerFollower) -> WorkerFactory:
        async def run() -> None:
            # Finished when it ends or is cancelled (cut, shutdown); a crash is not an end: the supervisor restarts
            # the same worker, which must stay this pod's (so that a later cut still reaches it).
            try:
                await follower.run(self._stopping)
            except asyncio.CancelledError:
                self._finished(pod, name)
                raise
            self._finished(pod, name)

        return run

    def _finished(self, pod: PodInfo, name: str) -> None:
        workers = self._workers.get(pod.uid)
        if workers is not None:
            workers.discard(name)
            if not workers and pod.uid not in self.pods:
                del self._workers[pod.uid]
                self._seen.pop(pod.uid, None)
                self._tally.remove_pod(self._source(pod, ""))

    def remove(self, namespace: str, uid: str) -> None:
        pod = self.pods.pop(uid, None)
        if pod is None:
            return
        if not self._workers.get(uid):
            self._workers.pop(uid, None)
            self._seen.pop(uid, None)
            self._tally.remove_pod(self._source(pod, ""))
            return
        # Under the supervisor, so that shutdown cancels a cut still waiting out its grace period; one per pod (a
        # cut already waiting sees whether the pod came back when its grace period ends).
        name = f"cut:{uid}"
        if not self._supervisor.running(name):
            self._supervisor.start(name, lambda: self._cut_after_grace(uid))

    async def _cut_after_grace(self, uid: str) -> None:
        await asyncio.sleep(REMOVE_GRACE)
        if uid in self.pods:
            return  # it came back (relisted, or its labels match again)
        for name in list(self._workers.get(uid, ())):
            await self._supervisor.stop(name)

    def _source(self, pod: PodInfo, container: str) -> LogSource:
        return LogSource(namespace=pod.namespace, app=pod.app, pod=pod.name, container=container)
