"""Container logs as kubelet keeps them: per container instance, one timestamp per line, nanosecond precision.

A container restart starts a new instance (new container ID); the old one becomes `previous`. Followers of an
instance are woken only when *that* instance changes, so a line costs O(its followers), not O(all streams).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from .timeutil import now_ns


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
    timestamps: list[int] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    finished_ns: int | None = None
    exit_code: int = 0
    reason: str = ""
    followers: set[asyncio.Event] = field(default_factory=set)

    @property
    def running(self) -> bool:
        return self.finished_ns is None

    def append(self, lines: Iterable[bytes], timestamps: Iterable[int] | None) -> int:
        before = len(self.lines)
        if timestamps is None:
            for line in lines:
                self.lines.append(line)
                self.timestamps.append(now_ns())
        else:
            for line, ts in zip(lines, timestamps, strict=True):
                self.lines.append(line)
                self.timestamps.append(ts)
        self._wake()
        return len(self.lines) - before

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

    @property
    def current(self) -> ContainerInstance | None:
        return self.instances[-1] if self.instances else None

    @property
    def previous(self) -> ContainerInstance | None:
        return self.instances[-2] if len(self.instances) > 1 else None


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
    def __init__(self) -> None:
        self._containers: dict[tuple[str, str, str], ContainerLog] = {}
        self._truth: dict[LogKey, int] = {}  # outlives deleted pods: tests compare against it afterwards

    def get(self, namespace: str, pod: str, container: str) -> ContainerLog | None:
        return self._containers.get((namespace, pod, container))

    def start(
        self, namespace: str, pod: str, container: str, *, exit_code: int = 0, reason: str = ""
    ) -> ContainerInstance:
        """Start a new instance, terminating the running one first (its followers then end)."""
        log = self._containers.setdefault((namespace, pod, container), ContainerLog())
        if log.current is not None:
            log.current.terminate(exit_code, reason)
        instance = ContainerInstance(new_container_id(), now_ns())
        log.instances.append(instance)
        self._truth[LogKey(namespace, pod, container, instance.container_id)] = 0
        return instance

    def append(
        self, namespace: str, pod: str, container: str, lines: list[bytes], timestamps: list[int] | None
    ) -> ContainerInstance | None:
        """Append to the running instance; None if there is none (the caller reports the error)."""
        log = self._containers.get((namespace, pod, container))
        instance = log.current if log is not None else None
        if instance is None or not instance.running:
            return None
        added = instance.append(lines, timestamps)
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
