"""Every route: for each ordered pair of servers (A, B), a message published on A must arrive on B.

NATS clusters are a full mesh without multi-hop forwarding, so a broken A-B route loses exactly A->B and B->A while
both servers still serve clients. Routes are pooled per account since nats-server 2.10, so the probe runs in the
target's own account and in each configured further account.

How interest is measured with a plain user (no system account): B subscribes a fresh subject; A then publishes on
it with a reply subject of its own. While A does not know of B's interest it answers at once with a "no
responders" status (503) on that reply subject; once B's subscription has reached A over the route, A forwards the
message instead. The time until A stops refusing is the interest propagation time; the time from that publish to
the message on B is the delivery time. A never answers for a message it forwarded, so a forwarded message that
never arrives is a `timeout`, and a subscription that never reaches A is `no_interest`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from nats.aio.client import Client
from nats.aio.msg import Msg

from exporter.cluster.failure import classify_route, is_permission_error
from exporter.cluster.result import RouteProbe, RouteResult
from exporter.cluster.servers import ServerEndpoint
from exporter.config import Credentials, Target
from exporter.config.cluster import DEFAULT_ACCOUNT
from exporter.config.nats_url import redact_text
from exporter.probe.client_options import connect_options, ssl_context
from exporter.probe.nats_client import close_quietly

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 1.0
NO_RESPONDERS = "503"
_RETRY_FIRST = 0.005
_RETRY_MAX = 0.25


@dataclass
class Peer:
    """One connection to one server in one account, kept for the interval's route probes."""

    name: str
    client: Client | None
    seen: list[BaseException] = field(default_factory=list)


def select_pairs(names: Sequence[str], max_pairs: int, interval_index: int) -> tuple[tuple[str, str], ...]:
    """All ordered pairs, or a window of `max_pairs` of them that moves on each interval and wraps around.

    Every pair is probed at least once in each run of ceil(pairs / max_pairs) consecutive intervals.
    """
    pairs = [(a, b) for a, b in itertools.permutations(sorted(names), 2)]
    if len(pairs) <= max_pairs:
        return tuple(pairs)
    start = (interval_index * max_pairs) % len(pairs)
    return tuple(pairs[(start + offset) % len(pairs)] for offset in range(max_pairs))


async def connect_peer(target: Target, endpoint: ServerEndpoint, name: str, credentials: Credentials) -> Peer:
    """One connection to exactly this server (one URL, one attempt, no reconnection), or a Peer without a client."""
    peer = Peer(name, None)
    one = replace(target, servers=(endpoint.url,), credentials=credentials)

    async def error_cb(exc: Exception) -> None:
        peer.seen.append(exc)

    client = Client()
    options = connect_options(
        one, (endpoint.url,), error_cb=error_cb, name="nats-connectivity-route-probe", context=ssl_context(one)
    )
    try:
        await asyncio.wait_for(
            client.connect(
                **options, allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0, ping_interval=3600
            ),
            timeout=target.timeout,
        )
    except Exception as exc:  # any failure to connect makes the peer unreachable, its probe says why
        peer.seen.append(exc)
        await close_quietly(client, CLOSE_TIMEOUT)
        return peer
    peer.client = client
    return peer


async def _peer(target: Target, endpoint: ServerEndpoint, name: str, credentials: Credentials, down: bool) -> Peer:
    return Peer(name, None) if down else await connect_peer(target, endpoint, name, credentials)


async def close_peers(peers: Sequence[Peer]) -> None:
    await asyncio.gather(*(close_quietly(peer.client, CLOSE_TIMEOUT) for peer in peers if peer.client is not None))


async def probe_route(
    source: Peer, sink: Peer, *, account: str = DEFAULT_ACCOUNT, timeout: float, subject_prefix: str
) -> RouteProbe:
    """Publish on `source` (A), require the message on `sink` (B); never raises."""
    if source.client is None or sink.client is None or source.client.is_closed or sink.client.is_closed:
        down = source.name if source.client is None or source.client.is_closed else sink.name
        return RouteProbe(source.name, sink.name, account, RouteResult.SERVER_UNREACHABLE, detail=f"{down} unreachable")
    progress = _Progress()
    try:
        async with asyncio.timeout(timeout):
            return await _probe(source, sink, source.client, sink.client, account, progress, subject_prefix, timeout)
    except TimeoutError:
        if _permission_denied(source, sink):
            return RouteProbe(source.name, sink.name, account, RouteResult.PERMISSION_DENIED)
        result = RouteResult.NO_INTEREST if progress.last_refused else RouteResult.TIMEOUT
        return RouteProbe(source.name, sink.name, account, result, detail=_why(result, timeout))
    except Exception as exc:  # every failure becomes this pair's result
        result = classify_route(exc, (*source.seen, *sink.seen))
        if result is RouteResult.INTERNAL_ERROR:
            log.exception("route probe crashed", extra={"from_server": source.name, "to_server": sink.name})
        return RouteProbe(source.name, sink.name, account, result, detail=f"{type(exc).__name__}: {exc}"[:200])


