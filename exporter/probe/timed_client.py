"""A nats-py client that reports when its TCP connection is up and when each PONG arrives.

The probe hands nats-py the resolved addresses, so nats-py opens the one connection that is measured; these two
timestamps split that connection into the `tcp` and `connect` phases, and time PING/PONG where the bytes are read
rather than when a waiting coroutine happens to be scheduled again.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client
from nats.aio.transport import TcpTransport


class TimedClient(Client):
    """`Client` plus two timestamps; the overridden hooks call nats-py's own and add only a clock read."""

    def __init__(self) -> None:
        super().__init__()
        self.on_tcp: Callable[[], None] | None = None
        self.tcp_done_at = 0.0
        self._pong_at = 0.0

    async def _connect_to_server(self, s: Any) -> None:
        if not self._transport and s.uri.scheme in ("nats", "tls"):
            self._transport = _StampingTransport()
        await super()._connect_to_server(s)
        self.tcp_done_at = time.perf_counter()
        if self.on_tcp is not None:
            self.on_tcp()

    async def _process_pong(self) -> None:
        transport = self._transport
        # When the bytes came off the socket, where our transport saw them; else when the read loop parsed them.
        stamped = transport.received_at if isinstance(transport, _StampingTransport) else 0.0
        self._pong_at = stamped or time.perf_counter()
        await super()._process_pong()

    async def best_rtt(self, rounds: int, *, timeout: float) -> float:
        """The shortest of `rounds` PING/PONG round trips: the network's time, least disturbed by the loop's own work.

        The clock starts as PING is written to the socket and stops as PONG's bytes are received (the protocol's
        `data_received`, called straight from the event loop's selector), before any coroutine is scheduled.
        """
        loop = asyncio.get_running_loop()
        best = math.inf
        for _ in range(rounds):
            future: asyncio.Future[bool] = loop.create_future()
            sent = time.perf_counter()
            await self._send_ping(future)
            await asyncio.wait_for(future, timeout)
            best = min(best, self._pong_at - sent)
        return best


class _StampingProtocol(asyncio.StreamReaderProtocol):
    """A stream protocol that notes when the last bytes arrived (plain TCP, and the plaintext under TLS)."""

    received_at = 0.0

    def data_received(self, data: bytes) -> None:
        self.received_at = time.perf_counter()
        super().data_received(data)


class _StampingTransport(TcpTransport):
    """nats-py's TCP transport with our protocol underneath, so PONG is timed where it is received.

    Only how the streams are opened differs; reading, writing and closing are nats-py's own.
    """

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # nats-py leaves it unannotated
        self._protocol: _StampingProtocol | None = None

    @property
    def received_at(self) -> float:
        return self._protocol.received_at if self._protocol is not None else 0.0

    async def connect(self, uri: Any, buffer_size: int, connect_timeout: int) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=buffer_size)
        protocol = _StampingProtocol(reader)
        async with asyncio.timeout(connect_timeout):
            transport, _ = await loop.create_connection(lambda: protocol, uri.hostname, uri.port)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        self._protocol = protocol
        # The bare streams are kept too, as nats-py does, so the socket outlives a TLS upgrade.
        self._bare_io_reader = self._io_reader = reader
        self._bare_io_writer = self._io_writer = writer

    async def connect_tls(self, uri: Any, ssl_context: Any, buffer_size: int, connect_timeout: int) -> None:
        assert self._io_writer is not None, "connect first"
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=buffer_size)
        protocol = _StampingProtocol(reader)
        hostname = uri if isinstance(uri, str) else uri.hostname
        async with asyncio.timeout(connect_timeout):
            transport = await loop.start_tls(self._io_writer.transport, protocol, ssl_context, server_hostname=hostname)
        assert transport is not None
        self._protocol = protocol
        self._io_reader = reader
        self._io_writer = asyncio.StreamWriter(transport, protocol, reader, loop)
