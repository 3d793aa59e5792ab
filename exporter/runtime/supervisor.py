"""Long-running workers under one supervisor: a crash is logged and the worker restarts with backoff.

One worker's failure never stops another or the HTTP server. The workers live in an `asyncio.TaskGroup`, so none
outlives the `async with Supervisor()` block; they can be added and removed while it runs (a reload adds and
removes targets), and leaving the block cancels and awaits every one of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType

from exporter.runtime.backoff import Backoff

log = logging.getLogger(__name__)

WorkerFactory = Callable[[], Awaitable[None]]

RESTART_BACKOFF = Backoff(initial=0.5, maximum=60.0)
HEALTHY_RUN = 60.0  # a worker that ran this long before failing starts its backoff afresh


class Supervisor:
    def __init__(self) -> None:
        self._group = asyncio.TaskGroup()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def __aenter__(self) -> Supervisor:
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
        await self._group.__aexit__(exc_type, exc, tb)

    def start(self, name: str, factory: WorkerFactory) -> None:
        if name in self._tasks:
            raise ValueError(f"worker {name!r} is already running")
        self._tasks[name] = self._group.create_task(self._keep_running(name, factory), name=name)

    async def stop(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def running(self, name: str) -> bool:
        return name in self._tasks

    def names(self) -> tuple[str, ...]:
        """The workers running now (a feature restarted by a reload stops its own by their name prefix)."""
        return tuple(self._tasks)

    async def close(self, grace: float = 0.0) -> None:
        """Give the workers `grace` seconds to finish on their own (they watch their stop event), then cancel."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        if tasks and grace > 0:
            await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _keep_running(self, name: str, factory: WorkerFactory) -> None:
        try:
            await self._restart_on_failure(name, factory)
        finally:
            # A worker that finished (a log stream whose container is gone) leaves no trace behind.
            if self._tasks.get(name) is asyncio.current_task():
                del self._tasks[name]

    async def _restart_on_failure(self, name: str, factory: WorkerFactory) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            started = loop.time()
            try:
                await factory()
            except asyncio.CancelledError:
                raise
            except Exception:  # the supervision boundary: log it, keep the others going, try again
                failures = 1 if loop.time() - started > HEALTHY_RUN else failures + 1
                delay = RESTART_BACKOFF.delay(failures)
                log.exception("worker crashed; restarting", extra={"worker": name, "retry_in": round(delay, 2)})
                await asyncio.sleep(delay)
            else:
                log.debug("worker finished", extra={"worker": name})
                return