@dataclass
class _Progress:
    """What a route probe saw before its deadline: was the last publish refused with "no responders"?"""

    last_refused: bool = False


async def _probe(
    source: Peer,
    sink: Peer,
    a: Client,
    b: Client,
    account: str,
    progress: _Progress,
    subject_prefix: str,
    timeout: float,
) -> RouteProbe:
    token = secrets.token_hex(8)
    subject = f"{subject_prefix}.route.{token}"
    inbox = f"_INBOX.nce.{token}"
    refused: dict[int, asyncio.Event] = {}
    sent: dict[int, float] = {}
    delivered: asyncio.Future[tuple[int, float]] = asyncio.get_running_loop().create_future()

    async def on_status(msg: Msg) -> None:
        if msg.headers and msg.headers.get("Status") == NO_RESPONDERS:
            attempt = int(msg.subject.rsplit(".", 1)[1])
            if attempt in refused:
                refused[attempt].set()

    async def on_message(msg: Msg) -> None:
        arrived = time.perf_counter()
        if not delivered.done() and msg.data.isdigit() and int(msg.data) in sent:
            delivered.set_result((int(msg.data), arrived))

    statuses = await a.subscribe(f"{inbox}.*", cb=on_status)
    receiving = await b.subscribe(subject, cb=on_message)
    try:
        await asyncio.gather(a.flush(timeout=max(1, round(timeout))), b.flush(timeout=max(1, round(timeout))))
        started = time.perf_counter()
        for attempt in itertools.count(1):
            if _permission_denied(source, sink):
                return RouteProbe(source.name, sink.name, account, RouteResult.PERMISSION_DENIED)
            refused[attempt] = asyncio.Event()
            sent[attempt] = time.perf_counter()
            await a.publish(subject, str(attempt).encode(), reply=f"{inbox}.{attempt}")
            progress.last_refused = False  # until A refuses this one: forwarded, as far as we know
            waiting: asyncio.Future[object] = asyncio.ensure_future(refused[attempt].wait())
            try:
                pending: set[asyncio.Future[object]] = {waiting, delivered}  # type: ignore[arg-type]
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()
            if delivered in done:
                which, arrived = delivered.result()
                return RouteProbe(
                    source.name,
                    sink.name,
                    account,
                    RouteResult.SUCCESS,
                    interest_seconds=sent[which] - started,
                    delivery_seconds=arrived - sent[which],
                )
            progress.last_refused = True
            await asyncio.sleep(min(_RETRY_MAX, _RETRY_FIRST * 2 ** min(attempt, 10)))
        raise AssertionError("unreachable")  # pragma: no cover - itertools.count never ends
    finally:
        for sub, client in ((statuses, a), (receiving, b)):
            if not client.is_closed:
                with contextlib.suppress(Exception):  # the connection is closed at the interval's end anyway
                    await sub.unsubscribe()


def _permission_denied(source: Peer, sink: Peer) -> bool:
    return any(is_permission_error(exc) for exc in (*source.seen, *sink.seen))


def _why(result: RouteResult, timeout: float) -> str:
    if result is RouteResult.NO_INTEREST:
        return f"the subscription did not reach the publishing server within {timeout:g}s (no responders)"
    return f"the publishing server forwarded the message, but it did not arrive within {timeout:g}s"


async def probe_routes(
    target: Target,
    endpoints: Sequence[ServerEndpoint],
    names: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    *,
    accounts: Sequence[tuple[str, Credentials]],
    concurrency: int,
    down: frozenset[str] | set[str] = frozenset(),
) -> tuple[RouteProbe, ...]:
    """Probe `pairs` (server names) in every account: one connection per server and account, closed at the end."""
    by_name = dict(zip(names, endpoints, strict=True))
    needed = sorted({name for pair in pairs for name in pair})
    gate = asyncio.Semaphore(concurrency)
    results: list[RouteProbe] = []
    for account, credentials in accounts:
        # A server whose own probe failed is not dialled again: its pairs are server_unreachable at once.
        peers = await asyncio.gather(
            *(_peer(target, by_name[name], name, credentials, name in down) for name in needed)
        )
        by_peer = {peer.name: peer for peer in peers}

        async def one(pair: tuple[str, str], account: str = account, by_peer: dict[str, Peer] = by_peer) -> RouteProbe:
            async with gate:
                return await probe_route(
                    by_peer[pair[0]],
                    by_peer[pair[1]],
                    account=account,
                    timeout=target.timeout,
                    subject_prefix=target.subject_prefix,
                )

        try:
            results.extend(await asyncio.gather(*(one(pair) for pair in pairs)))
        finally:
            await close_peers(peers)
    # A result's detail is shown on the page and in `check`: no credential of any account may be in it.
    secrets = (*target.secret_values, *(value for _, credentials in accounts for value in _revealed(credentials)))
    return tuple(
        replace(probe, detail=redact_text(probe.detail, secrets)) if probe.detail else probe for probe in results
    )


def _revealed(credentials: Credentials) -> tuple[str, ...]:
    return tuple(secret.reveal() for secret in (credentials.password, credentials.token) if secret is not None)
