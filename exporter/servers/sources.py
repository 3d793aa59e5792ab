"""Where the connections come from: one signature (`Collect`), three sources.

- `account`: `$SYS.REQ.ACCOUNT.PING.CONNZ`, which every account imports: a plain client with the target's own
  credentials asks, every server of the cluster answers with that account's connections. Scatter-gather: subscribe
  an inbox, publish with it as the reply subject, collect replies until a short quiet period. Pages are asked of
  every server at once (`offset` grows) while any server still has more.
- `system`: `$SYS.REQ.SERVER.PING.CONNZ` with system-account credentials: every account's connections.
- `monitor`: each NATS pod's monitoring port, `GET /connz` paged, `state=closed` for close reasons.

The state option differs by door: a number in the `$SYS` request's JSON (0 open, 1 closed), a word in the
monitoring port's query (`state=open`, `state=closed`; a number there is answered with 400).

Closed connections: one page of the newest (`sort=stop`) per poll. Through the NATS port a server lists closed
connections only for named accounts, not for the default global account `$G`; `closed_visible` says so.
Every network await is under the poll's deadline; a source never raises for a failure of the servers, it
returns a `ServerView` with `failure` set.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from exporter.config.server_view import Source
from exporter.servers.connz import ALL, CLOSED, OPEN, ConnzError, ConnzPage, parse_connz, parse_reply, request_body
from exporter.servers.model import Connection, ServerConnz, ServerView, ViewFailure

ACCOUNT_SUBJECT = "$SYS.REQ.ACCOUNT.PING.CONNZ"
SYSTEM_SUBJECT = "$SYS.REQ.SERVER.PING.CONNZ"
GLOBAL_ACCOUNT = "$G"
STRAGGLER_WAIT = 1.0  # how long to wait for each server still expected, after the others answered
MAX_PAGES = 100  # 100 pages of 1,024: far more connections than one server takes; a bound against a loop


@dataclass(slots=True)
class PollContext:
    """What a source may use for one poll. Built by the loop; sources only read it."""

    timeout: float = 5.0  # the whole poll
    quiet: float = 0.25  # after the last reply, how long to wait for another server's
    page_limit: int = 1024
    expected_servers: int = 0
    want_closed: bool = True
    nats: Client | None = None  # account/system: an open client
    account: str = ""  # the client's account, when known ("$G" or "" for the default)
    own_connection: tuple[str, int] | None = None  # (server_id, cid) of our own client, left out of the view
    http: aiohttp.ClientSession | None = None  # monitor
    monitor_urls: tuple[str, ...] = ()  # monitor: http://IP:8222 of each NATS pod
    server_names: dict[str, str] = field(default_factory=dict)  # monitor: server_id -> name, kept across polls


Collect = Callable[[PollContext], Awaitable[ServerView]]


@dataclass(slots=True)
class _Gathered:
    """Pages received so far, per server id."""

    names: dict[str, str] = field(default_factory=dict)
    open: dict[str, dict[int, Connection]] = field(default_factory=dict)
    closed: dict[str, dict[int, Connection]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    complete: dict[str, bool] = field(default_factory=dict)
    sent: int = 0
    received: int = 0

    def add(self, page: ConnzPage, *, closed: bool) -> None:
        self.names[page.server_id] = page.server
        into = (self.closed if closed else self.open).setdefault(page.server_id, {})
        for connection in page.connections:
            into[connection.cid] = connection  # a connection that moved between pages is kept once
        if not closed:
            self.totals[page.server_id] = page.total
            self.complete.setdefault(page.server_id, False)

    def servers(self, exclude: tuple[str, int] | None) -> tuple[ServerConnz, ...]:
        result = []
        for server_id, name in sorted(self.names.items(), key=lambda item: item[1]):
            rows = self.open.get(server_id, {})
            if exclude is not None and exclude[0] == server_id:
                rows = {cid: c for cid, c in rows.items() if cid != exclude[1]}
            result.append(
                ServerConnz(
                    name=name,
                    server_id=server_id,
                    connections=tuple(rows.values()),
                    closed=tuple(self.closed.get(server_id, {}).values()),
                    total=self.totals.get(server_id, len(rows)),
                    complete=self.complete.get(server_id, True),
                )
            )
        return tuple(result)


async def _scatter(client: Client, subject: str, body: bytes, ctx: PollContext, deadline: float) -> list[bytes]:
    """Publish once with an inbox as reply; every reply until `quiet` passes without one (or the deadline).

    While fewer servers answered than are expected, the pause is longer (`STRAGGLER_WAIT`): a reply crossing a busy
    route can be late, and a missing server makes every pod on it `unknown`.
    """
    loop = asyncio.get_running_loop()
    replies: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_reply(msg: Msg) -> None:
        replies.put_nowait(msg.data)

    inbox = client.new_inbox()
    subscription = await client.subscribe(inbox, cb=on_reply)
    try:
        await client.publish(subject, body, reply=inbox)
        received: list[bytes] = []
        while True:
            remaining = deadline - loop.time()
            if not received:
                wait = remaining
            elif len(received) < ctx.expected_servers:
                wait = min(max(ctx.quiet, STRAGGLER_WAIT), remaining)  # a known server is late: give it a while
            else:
                wait = min(ctx.quiet, remaining)  # all known answered: a short pause for servers new to us
            if wait <= 0:
                return received
            try:
                async with asyncio.timeout(wait):
                    received.append(await replies.get())
            except TimeoutError:
                return received
    finally:
        try:
            async with asyncio.timeout(max(0.1, deadline - loop.time())):
                await subscription.unsubscribe()
        except (TimeoutError, nats.errors.Error):
            pass


async def _collect_nats(ctx: PollContext, subject: str, source: Source) -> ServerView:
    started = time.time()
    client = ctx.nats
    closed_visible = source is Source.SYSTEM or ctx.account not in ("", GLOBAL_ACCOUNT)
    if client is None or not client.is_connected:
        return _failed(source, started, ctx, ViewFailure.CONNECT_ERROR, "no NATS connection", closed_visible)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.timeout
    gathered = _Gathered()
    try:
        offset = 0
        for _ in range(MAX_PAGES):
            body = request_body(offset=offset, limit=ctx.page_limit, state=OPEN)
            gathered.sent += len(body)
            replies = await _scatter(client, subject, body, ctx, deadline)
            more = False
            for payload in replies:
                gathered.received += len(payload)
                try:
                    page = parse_reply(payload)
                except ConnzError:
                    continue  # one unreadable reply; the others still count
                gathered.add(page, closed=False)
                if page.offset + len(page.connections) >= page.total or not page.connections:
                    gathered.complete[page.server_id] = True
                else:
                    more = True
            if not more or loop.time() >= deadline:
                break
            offset += ctx.page_limit
        if ctx.want_closed and closed_visible and loop.time() < deadline:
            body = request_body(offset=0, limit=ctx.page_limit, state=CLOSED, sort="stop")
            gathered.sent += len(body)
            for payload in await _scatter(client, subject, body, ctx, deadline):
                gathered.received += len(payload)
                try:
                    gathered.add(parse_reply(payload), closed=True)
                except ConnzError:
                    continue
    except (nats.errors.Error, OSError) as error:
        return _failed(source, started, ctx, ViewFailure.CONNECT_ERROR, type(error).__name__, closed_visible)
    if not gathered.names:
        return _failed(source, started, ctx, ViewFailure.NO_REPLY, "no server answered", closed_visible)
    return ServerView(
        source=source,
        collected_at=started,
        servers=gathered.servers(ctx.own_connection),
        expected_servers=ctx.expected_servers,
        closed_visible=closed_visible,
        bytes_requested=gathered.sent,
        bytes_received=gathered.received,
    )


async def collect_account(ctx: PollContext) -> ServerView:
    """The target account's connections on every server, with the target's own credentials."""
    return await _collect_nats(ctx, ACCOUNT_SUBJECT, Source.ACCOUNT)


async def collect_system(ctx: PollContext) -> ServerView:
    """Every account's connections on every server (system-account credentials)."""
    return await _collect_nats(ctx, SYSTEM_SUBJECT, Source.SYSTEM)


