"""One probe: connect to a target the way a starting application does, timing each phase.

`run_probe` never raises and never leaves a socket or a task behind: whatever happens becomes a `ProbeResult`.
The whole probe runs under one deadline, because nats-py's own `connect_timeout` applies per step and its first
connect retries (nats-py issue #645).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
import time
from dataclasses import dataclass, field, replace

import nats.errors
from nats.aio.msg import Msg

from exporter.config import Target
from exporter.config.nats_url import HostKind, redact_text
from exporter.probe.client_options import connect_options, ssl_context
from exporter.probe.failure import classify, describe
from exporter.probe.lookups import Lookups
from exporter.probe.nats_client import close_quietly, server_info
from exporter.probe.result import Phase, ProbeResult, Reason, ServerInfo
from exporter.probe.timed_client import TimedClient

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 1.0
RTT_ROUNDS = 3  # `rtt` is the best of these PING/PONG round trips (each one more costs CPU on every probe)
_PROBE_ERRORS = (OSError, nats.errors.Error, ValueError, ssl.SSLError)


@dataclass
class _Trace:
    """What a probe has learnt so far; survives the exception that ends it."""

    phase: Phase = Phase.DNS
    phases: dict[Phase, float] = field(default_factory=dict)
    addresses: tuple[str, ...] = ()
    client: TimedClient | None = None
    server: ServerInfo | None = None
    server_url: str = ""
    seen: list[BaseException] = field(default_factory=list)
    echo: asyncio.Future[Msg] | None = None  # the pubsub message awaited; a server error reported fails it at once

    def begin(self, phase: Phase) -> float:
        self.phase = phase
        return time.perf_counter()

    def end(self, phase: Phase, started: float) -> None:
        self.phases[phase] = time.perf_counter() - started


async def run_probe(
    target: Target,
    *,
    timeout: float | None = None,
    context: ssl.SSLContext | None = None,
    lookups: Lookups | None = None,
) -> ProbeResult:
    """Probe `target` once; `timeout` (default: the target's) bounds everything, closing included.

    `lookups` is the target's own (the scheduler passes the same one every time), which keeps one lookup per name
    in flight however slow DNS is.
    """
    deadline = target.timeout if timeout is None else timeout
    started_at = time.time()
    started = time.perf_counter()
    trace = _Trace()
    reason: Reason | None = None
    detail = ""
    try:
        async with asyncio.timeout(deadline):
            await _run_phases(
                target, trace, context if context is not None else ssl_context(target), lookups or Lookups()
            )
    except TimeoutError as exc:
        reason = classify(exc, trace.phase, trace.seen)
        detail = _with_cause(f"no answer within {deadline:g}s during {trace.phase}", trace)
    except _PROBE_ERRORS as exc:
        reason = classify(exc, trace.phase, trace.seen)
        if isinstance(exc, nats.errors.NoServersError):
            detail = _with_cause(f"{trace.phase} failed", trace)
        else:
            detail = _with_cause(f"{trace.phase} failed: {describe(exc)}", trace)
    except Exception as exc:  # a bug of ours must cost one probe, not the worker
        log.exception("probe crashed", extra={"target": target.name})
        reason, detail = Reason.INTERNAL_ERROR, f"{trace.phase}: internal error {type(exc).__name__}"
    finally:
        if trace.client is not None:
            await close_quietly(trace.client, CLOSE_TIMEOUT)
    return ProbeResult(
        target=target.name,
        started_at=started_at,
        duration=time.perf_counter() - started,
        phases=dict(trace.phases),
        reason=reason,
        detail=redact_text(detail, target.secret_values),
        failed_phase=trace.phase if reason is not None else None,
        addresses=trace.addresses,
        server=trace.server,
        server_url=trace.server_url,
    )


async def _run_phases(target: Target, trace: _Trace, context: ssl.SSLContext | None, lookups: Lookups) -> None:
    client = await _resolve_and_connect(target, trace, context, lookups)
    trace.server = ServerInfo.from_info(server_info(client))

    trace.begin(Phase.RTT)
    trace.phases[Phase.RTT] = await client.best_rtt(RTT_ROUNDS, timeout=max(1, round(target.timeout)))

    await _pubsub(target, client, trace)


async def _resolve_and_connect(
    target: Target, trace: _Trace, context: ssl.SSLContext | None, lookups: Lookups
) -> TimedClient:
    """DNS, TCP and the NATS handshake for each server in order, as nats-py tries them; the first that accepts TCP
    is the one probed.

    The name is resolved once, here, and nats-py dials the resolved addresses (one connection per probe, the one
    measured), while TLS verifies the name the application uses: the URL's host, unless the target names another.
    """
    failure: BaseException | None = None

    async def error_cb(exc: Exception) -> None:
        trace.seen.append(exc)
        if trace.echo is not None and not trace.echo.done():
            trace.echo.set_exception(nats.errors.Error(describe(exc)))  # a denied publish is never echoed

    for server in target.servers:
        trace.server_url = server.redacted()
        started = trace.begin(Phase.DNS)
        try:
            infos = await lookups.getaddrinfo(server.host, server.port)
        except OSError as exc:
            trace.addresses = ()
            failure = exc
            continue
        trace.end(Phase.DNS, started)
        trace.addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
        dialled = tuple(replace(server, host=address) for address in trace.addresses)
        options = connect_options(target, dialled, error_cb=error_cb, name="nats-connectivity-probe", context=context)
        tls_name = target.tls.server_name or (None if server.host_kind is HostKind.IP else server.host)
        options["tls_hostname"] = tls_name
        client = trace.client = TimedClient()
        tcp_started = trace.begin(Phase.TCP)

        def tcp_done(started: float = tcp_started) -> None:
            trace.end(Phase.TCP, started)
            trace.begin(Phase.CONNECT)

        client.on_tcp = tcp_done
        try:
            # One attempt, no reconnection: the probe is a fresh connection and the deadline above bounds it.
            await client.connect(
                **options, allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0, ping_interval=3600
            )
        except (OSError, nats.errors.NoServersError) as exc:
            if trace.phase is not Phase.TCP:
                raise
            failure = exc  # no address of this server took the connection: the next server may
            await close_quietly(client, CLOSE_TIMEOUT)
            trace.client = None
            continue
        trace.end(Phase.CONNECT, client.tcp_done_at)
        return client
    assert failure is not None  # the config guarantees at least one server
    raise failure


async def _pubsub(target: Target, client: TimedClient, trace: _Trace) -> None:
    """Subscribe a subject nobody else uses, publish random bytes, and require the same bytes back.

    SUB and PUB leave together in one write: the server handles one connection's operations in order, so the
    subscription is in place before the message, and a refused one comes back as an error. No UNSUB either: the
    connection closes next, and that ends the subscription. Each round trip saved is CPU saved on every probe, and
    so is each task: the message lands in a future nats-py resolves as it reads it, which the error callback fails
    as soon as the server reports an error.
    """
    trace.begin(Phase.PUBSUB)
    subject = f"{target.subject_prefix}.{secrets.token_hex(8)}"
    payload = secrets.token_bytes(16)
    echo = trace.echo = asyncio.get_running_loop().create_future()
    started = time.perf_counter()
    await client.subscribe(subject, future=echo)
    await client.publish(subject, payload)
    async with asyncio.timeout(target.timeout):
        message = await echo
    if message.data != payload:
        raise nats.errors.Error(f"message came back altered ({len(message.data)} bytes)")
    trace.end(Phase.PUBSUB, started)


def _with_cause(text: str, trace: _Trace) -> str:
    """Add what nats-py reported through error_cb (the only place it reports the real cause), once."""
    if not trace.seen:
        return text
    cause = describe(trace.seen[-1])
    return text if cause in text else f"{text}: {cause}"
