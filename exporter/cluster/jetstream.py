"""The JetStream canary: a dedicated tiny stream, never a user's, proven each interval by a publish and a fetch.

Phases, each timed: `js_info` (the account's limits and usage), `stream_info` (create the stream when missing and
allowed; its leader and replicas), `publish` (with an ack, deduplicated by `Nats-Msg-Id`), `fetch` (a durable pull
consumer delivers that message, which is acked). Reasons come from `failure.classify_jetstream`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AccountInfo,
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    StorageType,
    StreamConfig,
    StreamInfo,
)

from exporter.cluster.failure import (
    CONSUMER_NOT_FOUND,
    STREAM_NOT_FOUND,
    CanaryFailure,
    classify_jetstream,
    is_permission_error,
)
from exporter.cluster.result import JetStreamPhase, JetStreamReason, JetStreamResult, ReplicaState, UsageResource
from exporter.config import Target
from exporter.config.cluster import JetStreamSettings
from exporter.config.nats_url import redact_text
from exporter.probe.client_options import connect_options, ssl_context
from exporter.probe.nats_client import close_quietly, server_info

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 1.0
STREAM_MAX_MSGS = 16  # the canary keeps a handful of messages: discard old, never grows
STREAM_MAX_BYTES = 64 * 1024
STREAM_MAX_MSG_SIZE = 1024
STREAM_MAX_AGE = 3600.0
DUPLICATE_WINDOW = 60.0
FETCH_BATCH = 16
MSG_ID = "Nats-Msg-Id"
T = TypeVar("T")


@dataclass
class _Trace:
    phase: JetStreamPhase = JetStreamPhase.JS_INFO
    phases: dict[JetStreamPhase, float] = field(default_factory=dict)
    seen: list[BaseException] = field(default_factory=list)
    denied: asyncio.Event = field(default_factory=asyncio.Event)
    leader: str = ""
    replicas: dict[ReplicaState, int] = field(default_factory=dict)
    usage: dict[UsageResource, float] = field(default_factory=dict)

    @property
    def quorum(self) -> bool:
        """A majority of the stream's replicas is current (True until stream info says otherwise)."""
        total = sum(self.replicas.values())
        return not total or self.replicas.get(ReplicaState.CURRENT, 0) >= total // 2 + 1


async def run_jetstream_probe(
    target: Target, settings: JetStreamSettings, *, servers: int, timeout: float | None = None
) -> JetStreamResult:
    """One canary round against the target's URL; never raises. `servers`: how many servers the cluster has."""
    deadline = target.timeout if timeout is None else timeout
    started_at = time.time()
    trace = _Trace()
    client = Client()

    async def error_cb(exc: Exception) -> None:
        trace.seen.append(exc)
        if is_permission_error(exc):
            trace.denied.set()

    reason: JetStreamReason | None = None
    err_code: int | None = None
    detail = ""
    try:
        async with asyncio.timeout(deadline):
            options = connect_options(
                target,
                target.servers,
                error_cb=error_cb,
                name="nats-connectivity-jetstream",
                context=ssl_context(target),
            )
            try:
                await client.connect(
                    **options,
                    allow_reconnect=False,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0,
                    ping_interval=3600,
                )
            except (OSError, nats.errors.Error, ValueError) as exc:
                raise CanaryFailure(JetStreamReason.CONNECT_FAILED, f"connect failed: {type(exc).__name__}") from exc
            info = server_info(client)
            if not info.get("jetstream", False):
                raise CanaryFailure(JetStreamReason.JS_NOT_ENABLED, "the server announces no JetStream (INFO)")
            await _phases(client, settings, trace, replicas=max(1, min(settings.replicas, servers)), timeout=deadline)
    except Exception as exc:  # every failure becomes this round's result
        reason, err_code = classify_jetstream(exc, trace.phase, trace.seen, quorum=trace.quorum)
        detail = redact_text(_detail(exc, trace), target.secret_values)  # shown on the page and in `check`
        if reason is JetStreamReason.INTERNAL_ERROR and err_code is None:
            log.warning("jetstream canary failed: %s", detail, extra={"target": target.name})
    finally:
        await close_quietly(client, CLOSE_TIMEOUT)
    return JetStreamResult(
        target=target.name,
        started_at=started_at,
        phases=dict(trace.phases),
        reason=reason,
        failed_phase=trace.phase if reason is not None else None,
        detail=detail,
        err_code=err_code,
        leader=trace.leader,
        replicas=dict(trace.replicas),
        usage=dict(trace.usage),
    )


async def _phases(client: Client, settings: JetStreamSettings, trace: _Trace, *, replicas: int, timeout: float) -> None:
    jsm = client.jsm(timeout=timeout)
    js = client.jetstream(timeout=timeout)

    trace.phase = JetStreamPhase.JS_INFO
    started = time.perf_counter()
    account = await _guard(trace, jsm.account_info())
    trace.phases[JetStreamPhase.JS_INFO] = time.perf_counter() - started
    trace.usage.update(usage_ratios(account))

    trace.phase = JetStreamPhase.STREAM_INFO
    started = time.perf_counter()
    stream = await _ensure_stream(jsm, settings, trace, replicas)
    _read_cluster(stream, trace)
    await _ensure_consumer(js, settings, trace)
    trace.phases[JetStreamPhase.STREAM_INFO] = time.perf_counter() - started

    trace.phase = JetStreamPhase.PUBLISH
    msg_id = secrets.token_hex(12)
    started = time.perf_counter()
    await _guard(
        trace,
        js.publish(
            settings.canary_subject, msg_id.encode(), timeout=timeout, stream=settings.stream, headers={MSG_ID: msg_id}
        ),
    )
    trace.phases[JetStreamPhase.PUBLISH] = time.perf_counter() - started

    trace.phase = JetStreamPhase.FETCH
    started = time.perf_counter()
    await _fetch(js, settings, trace, msg_id, timeout)
    trace.phases[JetStreamPhase.FETCH] = time.perf_counter() - started


