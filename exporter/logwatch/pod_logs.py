"""Following one container instance's log through the API, exactly: every line once, none lost.

A stream ends when the instance terminates or the pod goes (as kubelet ends it), and may also drop, stall
silently (kubelet log rotation before Kubernetes 1.29, kubernetes issue 115701) or live too long. Each time, the
follower asks the API what became of its instance: still running, it resumes with `sinceTime` (the line counter
skips the replayed second); terminated with lines unread, it reads the rest with `previous=true`; gone, it stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import aiohttp

from exporter.kube.client import KubeApi, KubeError
from exporter.kube.pods import ContainerInstance, PodInfo, pod_info
from exporter.logwatch.lines import LineCounter, ResumePoint, since_time
from exporter.logwatch.tally import StreamState
from exporter.runtime.backoff import Backoff
from exporter.runtime.waiting import wait_or_stop

log = logging.getLogger(__name__)

REOPEN_BACKOFF = Backoff(initial=1.0, maximum=30.0)
BATCH_WINDOW = 1.0  # seconds between reads of a stream: counts settle this much later, for a fraction of the CPU


class Start(StrEnum):
    NOW = "now"  # a pod that was already running when the exporter started: count from now
    BEGINNING = "beginning"  # a new pod or a new container instance: count all of it


class StreamEnd(StrEnum):
    ENDED = "ended"
    SILENCE = "silence"
    LIFETIME = "lifetime"
    ERROR = "error"
    STOPPING = "stopping"


@dataclass(frozen=True, slots=True)
class FollowSettings:
    silence_timeout: float
    max_stream_lifetime: float
    app_labels: tuple[str, ...]


class ContainerFollower:
    def __init__(
        self,
        api: KubeApi,
        pod: PodInfo,
        instance: ContainerInstance,
        counter: LineCounter,
        settings: FollowSettings,
        *,
        start: Start,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api = api
        self._pod = pod
        self._instance = instance
        self._counter = counter
        self._settings = settings
        self._start = start
        self._clock = clock
        self._path = f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}/log"
        self._opened_ns = 0
        self.key = (pod.uid, instance.name, instance.container_id)

    async def run(self, stopping: asyncio.Event) -> None:
        tally = self._counter.tally
        failures = 0
        opened = False
        previous = False
        try:
            while not stopping.is_set():
                query = [("container", self._instance.name), ("timestamps", "true")]
                query += [("previous", "true")] if previous else [("follow", "true")]
                query += self._position(opened)
                opened = True
                tally.set_stream(self.key, StreamState.FOLLOWING)
                try:
                    async with self._api.stream("pod logs", self._path, query) as response:
                        failures = 0
                        end = await self._read(response, stopping)
                except KubeError as exc:
                    if exc.code == "404":
                        return  # the pod is gone
                    end, failures = StreamEnd.ERROR, failures + 1
                self._counter.drop_partial()
                if end is StreamEnd.STOPPING or previous:
                    return  # a `previous` read is complete in one request
                tally.stream_restarted(end.value)
                tally.set_stream(self.key, StreamState.RETRYING)
                if end is StreamEnd.ENDED or end is StreamEnd.ERROR:
                    fate = await self._fate()
                    if fate == "gone":
                        return
                    previous = fate == "previous"
                    if end is StreamEnd.ENDED and fate == "follow":
                        # Ended, yet the pod says it runs (status lag, or a proxy closing streams): not at once.
                        failures = max(failures, 1)
                if failures and await wait_or_stop(stopping, REOPEN_BACKOFF.delay(failures)):
                    return
        finally:
            tally.set_stream(self.key, None)

    def _position(self, opened: bool) -> list[tuple[str, str]]:
        """Where the next stream starts: from the last counted line, or per `start` the first time."""
        counter = self._counter
        if counter.resume.at >= 0:
            counter.start_resume()
            return [("sinceTime", since_time(counter.resume.at))]
        if opened:
            if self._start is Start.NOW:
                # Nothing counted yet since "now": resume from when the first stream opened.
                counter.resume = ResumePoint(self._opened_ns - 1, 0)
                counter.start_resume()
                return [("sinceTime", since_time(self._opened_ns))]
            return []  # from the instance's beginning again; nothing was counted
        self._opened_ns = time.time_ns()
        return [("tailLines", "0")] if self._start is Start.NOW else []

    async def _read(self, response: aiohttp.ClientResponse, stopping: asyncio.Event) -> StreamEnd:
        """Read until the stream ends, falls silent, grows too old, or the exporter stops.

        Reads are paced by BATCH_WINDOW: a busy stream then hands over many lines per read instead of one, which
        is most of the cost at a thousand streams (each read is a TLS record, a wake-up and a matcher call).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.max_stream_lifetime
        while not stopping.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return StreamEnd.LIFETIME
            try:
                async with asyncio.timeout(min(self._settings.silence_timeout, remaining)):
                    data = await response.content.readany()
            except TimeoutError:
                return StreamEnd.SILENCE if remaining > self._settings.silence_timeout else StreamEnd.LIFETIME
            except (aiohttp.ClientError, OSError):
                return StreamEnd.ERROR
            if not data:
                return StreamEnd.ENDED
            self._counter.feed(data)
            if await wait_or_stop(stopping, BATCH_WINDOW):
                break
        return StreamEnd.STOPPING

    async def _fate(self) -> str:
        """After a stream ended: `follow` (resume), `previous` (read the terminated rest) or `gone`."""
        path = f"/api/v1/namespaces/{self._pod.namespace}/pods/{self._pod.name}"
        try:
            obj = await self._api.get_json("get pod", path)
        except KubeError as exc:
            return "gone" if exc.code == "404" else "follow"
        pod = pod_info(obj, self._settings.app_labels)
        if pod.uid != self._pod.uid:
            return "gone"
        name, ours = self._instance.name, self._instance.container_id
        if pod.current_id(name) == ours:
            return "follow"
        if pod.previous_id(name) == ours and self._counter.resume.at >= 0:
            return "previous"  # it terminated while we were not reading: fetch what we missed
        return "gone"
