"""Long-lived responses: watch streams and log follow streams, both of which tests can cut mid-line.

A stream sleeps on its own `asyncio.Event`; whoever changes what it shows (a new line for *its* container, a
change for *its* watch) sets that event. Nothing ever scans all streams on the hot path.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .errors import ApiError
from .logquery import LogOptions
from .logs import ContainerInstance
from .store import ObjectStore, Watcher

Obj = dict[str, Any]


class Stream:
    """Common cut/end handling. `kind` is "watch" or "log" (for counting open streams)."""

    kind = ""

    def __init__(self, request: web.Request, response: web.StreamResponse, wake: asyncio.Event) -> None:
        self.request = request
        self.response = response
        self.wake = wake
        self.cut_requested = False  # cut in the middle of the next unit (line or event) sent
        self.cut_now = False  # ...or right away if nothing is pending
        self.ending = False
        self.cut_done = False
        self.stalled = False  # connection open, nothing sent: kubelet's silent stall after log rotation

    def stall(self) -> None:
        self.stalled = True

    def cut(self, *, immediate: bool) -> None:
        self.cut_requested = True
        self.cut_now = self.cut_now or immediate or self.stalled  # a stalled stream has no next line to cut
        self.wake.set()

    def end(self) -> None:
        """End gracefully (terminating chunk sent), as when the server shuts down."""
        self.ending = True
        self.wake.set()

    async def send(self, units: list[bytes]) -> bool:
        """Write whole units; on a requested cut, all but the last whole, half of the last, then drop the connection.

        So a cut arrives like a real one while data flows: complete lines, then a torn one.
        Returns False when the stream must stop (cut, or the client went away).
        """
        if not units:
            return True
        try:
            if self.cut_requested:
                torn = units[-1][: len(units[-1]) // 2]
                await self.response.write(b"".join(units[:-1]) + torn)
                await self.abort()
                return False
            await self.response.write(b"".join(units))
        except ConnectionError:
            return False
        return True

    async def abort(self) -> None:
        """Close the TCP connection without ending the chunked body (and without TLS close_notify)."""
        self.cut_done = True
        transport = self.request.transport
        if transport is None:
            return
        for _ in range(2000):  # up to ~2 s for the partial line to reach the socket before the reset
            if not transport.get_write_buffer_size():
                break
            await asyncio.sleep(0.001)
        transport.abort()


class LogStream(Stream):
    kind = "log"

    def __init__(
        self, request: web.Request, response: web.StreamResponse, instance: ContainerInstance, options: LogOptions
    ) -> None:
        super().__init__(request, response, asyncio.Event())
        self.instance = instance
        self.options = options

    async def run(self) -> None:
        """Send what the options select, then (follow) new lines until the instance terminates, like kubelet."""
        instance, options = self.instance, self.options
        # Only the current log file is served: lines rotated away are gone for tailLines and sinceTime alike.
        first = instance.rotated
        index = first if options.tail_lines is None else max(first, len(instance.lines) - options.tail_lines)
        remaining = options.limit_bytes
        since = options.since_ns
        offset = instance.offset
        instance.followers.add(self.wake)
        try:
            while True:
                self.wake.clear()
                end = index if self.stalled else len(instance.lines)
                stamps, lines = instance.timestamps, instance.lines
                units = [
                    options.render(stamps[i], lines[i], offset)
                    for i in range(index, end)
                    if since is None or stamps[i] >= since
                ]
                index = end
                if remaining is not None:
                    units, remaining = _limit(units, remaining)
                if not await self.send(units):
                    return
                finished = not self.stalled and (not options.follow or not instance.running or remaining == 0)
                if finished or self.ending or self.cut_done:
                    return
                if self.cut_now:
                    await self.abort()
                    return
                await self.wake.wait()
        finally:
            instance.followers.discard(self.wake)


def _limit(units: list[bytes], remaining: int) -> tuple[list[bytes], int]:
    """limitBytes counts every byte sent (timestamps included) and may end the stream mid-line."""
    out: list[bytes] = []
    for unit in units:
        if remaining <= 0:
            break
        out.append(unit[:remaining])
        remaining -= len(out[-1])
    return out, remaining


class WatchStream(Stream):
    kind = "watch"

    def __init__(
        self,
        request: web.Request,
        response: web.StreamResponse,
        store: ObjectStore,
        watcher: Watcher,
        *,
        timeout: float | None,
        bookmark_interval: float | None,
        transform: Callable[[Obj], Obj] | None = None,
    ) -> None:
        super().__init__(request, response, watcher.wake)
        self.store = store
        self.watcher = watcher
        self.timeout = timeout
        self.bookmark_interval = bookmark_interval
        self.transform = transform

    def _encode(self, event_type: str, obj: Obj) -> bytes:
        if self.transform is not None and event_type in ("ADDED", "MODIFIED", "DELETED"):
            obj = self.transform(obj)
        return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"

    def bookmark(self) -> Obj:
        resource = self.watcher.resource
        return {
            "kind": resource.kind,
            "apiVersion": resource.api_version,
            "metadata": {"resourceVersion": str(self.store.resource_version)},
        }

    async def run(self) -> None:
        """Send queued events; BOOKMARKs when idle (if allowed); end at timeoutSeconds."""
        loop = asyncio.get_running_loop()
        deadline = None if self.timeout is None else loop.time() + self.timeout
        next_bookmark = None if self.bookmark_interval is None else loop.time() + self.bookmark_interval
        pending = self.watcher.pending
        try:
            while True:
                self.wake.clear()
                units = [] if self.stalled else [self._encode(*pending.popleft()) for _ in range(len(pending))]
                if not await self.send(units):
                    return
                if self.ending or self.cut_done:
                    return
                if self.cut_now:
                    await self.abort()
                    return
                now = loop.time()
                if next_bookmark is not None and now >= next_bookmark and not self.stalled:
                    if not await self.send([self._encode("BOOKMARK", self.bookmark())]):
                        return
                    next_bookmark = now + (self.bookmark_interval or 0)
                if deadline is not None and now >= deadline:
                    return
                wake_at = min((t for t in (deadline, next_bookmark) if t is not None), default=None)
                try:
                    async with asyncio.timeout_at(wake_at):
                        await self.wake.wait()
                except TimeoutError:
                    pass
        finally:
            self.store.unwatch(self.watcher)


async def send_error_event(response: web.StreamResponse, error: ApiError) -> None:
    """A watch that cannot start (e.g. resourceVersion compacted) is a 200 with one ERROR event, then the end."""
    await response.write(
        json.dumps({"type": "ERROR", "object": error.status()}, separators=(",", ":")).encode() + b"\n"
    )
