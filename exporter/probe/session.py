"""The long-lived session: one connection per target that lives and reconnects like an application's.

It counts what an application would suffer (disconnects, reconnects) and, every interval, publishes a heartbeat
that must come back on its own subscription: a connection can look fine and still lose messages. nats-py closes a
client for good on most `-ERR`s (expired or revoked credentials, slow consumer, maximum connections); the session
then starts a new client, as a well-written application would, instead of heartbeating into a closed one.
Everything it sees leaves as a `SessionEvent` through one callback: it writes neither metrics nor the status board.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Callable

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from exporter.config import Target
from exporter.config.nats_url import redact_text
from exporter.probe.client_options import client_tls, connect_options
from exporter.probe.failure import classify, describe
from exporter.probe.nats_client import close_quietly
from exporter.probe.result import Phase
from exporter.probe.session_events import SessionEvent
from exporter.runtime.backoff import Backoff
from exporter.runtime.waiting import wait_any, wait_or_stop

log = logging.getLogger(__name__)

RECONNECT_WAIT = 1  # between reconnect attempts, like a patient application
CONNECT_BACKOFF = Backoff(initial=RECONNECT_WAIT, maximum=30.0)
CLOSE_TIMEOUT = 2.0


class Session:
    def __init__(self, target: Target, record: Callable[[SessionEvent], None]) -> None:
        self.target = target
        self._record = record
        self._subject = f"{target.subject_prefix}.session.{secrets.token_hex(8)}"
        self._sequence = itertools.count(1)
        self._waiting: dict[bytes, asyncio.Future[None]] = {}
        self._last_error = ""
        self._closing = False
        self._established = False  # only a connection that was up can be lost
        self._lost = False  # a connection was lost and not yet re-established: the next one is a reconnect
        self._closed = asyncio.Event()  # nats-py closed the client for good

    async def run(self, stopping: asyncio.Event) -> None:
        """Connect (retrying with backoff), then heartbeat every interval until `stopping` is set; when nats-py
        closes the client for good, start a new one."""
        self._closing = self._established = self._lost = False  # a restarted worker starts afresh
        try:
            while not stopping.is_set():
                client = await self._connect_until_up(stopping)
                if client is None:
                    return
                try:
                    await client.subscribe(self._subject, cb=self._on_heartbeat)
                    while not await wait_any((stopping, self._closed), self.target.interval):
                        await self._heartbeat(client)
                finally:
                    self._closing = True  # our own close is not a disconnect an application would suffer
                    await close_quietly(client, CLOSE_TIMEOUT)
                if not stopping.is_set():
                    log.warning(
                        "session closed by the NATS client; starting a new connection",
                        extra={"target": self.target.name, "detail": self._last_error or "closed"},
                    )
        finally:
            self._record(SessionEvent.STOPPED)

    async def _connect_until_up(self, stopping: asyncio.Event) -> Client | None:
        """The connected client, or None if `stopping` was set before the first connect succeeded."""
        attempt = 0
        tls = client_tls(self.target)
        while True:
            self._closing = self._established = False
            self._closed = asyncio.Event()
            client = Client()
            options = connect_options(
                self.target,
                self.target.servers,
                error_cb=self._on_error,
                name="nats-connectivity-session",
                context=tls.context() if tls is not None else None,  # rotated files apply to the next connect
            )
            try:
                async with asyncio.timeout(self.target.timeout):
                    # One bounded attempt: with unlimited attempts nats-py's first connect retries until the
                    # deadline (nats-py issue #645), hiding the cause and ignoring shutdown.
                    await client.connect(
                        **options,
                        allow_reconnect=True,
                        max_reconnect_attempts=1,
                        reconnect_time_wait=0,
                        disconnected_cb=self._on_disconnected,
                        reconnected_cb=self._on_reconnected,
                        closed_cb=self._on_closed,
                    )
                # Connected: from now on reconnect forever, patiently, as an application does. nats-py reads
                # these options at each reconnect.
                client.options["max_reconnect_attempts"] = -1
                client.options["reconnect_time_wait"] = RECONNECT_WAIT
                self._established = True
            except (OSError, nats.errors.Error, ValueError) as exc:
                await close_quietly(client, CLOSE_TIMEOUT)
                attempt += 1
                reason = classify(exc, Phase.CONNECT)
                if attempt == 1:
                    log.warning(
                        "session cannot connect; retrying",
                        extra={
                            "target": self.target.name,
                            "reason": reason.value,
                            "detail": self._redact(describe(exc)),
                        },
                    )
                self._record(SessionEvent.CONNECT_FAILED)
                if await wait_or_stop(stopping, CONNECT_BACKOFF.delay(attempt)):
                    return None
                continue
            except BaseException:
                await close_quietly(client, CLOSE_TIMEOUT)
                raise
            if self._lost:
                self._lost = False
                self._record(SessionEvent.RECONNECTED)  # a new client after the old one was closed
                log.info("session reconnected with a new connection", extra={"target": self.target.name})
            else:
                self._record(SessionEvent.CONNECTED)
                if attempt:
                    log.info("session connected", extra={"target": self.target.name})
            return client

    async def _heartbeat(self, client: Client) -> None:
        token = f"{next(self._sequence)}".encode()
        arrived: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[token] = arrived
        try:
            async with asyncio.timeout(self.target.timeout):
                await client.publish(self._subject, token)
                await arrived
        except (TimeoutError, nats.errors.Error, OSError):
            self._record(SessionEvent.HEARTBEAT_LOST)
        else:
            self._record(SessionEvent.HEARTBEAT_ECHOED)
        finally:
            self._waiting.pop(token, None)

    async def _on_heartbeat(self, message: Msg) -> None:
        # A heartbeat published during an outage may arrive after its deadline: it no longer counts.
        waiter = self._waiting.get(message.data)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _on_disconnected(self) -> None:
        if self._closing or not self._established:
            return  # our own close, or the close of a failed first attempt: nothing an application lost
        self._lost = True
        self._record(SessionEvent.DISCONNECTED)
        log.warning(
            "session disconnected",
            extra={"target": self.target.name, "detail": self._last_error or "connection lost"},
        )

    async def _on_reconnected(self) -> None:
        self._lost = False
        self._record(SessionEvent.RECONNECTED)
        log.info("session reconnected", extra={"target": self.target.name})

    async def _on_closed(self) -> None:
        if not self._closing:
            self._closed.set()

    async def _on_error(self, exc: Exception) -> None:
        self._last_error = self._redact(describe(exc))

    def _redact(self, text: str) -> str:
        return redact_text(text, self.target.secret_values)
