"""Following one container instance's log through the API, exactly: every line of that instance once, no other.

The API serves logs by pod and container *name*; which instance answers is kubelet's business, and the pod status
that says which instance runs lags kubelet by a second or more. So the follower never trusts a name alone:
- after a stream ends, it does not reopen by name until the status shows its instance's fate (terminated: read
  the rest with a plain or `previous=true` request; still running after FATE_WAIT: the stream was cut, resume);
- after any reopen it reads the status again once the response has begun, and drops the stream unread if its
  instance is no longer the running one (kubelet may be serving the next instance, which its own follower counts).
A stream may also drop, stall silently (kubelet log rotation before Kubernetes 1.29) or live too long; each time
the follower resumes with `sinceTime` from its last counted second (the line counter skips the replay), never from
the beginning once lines were counted. A pod found at start is counted from the exporter's own "now": the moment it
decided to follow it, by timestamp, whatever the API server's latency.
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
from exporter.logwatch.lines import LineCounter
from exporter.logwatch.tally import StreamState
from exporter.runtime.backoff import Backoff
from exporter.runtime.waiting import wait_or_stop

log = logging.getLogger(__name__)

REOPEN_BACKOFF = Backoff(initial=1.0, maximum=30.0)
BATCH_WINDOW = 2.0  # seconds between reads of a stream: counts settle this much later, for a fraction of the CPU
FATE_POLL = 0.5  # seconds between status reads while waiting for an ended stream's instance to show its fate
FATE_WAIT = 10.0  # an instance still "running" this long after its stream ended was not ended: the stream was cut


class Start(StrEnum):
    NOW = "now"  # a pod that was already running when the exporter started: count from now
    BEGINNING = "beginning"  # a new pod or a new container instance: count all of it


class StreamEnd(StrEnum):
    ENDED = "ended"
    SILENCE = "silence"
    LIFETIME = "lifetime"
    ERROR = "error"
    STOPPING = "stopping"
    REPLACED = "replaced"  # the reopened stream may serve another instance: dropped unread


class Fate(StrEnum):
    """What became of the followed instance, from the pod's status."""

    RUNNING = "running"  # follow (again)
    TERMINATED = "terminated"  # its current state: a plain request serves its rest
    PREVIOUS = "previous"  # lastState: `previous=true` serves its rest
    GONE = "gone"  # the pod is gone, or the instance is beyond reach


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
        fate: Fate = Fate.RUNNING,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api = api
        self._pod = pod
        self._instance = instance
        self._counter = counter
        self._settings = settings
        self._start = start
        self._initial_fate = fate  # RUNNING: follow it; TERMINATED/PREVIOUS: it ended before we saw it, read it all
        self._clock = clock
        self._path = f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}/log"
        self._decided_ns = int(clock() * 1e9)  # "now" for Start.NOW: when the exporter decided to follow it
        self.key = (pod.uid, instance.name, instance.container_id)

    async def run(self, stopping: asyncio.Event) -> None:
        tally = self._counter.tally
        failures = 0
        fate = self._initial_fate
        reopened = False
        try:
            while not stopping.is_set():
                query = [("container", self._instance.name), ("timestamps", "true")]
                if fate is Fate.RUNNING:
                    query.append(("follow", "true"))
                elif fate is Fate.PREVIOUS:
                    query.append(("previous", "true"))
                query += self._position()
                try:
                    async with self._api.stream("pod logs", self._path, query) as response:
                        failures = 0
                        if fate is Fate.RUNNING:
                            tally.set_stream(self.key, StreamState.FOLLOWING)
                        end = await self._checked_read(response, stopping, verify=reopened and fate is Fate.RUNNING)
                except KubeError as exc:
                    if exc.code == "404":
                        return  # the pod is gone
                    end, failures = StreamEnd.ERROR, failures + 1
                    await self._honour_retry_after(exc, stopping)
                self._counter.drop_partial()
                if end is StreamEnd.STOPPING or (fate is not Fate.RUNNING and end is not StreamEnd.ERROR):
                    return  # a terminated instance's rest is read in one request
                reopened = True
                if end is not StreamEnd.REPLACED:
                    tally.stream_restarted(end.value)
                tally.set_stream(self.key, StreamState.RETRYING)
                fate = await self._await_fate(stopping, wait=end is StreamEnd.ENDED)
                if fate is Fate.GONE:
                    return
                if failures and await wait_or_stop(stopping, REOPEN_BACKOFF.delay(failures)):
                    return
        finally:
            tally.set_stream(self.key, None)

    def _position(self) -> list[tuple[str, str]]:
        """Where the next stream starts: after the last counted line, else per `start`; never from the beginning
        once lines were counted."""
        counter = self._counter
        if counter.resume.copies:
            return [("sinceTime", counter.start_resume())]
        if counter.counted:
            # Lines counted, none with a readable time: resume from when the last of them was read.
            return [("sinceTime", counter.start_from(int(self._clock() * 1e9) - 1_000_000_000))]
        if self._start is Start.NOW:
            return [("sinceTime", counter.start_from(self._decided_ns))]
        counter.drop_partial()
        return []

    async def _checked_read(
        self, response: aiohttp.ClientResponse, stopping: asyncio.Event, *, verify: bool
    ) -> StreamEnd:
        """A reopened follow stream is read only if its instance is, after the response began, still the running
        one: otherwise kubelet may be serving the next instance, and the stream is dropped unread."""
        if verify:
            pod = await self._current_pod()
            if pod is not None and pod.current_id(self._instance.name) != self._instance.container_id:
                return StreamEnd.REPLACED
        return await self._read(response, stopping)

    async def _honour_retry_after(self, exc: KubeError, stopping: asyncio.Event) -> None:
        if exc.retry_after:
            await wait_or_stop(stopping, exc.retry_after)

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

    async def _current_pod(self) -> PodInfo | None:
        """Our pod as the API shows it now; None if it is gone (or another pod took its name), or unknown."""
        path = f"/api/v1/namespaces/{self._pod.namespace}/pods/{self._pod.name}"
        try:
            obj = await self._api.get_json("get pod", path)
        except KubeError as exc:
            if exc.code == "404":
                return None
            raise
        pod = pod_info(obj, self._settings.app_labels)
        return pod if pod.uid == self._pod.uid else None

    async def _await_fate(self, stopping: asyncio.Event, *, wait: bool) -> Fate:
        """What became of our instance. With `wait` (its stream ended), the status is read until it shows the
        instance's fate, for up to FATE_WAIT: before that a request by name may be served the next instance."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (FATE_WAIT if wait else 0.0)
        while True:
            try:
                pod = await self._current_pod()
            except KubeError:
                return Fate.RUNNING  # unknown: reopening re-checks the status once the response has begun
            fate = self._fate_in(pod)
            if fate is not Fate.RUNNING or loop.time() >= deadline:
                return fate
            if await wait_or_stop(stopping, FATE_POLL):
                return Fate.GONE

    def _fate_in(self, pod: PodInfo | None) -> Fate:
        if pod is None:
            return Fate.GONE
        name, ours = self._instance.name, self._instance.container_id
        if pod.current_id(name) == ours:
            return Fate.RUNNING
        if pod.terminated_id(name) == ours:
            return Fate.TERMINATED
        if pod.previous_id(name) == ours:
            return Fate.PREVIOUS
        return Fate.GONE