async def _ensure_stream(
    jsm: nats.js.JetStreamManager, settings: JetStreamSettings, trace: _Trace, replicas: int
) -> StreamInfo:
    try:
        return await _guard(trace, jsm.stream_info(settings.stream))
    except nats.js.errors.APIError as exc:
        if exc.err_code != STREAM_NOT_FOUND or not settings.create:
            raise
    config = StreamConfig(
        name=settings.stream,
        description="nats-connectivity-exporter JetStream canary (safe to delete)",
        subjects=[settings.canary_subject],
        max_msgs=STREAM_MAX_MSGS,
        max_bytes=STREAM_MAX_BYTES,
        max_msg_size=STREAM_MAX_MSG_SIZE,
        max_age=STREAM_MAX_AGE,
        discard=DiscardPolicy.OLD,
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW,
        max_consumers=4,
    )
    await _guard(trace, jsm.add_stream(config))
    return await _guard(trace, jsm.stream_info(settings.stream))


def _read_cluster(stream: StreamInfo, trace: _Trace) -> None:
    """Leader and replica states; a replicated stream without a leader cannot take the canary's message."""
    cluster = stream.cluster
    if cluster is None:  # a single server: it is the leader
        trace.replicas = {ReplicaState.CURRENT: 1, ReplicaState.LAGGING: 0, ReplicaState.OFFLINE: 0}
        return
    trace.leader = cluster.leader or ""
    counts = {ReplicaState.CURRENT: 1 if cluster.leader else 0, ReplicaState.LAGGING: 0, ReplicaState.OFFLINE: 0}
    for peer in cluster.replicas or ():
        if peer.offline:
            counts[ReplicaState.OFFLINE] += 1
        elif peer.current:
            counts[ReplicaState.CURRENT] += 1
        else:
            counts[ReplicaState.LAGGING] += 1
    trace.replicas = counts
    if not cluster.leader:
        raise CanaryFailure(JetStreamReason.NO_LEADER, f"stream {stream.config.name} has no leader")


async def _fetch(js: JetStreamContext, settings: JetStreamSettings, trace: _Trace, msg_id: str, timeout: float) -> None:
    """Fetch until the message just published arrives, acking it and anything older the consumer still held."""
    subscription = await js.pull_subscribe_bind(durable=settings.consumer, stream=settings.stream)
    try:
        while True:
            try:
                messages = await _guard(trace, subscription.fetch(FETCH_BATCH, timeout=timeout))
            except nats.errors.TimeoutError as exc:
                raise CanaryFailure(
                    JetStreamReason.CONSUMER_STALLED, "the stored message was not delivered by the consumer"
                ) from exc
            found = False
            for message in messages:
                await message.ack()
                found = found or (message.headers or {}).get(MSG_ID) == msg_id
            if found:
                return
    finally:
        with contextlib.suppress(nats.errors.Error):  # a closed connection has no subscription left to remove
            await subscription.unsubscribe()


async def _ensure_consumer(js: JetStreamContext, settings: JetStreamSettings, trace: _Trace) -> None:
    try:
        await _guard(trace, js.consumer_info(settings.stream, settings.consumer))
        return
    except nats.js.errors.APIError as exc:
        if exc.err_code != CONSUMER_NOT_FOUND or not settings.create:
            raise
    config = ConsumerConfig(
        durable_name=settings.consumer,
        description="nats-connectivity-exporter JetStream canary (safe to delete)",
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        filter_subject=settings.canary_subject,
        max_ack_pending=FETCH_BATCH * 4,
        ack_wait=30.0,
    )
    await _guard(trace, js.add_consumer(settings.stream, config))


async def _guard(trace: _Trace, operation: Awaitable[T]) -> T:
    """Await `operation`, but fail at once when the server reports a permissions violation instead of answering.

    A denied JetStream request gets no reply at all, only the -ERR on the connection: waiting for the reply would
    turn `not_authorized` into `timeout`.
    """
    work = asyncio.ensure_future(operation)
    denied = asyncio.ensure_future(trace.denied.wait())
    try:
        await asyncio.wait({work, denied}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        denied.cancel()
        if not work.done():
            work.cancel()
        await asyncio.gather(work, denied, return_exceptions=True)
    if work.done() and not work.cancelled():
        return work.result()
    raise CanaryFailure(JetStreamReason.NOT_AUTHORIZED, f"permissions violation during {trace.phase}")


def usage_ratios(account: AccountInfo) -> dict[UsageResource, float]:
    """Used / limit for each finite account limit (JetStream reports an unlimited one as -1 or 0)."""
    limits = account.limits
    pairs = {
        UsageResource.MEMORY: (account.memory, limits.max_memory),
        UsageResource.STORAGE: (account.storage, limits.max_storage),
        UsageResource.STREAMS: (account.streams, limits.max_streams),
        UsageResource.CONSUMERS: (account.consumers, limits.max_consumers),
    }
    return {resource: used / limit for resource, (used, limit) in pairs.items() if limit and limit > 0}


def _detail(exc: BaseException, trace: _Trace) -> str:
    if isinstance(exc, nats.js.errors.APIError) and exc.err_code is not None:
        return f"{trace.phase}: JetStream error {exc.err_code} ({exc.description})"[:300]
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, TimeoutError) and not isinstance(exc, CanaryFailure):
        text = "no answer in time"
    return f"{trace.phase}: {text}"[:300]
