"""The agent's log following as one worker: this node's pods in, the shared log tally and the agent's stats out.

Reading is done off the event loop: each pass runs in one dedicated thread (its own, so DNS lookups hung on a
broken resolver in the default pool cannot starve it) and is bounded (`pass_budget` bytes, `container_budget` per
container), so a backlog is read in slices. Passes are paced: a caught-up file is read once every `pace` seconds
(1 s, as `serve` reads a stream), and a pass that used its whole budget is followed at once. Counts are applied to
the tally on the event loop, where the scrape reads it, so no view ever sees a half-applied pass.

Start it under the supervisor:
    service = NodeLogs(settings, tally, pod_source)
    registry.register(LogCollector(tally)); registry.register(service.collector())
    supervisor.start("agent-logs", lambda: service.run(stopping))
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from exporter.agent.follower import PollResult
from exporter.agent.metrics import AgentLogCollector, ReadingStats
from exporter.agent.pods import NodeFollowers, NodePodSource, PodLogs, pod_source
from exporter.agent.positions import PositionStore
from exporter.agent.settings import AgentLogSettings
from exporter.logwatch.tally import LogSource, LogTally, StreamState

log = logging.getLogger(__name__)


class NodeLogs:
    def __init__(self, settings: AgentLogSettings, tally: LogTally, pods: NodePodSource) -> None:
        """`pods` runs until stopped, telling its sink this node's pods (see `agent.pods.NodePodSource`)."""
        self.settings = settings
        self.tally = tally
        self.stats = ReadingStats()
        self._pod_source = pods
        self._store = PositionStore(settings.state_dir)
        self.followers = NodeFollowers(settings, self._store)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agent-logs")
        self.passes = 0  # completed passes: tests wait on it

    def collector(self) -> AgentLogCollector:
        return AgentLogCollector(self.stats)

    async def run(self, stopping: asyncio.Event) -> None:
        """Watch this node's pods and read their files until `stopping` is set; positions are kept on disk."""
        loop = asyncio.get_running_loop()
        watcher: asyncio.Future[None] = asyncio.ensure_future(self._pod_source(self.followers, stopping))
        try:
            while not stopping.is_set():
                if watcher.done():
                    watcher.result()  # the source failed: the supervisor restarts us (positions are on disk)
                    raise RuntimeError("the pod source ended before the agent was stopped")
                started = loop.time()
                exhausted = await self.read_once()
                if exhausted:
                    continue
                try:
                    async with asyncio.timeout(max(0.0, self.settings.pace - (loop.time() - started))):
                        await stopping.wait()
                except TimeoutError:
                    pass
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    async def read_once(self) -> bool:
        """One pass: apply pod changes, read in the thread, count on the loop. True if the budget ran out."""
        for pod in self.followers.apply_changes():
            self.tally.add_pod(pod_source(pod))
        results = await asyncio.get_running_loop().run_in_executor(self._thread, self.followers.poll_all)
        read = sum(result.bytes_read for _, _, result in results)
        for logs, container, result in results:
            self._apply(logs, container.source, (logs.pod.uid, container.source.container), result)
        self.stats.files_open = sum(
            container.open_files for logs in self.followers.pods.values() for container in logs.containers.values()
        )
        self.stats.containers = sum(len(logs.containers) for logs in self.followers.pods.values())
        self.passes += 1
        return read >= self.settings.pass_budget

    def _apply(self, logs: PodLogs, source: LogSource, key: tuple[str, str], result: PollResult) -> None:
        counted = result.counted
        if counted.lines or counted.events:
            self.tally.count(source, counted.lines, counted.events)
        self.stats.malformed.update(counted.malformed)
        self.stats.bytes_read += result.bytes_read
        for _ in range(result.rotations):
            self.tally.stream_restarted("rotated")
        for _ in range(result.restarts):
            self.tally.stream_restarted("ended")
        if result.finished:
            self.tally.set_stream(key, None)
            if logs.pod.uid not in self.followers.pods and not logs.removed:
                logs.removed = True
                self.tally.remove_pod(pod_source(logs.pod))
                log.info(
                    "pod gone, its logs read to their end", extra={"namespace": source.namespace, "pod": source.pod}
                )
        else:
            self.tally.set_stream(key, StreamState.FOLLOWING)

    async def close(self) -> None:
        """Close every held file (positions are already saved)."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self.followers.close)
        self._thread.shutdown(wait=False)