async def collect_monitor(ctx: PollContext) -> ServerView:
    """Each NATS pod's `/connz`, paged, and its newest closed connections; servers asked concurrently."""
    started = time.time()
    if ctx.http is None or not ctx.monitor_urls:
        return _failed(Source.MONITOR, started, ctx, ViewFailure.CONNECT_ERROR, "no monitoring endpoint", True)
    gathered = _Gathered()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.timeout
    errors: list[str] = []

    http = ctx.http

    async def one(base: str) -> None:
        try:
            async with asyncio.timeout(max(0.0, deadline - loop.time())):
                await _monitor_server(http, base.rstrip("/"), ctx, gathered)
        except (TimeoutError, aiohttp.ClientError, OSError, ConnzError) as error:
            errors.append(f"{base}: {type(error).__name__}")

    async with asyncio.TaskGroup() as group:
        for base in ctx.monitor_urls:
            group.create_task(one(base))
    expected = max(ctx.expected_servers, len(ctx.monitor_urls))
    if not gathered.names:
        failure = ViewFailure.TIMEOUT if loop.time() >= deadline else ViewFailure.HTTP_ERROR
        return _failed(Source.MONITOR, started, ctx, failure, "; ".join(sorted(errors)), True, expected)
    return ServerView(
        source=Source.MONITOR,
        collected_at=started,
        servers=gathered.servers(None),
        expected_servers=expected,
        closed_visible=True,
        detail="; ".join(sorted(errors)),
        bytes_requested=gathered.sent,
        bytes_received=gathered.received,
    )


