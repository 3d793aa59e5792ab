"""Container logs as kubelet keeps them: per container instance, one timestamp per line, nanosecond precision.

A container restart starts a new instance (new container ID); the old one becomes `previous`. Followers of an
instance are woken only when *that* instance changes, so a line costs O(its followers), not O(all streams).

What the API serves is not what was written: kubelet's log rotation moves lines out of the current file (`rotated`
is the first line still served), and timestamps are rendered in the zone offset the runtime writes (`offset`).
Every line written is kept with its instance for the ground truth (`LogStore.lines_written`).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from .timeutil import now_ns, rfc3339_nano


class WrittenLine(NamedTuple):
    """One line as the container wrote it: the instant, the rendered timestamp kubelet serves, stream and bytes."""

    timestamp_ns: int
    timestamp: str  # RFC 3339 with nine digits in the container's zone offset, as `timestamps=true` shows it
    stream: str  # "stdout" or "stderr"
    text: bytes


class LogKey(NamedTuple):
    """Ground truth is reported per container instance: (namespace, pod, container, containerID)."""

    namespace: str
    pod: str
    container: str
    container_id: str


def new_container_id() -> str:
    return "containerd://" + secrets.token_hex(32)


@dataclass(eq=False, slots=True)
class ContainerInstance:
    """One run of a container: its output and the events of the streams following it."""

    container_id: str
    started_ns: int
    offset: int = 0  # seconds east of UTC of the timestamps the runtime writes for this instance
    timestamps: list[int] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)
    rotated: int = 0  # lines before this index were rotated out of the current log file: no longer served
    finished_ns: int | None = None
    exit_code: int = 0
    reason: str = ""
    followers: set[asyncio.Event] = field(default_factory=set)

    @property
    def running(self) -> bool:
        return self.finished_ns is None

    def append(self, lines: Iterable[bytes], timestamps: Iterable[int] | None, stream: str = "stdout") -> int:
        before = len(self.lines)
        if timestamps is None:
            for line in lines:
                self.lines.append(line)
                self.timestamps.append(now_ns())
        else:
            for line, ts in zip(lines, timestamps, strict=True):
                self.lines.append(line)
                self.timestamps.append(ts)
        self.streams.extend([stream] * (len(self.lines) - len(self.streams)))
        self._wake()
        return len(self.lines) - before

    def rotate(self) -> int:
        """kubelet renamed the log file: what was written so far is no longer served. Returns lines moved away."""
        moved = len(self.lines) - self.rotated
        self.rotated = len(self.lines)
        return moved

    def written(self) -> list[WrittenLine]:
        return [
            WrittenLine(ts, rfc3339_nano(ts, self.offset).decode(), stream, line)
            for ts, stream, line in zip(self.timestamps, self.streams, self.lines, strict=True)
        ]

    def terminate(self, exit_code: int, reason: str) -> None:
        if self.finished_ns is None:
            self.finished_ns = now_ns()
            self.exit_code = exit_code
            self.reason = reason
            self._wake()

    def _wake(self) -> None:
        for event in self.followers:
            event.set()


@dataclass(eq=False, slots=True)
class ContainerLog:
    """All instances of one container of one pod, oldest first."""

    instances: list[ContainerInstance] = field(default_factory=list)
    offset: int = 0  # zone offset given to new instances
    waiting: str = ""  # e.g. "CrashLoopBackOff": the last instance ended and kubelet backs off restarting it
    # What the API's pod status shows lags what kubelet knows: these are what was last published to it.
    published: int = 0
    published_waiting: str = ""

    @property
    def current(self) -> ContainerInstance | None:
        """The instance kubelet serves without `previous`: the running one, or the one that ended last."""
        return self.instances[-1] if self.instances else None

    @property
    def previous(self) -> ContainerInstance | None:
        """The instance of `lastState.terminated` (kubelet's `previous=true`): in CrashLoopBackOff the one that
        just crashed, else the one before the current."""
        if self.waiting and self.instances and not self.instances[-1].running:
            return self.instances[-1]
        return self.instances[-2] if len(self.instances) > 1 else None

    def publish(self) -> None:
        self.published, self.published_waiting = len(self.instances), self.waiting


def split_lines(items: Iterable[str | bytes]) -> list[bytes]:
    """Each item is one line; embedded newlines make several, as the container runtime splits output at '\\n'."""
    out: list[bytes] = []
    for item in items:
        data = item.encode() if isinstance(item, str) else item
        if data.endswith(b"\n"):
            data = data[:-1]
        out.extend(data.split(b"\n"))
    return out


class LogStore:
    def __init__(self, *, offset: int = 0) -> None:
        self.offset = offset  # the zone offset of containers not given one
        self._containers: dict[tuple[str, str, str], ContainerLog] = {}
        self._truth: dict[LogKey, int] = {}  # outlives deleted pods: tests compare against it afterwards
        self._instances: dict[LogKey, ContainerInstance] = {}  # likewise, for the lines themselves

    def get(self, namespace: str, pod: str, container: str) -> ContainerLog | None:
        return self._containers.get((namespace, pod, container))

    def start(
        self, namespace: str, pod: str, container: str, *, exit_code: int = 0, reason: str = ""
    ) -> ContainerInstance:
        """Start a new instance, terminating the running one first (its followers then end)."""
        log = self.container(namespace, pod, container)
        if log.current is not None:
            log.current.terminate(exit_code, reason)
        log.waiting = ""
        instance = ContainerInstance(new_container_id(), now_ns(), log.offset)
        log.instances.append(instance)
        key = LogKey(namespace, pod, container, instance.container_id)
        self._truth[key] = 0
        self._instances[key] = instance
        return instance

    def container(self, namespace: str, pod: str, container: str) -> ContainerLog:
        """The container's log, created (with the default zone offset) if it never ran."""
        log = self._containers.get((namespace, pod, container))
        if log is None:
            log = self._containers[(namespace, pod, container)] = ContainerLog(offset=self.offset)
        return log

    def append(
        self,
        namespace: str,
        pod: str,
        container: str,
        lines: list[bytes],
        timestamps: list[int] | None,
        stream: str = "stdout",
    ) -> ContainerInstance | None:
        """Append to the running instance; None if there is none (the caller reports the error)."""
        log = self._containers.get((namespace, pod, container))
        instance = log.current if log is not None else None
        if instance is None or not instance.running:
            return None
        added = instance.append(lines, timestamps, stream)
        self._truth[LogKey(namespace, pod, container, instance.container_id)] += added
        return instance

    def remove_pod(self, namespace: str, pod: str) -> None:
        """The pod is gone: every instance ends, so follow streams end as they do when kubelet kills the pod."""
        for key in [k for k in self._containers if k[0] == namespace and k[1] == pod]:
            for instance in self._containers.pop(key).instances:
                instance.terminate(137, "Error")

    def ground_truth(self) -> dict[LogKey, int]:
        """Lines appended per container instance since start, including instances of deleted pods."""
        return dict(self._truth)

    def lines_written(self) -> dict[LogKey, list[WrittenLine]]:
        """Every line each container instance wrote (rotated away or not), with its timestamp, oldest first."""
        return {key: instance.written() for key, instance in self._instances.items()}
