"""A simulated node's `/var/log/pods`, written the way containerd and kubelet write it, with the ground truth.

containerd: each line written as `<RFC3339Nano time> <stream> <P|F> <message>\n`, a message longer than 16 KiB
split into `P` parts closed by an `F` part, the file kept open for writing (so writes between kubelet's rename and
the runtime's reopen land in the renamed file). kubelet: rotation renames `<n>.log` to `<n>.log.<YYYYMMDD-HHMMSS>`,
then the runtime reopens a new `<n>.log`; every rotated file but the newest is gzipped (`.gz.tmp`, renamed `.gz`,
then the plain file removed); at most `max_files` files per instance, the oldest deleted first. A container restart
is a new `<n+1>.log`; deleting a pod removes its directory.

The truth is counted from what was written, by an independent reading of the patterns: per (namespace, app),
whole application lines and the first event each line names.
"""

from __future__ import annotations

import gzip
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from exporter.kube.pods import ContainerInstance, PodInfo

SPLIT = 16 * 1024
MAX_FILES = 5
EVENTS = (
    ("connected", b"Connected to NATS server"),
    ("failed", b"Failed to connect to NATS"),
    ("lost", b"NATS connection lost"),
)
START = 1_795_514_400  # 2026-11-24T10:00:00Z


def event_of(message: bytes) -> str | None:
    return next((name for name, text in EVENTS if text in message), None)


def cri_time(nanoseconds: int, offset_minutes: int = 0) -> bytes:
    """RFC3339Nano as containerd writes it: trailing zeros of the fraction trimmed, `Z` or the zone's offset."""
    local = nanoseconds + offset_minutes * 60 * 1_000_000_000
    seconds, fraction = divmod(local, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    if offset_minutes == 0:
        return (text + "Z").encode()
    sign = "+" if offset_minutes > 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}".encode()


@dataclass
class SimContainer:
    directory: Path
    restart: int = 0
    handle: BinaryIO | None = None
    rotations: int = 0

    @property
    def live(self) -> Path:
        return self.directory / f"{self.restart}.log"

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.live, "ab", buffering=0)  # noqa: SIM115  (held open like the runtime's)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


@dataclass
class SimPod:
    namespace: str
    name: str
    uid: str
    app: str
    directory: Path
    containers: dict[str, SimContainer] = field(default_factory=dict)

    def info(self) -> PodInfo:
        running = tuple(
            ContainerInstance(name, f"containerd://{self.uid}-{name}-{c.restart}")
            for name, c in self.containers.items()
        )
        return PodInfo(self.namespace, self.name, self.uid, self.app, running, ())


class SimNode:
    def __init__(self, root: Path, *, max_files: int = MAX_FILES) -> None:
        self.root = root
        self.max_files = max_files
        root.mkdir(parents=True, exist_ok=True)
        self.pods: dict[str, SimPod] = {}
        self.truth: Counter[tuple[str, str, str]] = Counter()  # (namespace, app, "lines" or an event)
        self.clock_ns = START * 1_000_000_000
        self._rotation_clock = START
        self._uids = 0

    def add_pod(
        self, namespace: str, name: str, app: str, containers: tuple[str, ...] = ("app",), *, uid: str = ""
    ) -> SimPod:
        self._uids += 1
        uid = uid or f"{self._uids:08d}-0000-4000-8000-{self._uids:012d}"
        pod = SimPod(namespace, name, uid, app, self.root / f"{namespace}_{name}_{uid}")
        for container in containers:
            sim = SimContainer(pod.directory / container)
            sim.open()
            pod.containers[container] = sim
        self.pods[name] = pod
        return pod

    def write(
        self,
        pod: str,
        message: str | bytes,
        *,
        container: str = "app",
        stream: str = "stdout",
        offset_minutes: int = 0,
        count: bool = True,
    ) -> None:
        """One application line, split as containerd splits it; `count=False` for lines written before a start."""
        sim = self.pods[pod]
        body = message.encode() if isinstance(message, str) else message
        handle = sim.containers[container].handle
        assert handle is not None
        parts = [body[i : i + SPLIT] for i in range(0, len(body), SPLIT)] or [b""]
        for index, part in enumerate(parts):
            self.clock_ns += 1_000_123
            tag = b"F" if index == len(parts) - 1 else b"P"
            handle.write(b"%s %s %s %s\n" % (cri_time(self.clock_ns, offset_minutes), stream.encode(), tag, part))
        if count:
            self.count(sim, body)

    def write_raw(self, pod: str, data: bytes, *, container: str = "app") -> None:
        handle = self.pods[pod].containers[container].handle
        assert handle is not None
        handle.write(data)

    def count(self, sim: SimPod, body: bytes) -> None:
        self.truth[(sim.namespace, sim.app, "lines")] += 1
        event = event_of(body)
        if event is not None:
            self.truth[(sim.namespace, sim.app, event)] += 1

    def rename_live(self, pod: str, container: str = "app") -> Path | None:
        """kubelet's first step: the live file gets its rotation name (the runtime still writes to it).

        kubelet rotates a file only once it has reached `containerLogMaxSize`: never an empty one (None).
        """
        sim = self.pods[pod].containers[container]
        if sim.live.stat().st_size == 0:
            return None
        self._rotation_clock += 1
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(self._rotation_clock))
        rotated = sim.directory / f"{sim.restart}.log.{stamp}"
        os.rename(sim.live, rotated)
        sim.rotations += 1
        return rotated

    def reopen(self, pod: str, container: str = "app") -> None:
        """The runtime reopens `<n>.log`; then kubelet compresses older rotated files and removes the excess."""
        sim = self.pods[pod].containers[container]
        sim.close()
        sim.open()
        self.compress_and_prune(pod, container)

    def rotate(self, pod: str, container: str = "app") -> None:
        if self.rename_live(pod, container) is not None:
            self.reopen(pod, container)

    def rotated_files(self, pod: str, container: str = "app") -> list[Path]:
        sim = self.pods[pod].containers[container]
        prefix = f"{sim.restart}.log."
        names = sorted(
            (p for p in sim.directory.iterdir() if p.name.startswith(prefix) and not p.name.endswith(".tmp")),
            key=lambda p: p.name.removesuffix(".gz"),
        )
        return names

    def compress_and_prune(self, pod: str, container: str = "app") -> None:
        rotated = self.rotated_files(pod, container)
        for path in rotated[:-1]:
            if path.suffix == ".gz":
                continue
            temporary = path.with_name(path.name + ".gz.tmp")
            with open(path, "rb") as source, gzip.open(temporary, "wb") as target:
                shutil.copyfileobj(source, target)
            os.rename(temporary, path.with_name(path.name + ".gz"))
            path.unlink()
        rotated = self.rotated_files(pod, container)
        for path in rotated[: max(0, len(rotated) - (self.max_files - 1))]:
            path.unlink()

    def restart(self, pod: str, container: str = "app") -> None:
        """The container exits and starts again: a new `<n+1>.log`."""
        sim = self.pods[pod].containers[container]
        sim.close()
        sim.restart += 1
        sim.open()

    def delete_pod(self, pod: str) -> SimPod:
        """The containers stop and kubelet removes the pod's directory."""
        sim = self.pods.pop(pod)
        for container in sim.containers.values():
            container.close()
        shutil.rmtree(sim.directory)
        return sim

    def close(self) -> None:
        for pod in self.pods.values():
            for container in pod.containers.values():
                container.close()
