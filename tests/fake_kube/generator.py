"""Load: append lines to many containers at a steady rate from inside the server's loop (benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Sequence

from .cluster import Cluster
from .errors import ApiError
from .resources import POD
from .selectors import LabelSelector

log = logging.getLogger(__name__)


class LogGenerator:
    """Every matching pod's running containers get `lines_per_second` lines each, the rate kept by catching up."""

    def __init__(
        self,
        cluster: Cluster,
        lines: Sequence[str],
        *,
        lines_per_second: float,
        namespace: str | None,
        selector: LabelSelector,
        duration: float | None,
    ) -> None:
        if not lines or lines_per_second <= 0:
            raise ValueError("a log generator needs lines and a positive rate")
        self.cluster = cluster
        self.templates = list(lines)
        self.rate = lines_per_second
        self.namespace = namespace
        self.selector = selector
        self.duration = duration
        self.emitted = 0  # lines per container so far
        self.id = secrets.token_hex(4)
        self._task: asyncio.Task[None] | None = None

    def start(self, on_done: Callable[[LogGenerator], object]) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="fake-kube-log-generator")
        self._task.add_done_callback(lambda _: on_done(self))

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def wait(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _line(self, n: int, namespace: str, pod: str) -> bytes:
        template = self.templates[n % len(self.templates)]
        return template.format(n=n, pod=pod, namespace=namespace).encode()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        interval = max(0.01, 1.0 / self.rate)
        while self.duration is None or loop.time() - started < self.duration:
            due = int((loop.time() - started) * self.rate) + 1
            for n in range(self.emitted, due):
                self._emit(n)
            self.emitted = max(self.emitted, due)
            await asyncio.sleep(interval)

    def _emit(self, n: int) -> None:
        for pod in self.cluster.store.list(POD, self.namespace):
            meta = pod["metadata"]
            if not self.selector.matches(meta.get("labels")):
                continue
            line = self._line(n, meta["namespace"], meta["name"])
            for container in pod["spec"].get("containers", []):
                with contextlib.suppress(ApiError):  # a container between instances just misses a line
                    self.cluster.append_log(meta["namespace"], meta["name"], container["name"], [line])
