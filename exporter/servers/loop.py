"""Every interval: ask the servers, join with the pods, give verdicts, keep the tally; publish on the board.

The NATS client for the `account` and `system` sources is kept across polls and replaced when the server closes
it (nats-py closes a client for good on most `-ERR`s). The app supplies how to connect (the target's credentials,
built by `exporter.probe.client_options`), the pods (from the one pod watch) and the log view.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

import aiohttp
import nats.errors
from nats.aio.client import Client

from exporter.config.server_view import ServerViewSettings, Source
from exporter.probe.nats_client import server_info
from exporter.servers.board import ServerViewBoard, Snapshot
from exporter.servers.join import join
from exporter.servers.model import ExpectedPod, LogEntry, PodKey, ServerView, ViewFailure
from exporter.servers.sources import SOURCES, PollContext
from exporter.servers.verdicts import verdicts

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[Client]]
USER_INFO_SUBJECT = "$SYS.REQ.USER.INFO"


def evaluate(
    board: ServerViewBoard,
    settings: ServerViewSettings,
    view: ServerView,
    pods: Sequence[ExpectedPod],
    logs: Mapping[PodKey, LogEntry],
) -> Snapshot:
    """The pure part of a poll, plus the tracker's update: join, tally, verdicts; the new snapshot."""
    started = time.process_time()
    joined = join(pods, view.connections(), view.closed(), shared_min=settings.shared_address_min)
    board.tracker.update(view, joined, {pod.key: (pod.namespace, pod.app) for pod in pods}, logs)
    results = verdicts(pods, joined, view, logs, board.tracker.slow_closed_at, settings.rules)
    snapshot = Snapshot(board.target, view, results, joined.unmatched, time.process_time() - started)
    board.snapshot = snapshot
    board.polls += 1
    return snapshot


async def account_of(client: Client, timeout: float) -> str:
    """The client's account from `$SYS.REQ.USER.INFO` (every user may ask); "" if the server does not say."""
    try:
        reply = await client.request(USER_INFO_SUBJECT, b"", timeout=timeout)
        document = json.loads(reply.data)
    except (nats.errors.Error, ValueError, TimeoutError):
        return ""
    data = document.get("data") if isinstance(document, dict) else None
    return str(data.get("account") or "") if isinstance(data, dict) else ""


def own_connection(client: Client) -> tuple[str, int] | None:
    """(server_id, cid) of our own client, from the INFO nats-py keeps privately; None if not there."""
    info = server_info(client)
    server_id, cid = info.get("server_id"), info.get("client_id")
    return (str(server_id), cid) if isinstance(cid, int) and server_id else None


class ServerViewLoop:
    """The state of the loop between polls: the client, the HTTP session, the server names."""

    def __init__(
        self,
        settings: ServerViewSettings,
        board: ServerViewBoard,
        *,
        pods: Callable[[], Sequence[ExpectedPod]],
        logs: Callable[[], Mapping[PodKey, LogEntry]] = dict,
        connect: Connect | None = None,
        monitor_urls: Callable[[], Sequence[str]] = tuple,
        expected_servers: Callable[[], int] = lambda: 0,
    ) -> None:
        """`expected_servers`: what the app knows of the cluster's size (the NATS Service's ready endpoints), so
        that even the first poll after start-up can tell a partial answer; the most of it, `server_view.servers`
        and the servers that answered in the last 10 minutes counts."""
        self.settings = settings
        self.board = board
        self._pods, self._logs, self._connect, self._monitor_urls = pods, logs, connect, monitor_urls
        self._expected_servers = expected_servers
        self._client: Client | None = None
        self._account = ""
        self._http: aiohttp.ClientSession | None = None
        self._names: dict[str, str] = {}

    async def _client_ready(self) -> Client | None:
        if self._client is not None and self._client.is_connected:
            return self._client
        await self._drop_client()
        if self._connect is None:
            return None
        try:
            async with asyncio.timeout(self.settings.timeout):
                self._client = await self._connect()
            self._account = await account_of(self._client, self.settings.timeout)
        except (TimeoutError, OSError, nats.errors.Error) as error:
            log.warning(
                "server view: cannot connect", extra={"target": self.board.target, "error": type(error).__name__}
            )
            await self._drop_client()
            return None
        return self._client

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            with contextlib.suppress(TimeoutError, OSError, nats.errors.Error):
                async with asyncio.timeout(1.0):
                    await client.close()

    async def poll(self) -> Snapshot:
        settings = self.settings
        ctx = PollContext(
            timeout=settings.timeout,
            quiet=settings.quiet_period,
            page_limit=settings.page_size,
            expected_servers=self.board.tracker.expected_servers(
                time.time(), max(settings.servers, self._expected_servers())
            ),
            server_names=self._names,
        )
        if settings.source is Source.MONITOR:
            if self._http is None:
                self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=settings.timeout))
            ctx.http = self._http
            ctx.monitor_urls = tuple(self._monitor_urls())
        else:
            ctx.nats = await self._client_ready()
            ctx.account = self._account
            ctx.own_connection = own_connection(ctx.nats) if ctx.nats is not None else None
        try:
            async with asyncio.timeout(settings.timeout + 1.0):  # the sources keep to it; this is the guarantee
                view = await SOURCES[settings.source](ctx)
        except TimeoutError:
            view = ServerView(settings.source, time.time(), (), ctx.expected_servers, False, ViewFailure.TIMEOUT)
        if view.expected_servers < view.answered:
            view = dataclasses.replace(view, expected_servers=view.answered)
        previous = self.board.snapshot
        snapshot = evaluate(self.board, settings, view, tuple(self._pods()), self._logs())
        if previous is None or previous.view.ok != view.ok or previous.view.complete != view.complete:
            log.info(
                "server view: %d of %d servers answered",
                view.answered,
                view.expected_servers,
                extra={"target": self.board.target, "reason": view.failure or "", "detail": view.detail},
            )
        return snapshot

    async def close(self) -> None:
        await self._drop_client()
        if self._http is not None:
            await self._http.close()
            self._http = None


async def server_view_forever(loop: ServerViewLoop, stopping: asyncio.Event) -> None:
    """Poll every interval until `stopping` is set; a poll's failure is a view with `failure`, never a crash."""
    try:
        while not stopping.is_set():
            started = asyncio.get_running_loop().time()
            await loop.poll()
            wait = max(0.0, loop.settings.interval - (asyncio.get_running_loop().time() - started))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await stopping.wait()
    finally:
        await loop.close()