async def _get_json(http: aiohttp.ClientSession, url: str, gathered: _Gathered) -> Mapping[str, Any]:
    gathered.sent += len(url) + 64  # the request line and the usual headers, near enough for the benchmark
    async with http.get(url) as response:
        if response.status != 200:
            raise ConnzError(f"HTTP {response.status}")
        body = await response.read()
    gathered.received += len(body)
    try:
        document = json.loads(body)
    except ValueError:
        raise ConnzError("not JSON") from None
    if not isinstance(document, dict):
        raise ConnzError("not a JSON object")
    return document


async def _monitor_server(http: aiohttp.ClientSession, base: str, ctx: PollContext, gathered: _Gathered) -> None:
    """One server: its name (from /varz, once per server id), then its open connections page by page."""
    offset = 0
    pages: list[ConnzPage] = []
    for _ in range(MAX_PAGES):
        document = await _get_json(http, f"{base}/connz?state=open&offset={offset}&limit={ctx.page_limit}", gathered)
        server_id = str(document.get("server_id") or "")
        if server_id and server_id not in ctx.server_names:
            varz = await _get_json(http, f"{base}/varz", gathered)
            ctx.server_names[server_id] = str(varz.get("server_name") or server_id)
        page = parse_connz(document, server_name=ctx.server_names.get(server_id, server_id))
        pages.append(page)
        if not page.connections or page.offset + len(page.connections) >= page.total:
            break
        offset += ctx.page_limit
    closed_page = None
    if ctx.want_closed:
        document = await _get_json(
            http, f"{base}/connz?state=closed&sort=stop&offset=0&limit={ctx.page_limit}", gathered
        )
        closed_page = parse_connz(document, server_name=pages[0].server)
    # Only a server read whole is added: a half-read server would look like missing connections.
    for page in pages:
        gathered.add(page, closed=False)
    gathered.complete[pages[0].server_id] = True
    if closed_page is not None:
        gathered.add(closed_page, closed=True)


def _failed(
    source: Source,
    started: float,
    ctx: PollContext,
    failure: ViewFailure,
    detail: str,
    closed_visible: bool,
    expected: int | None = None,
) -> ServerView:
    return ServerView(
        source=source,
        collected_at=started,
        servers=(),
        expected_servers=ctx.expected_servers if expected is None else expected,
        closed_visible=closed_visible,
        failure=failure,
        detail=detail,
    )


SOURCES: Mapping[Source, Collect] = {
    Source.ACCOUNT: collect_account,
    Source.SYSTEM: collect_system,
    Source.MONITOR: collect_monitor,
}

__all__ = ["ALL", "SOURCES", "Collect", "PollContext", "collect_account", "collect_monitor", "collect_system"]
