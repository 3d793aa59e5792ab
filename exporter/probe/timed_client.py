"""A nats-py client that reports when its TCP connection is up and when each PONG arrives.

The probe hands nats-py the resolved addresses, so nats-py opens the one connection that is measured; these two
timestamps split that connection into the `tcp` and `connect` phases, and time PING/PONG where the bytes arrive
rather than when a waiting coroutine happens to be scheduled again.

Where the bytes arrive is the kernel's word, not the event loop's: the socket asks Linux to stamp every packet it
receives (`SO_TIMESTAMPNS`) and reads with `recvmsg`, so a PONG is timed when its packet reached the socket, before
the loop woke up (on a 2-core machine a loop wake-up costs more than an in-cluster round trip). Everything else
about the socket is asyncio's and nats-py's own; where the kernel has no stamp (another OS, a name that is not an
address), the time the protocol saw the bytes is used, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

from nats.aio.client import DEFAULT_BUFFER_SIZE, Client
from nats.aio.transport import TcpTransport


class TimedClient(Client):
    """`Client` plus two timestamps; the overridden hooks call nats-py's own and add only a clock read."""

    def __init__(self) -> None:
        super().__init__()
        self.on_tcp: Callable[[], None] | None = None
        self.tcp_done_at = 0.0
        self._pong_at = 0.0
        self._pong_kernel_ns = 0

    async def _connect_to_server(self, s: Any) -> None:
        if s.uri.scheme in ("nats", "tls"):
            # nats-py's own method would replace any transport that is not yet connected (its `__bool__`) with a
            # plain one; so for TCP this is its body with our transport in place (websockets go through nats-py).
            if not isinstance(self._transport, _StampingTransport):
                self._transport = _StampingTransport()
            s.last_attempt = time.monotonic()
            await self._transport.connect(
                s.uri, buffer_size=DEFAULT_BUFFER_SIZE, connect_timeout=self.options["connect_timeout"]
            )
        else:
            await super()._connect_to_server(s)
        self.tcp_done_at = time.perf_counter()
        if self.on_tcp is not None:
            self.on_tcp()

    async def _process_pong(self) -> None:
        transport = self._transport
        # When the bytes came off the socket, where our transport saw them; else when the read loop parsed them.
        if isinstance(transport, _StampingTransport):
            self._pong_at = transport.received_at or time.perf_counter()
            self._pong_kernel_ns = transport.received_kernel_ns
        else:
            self._pong_at, self._pong_kernel_ns = time.perf_counter(), 0
        await super()._process_pong()

    async def best_rtt(self, rounds: int, *, timeout: float) -> float:
        """The shortest of `rounds` PING/PONG round trips: the network's time, least disturbed by the loop's own work.

        The clock starts as PING is written to the socket (the write is synchronous while nothing else is queued)
        and stops at the kernel's receive stamp of PONG's packet; without one, when the protocol's `data_received`
        saw the bytes, straight from the selector, before any coroutine is scheduled.
        """
        loop = asyncio.get_running_loop()
        best = math.inf
        for _ in range(rounds):
            future: asyncio.Future[bool] = loop.create_future()
            self._pong_kernel_ns = 0
            sent = time.perf_counter()
            before_ns = time.time_ns()
            await self._send_ping(future)
            transport = self._transport
            # The write is synchronous while nothing else is queued: the socket noted when PING went to the kernel.
            sent_ns = max(before_ns, transport.sent_ns if isinstance(transport, _StampingTransport) else 0)
            async with asyncio.timeout(timeout):
                await future
            best = min(best, _round_trip(self._pong_at - sent, sent_ns, self._pong_kernel_ns))
        return best


def _round_trip(seen_by_loop: float, sent_ns: int, received_kernel_ns: int) -> float:
    """The kernel's figure when it has one that can be right, else the loop's.

    The kernel stamps with the wall clock (the only clock `SO_TIMESTAMPNS` offers), so a clock step during the round
    trip could make its figure nonsense: one that is not positive, or longer than the loop's own (which is later by
    construction), is not used.
    """
    if received_kernel_ns:
        kernel = (received_kernel_ns - sent_ns) / 1e9
        if 0 < kernel <= seen_by_loop:
            return kernel
    return seen_by_loop


SO_TIMESTAMPNS = 35  # Linux (asm-generic; x86-64 and arm64 alike); the socket module does not name it
_STAMP = struct.Struct("@qq")  # struct timespec on 64-bit Linux
_STAMP_SPACE = socket.CMSG_SPACE(_STAMP.size)
KERNEL_STAMPS = sys.platform == "linux" and sys.maxsize > 2**32


class _StampedSocket(socket.socket):
    """A TCP socket that keeps the kernel's receive stamp of the bytes it last read.

    asyncio's transports read with `recv` (plain) and `recv_into` (under TLS, the raw bytes): both go through
    `recvmsg`, which carries the stamp of the last packet read as ancillary data.
    """

    received_kernel_ns = 0
    sent_ns = 0  # when bytes were last handed to the kernel (asyncio writes with `send` when nothing is queued)

    def stamp_receptions(self) -> None:
        """Ask for receive stamps; a kernel that refuses (a sandbox such as gVisor may) leaves the loop's figure."""
        with contextlib.suppress(OSError):
            self.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)

    def send(self, data: Any, flags: int = 0) -> int:
        self.sent_ns = time.time_ns()
        return super().send(data, flags)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data, ancillary, _, _ = self.recvmsg(bufsize, _STAMP_SPACE, flags)
        self._note(ancillary)
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        view = memoryview(buffer).cast("B")
        count, ancillary, _, _ = self.recvmsg_into([view[:nbytes] if nbytes else view], _STAMP_SPACE, flags)
        self._note(ancillary)
        return count

    def _note(self, ancillary: list[tuple[int, int, bytes]]) -> None:
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= _STAMP.size:
                seconds, nanoseconds = _STAMP.unpack_from(value)
                self.received_kernel_ns = seconds * 1_000_000_000 + nanoseconds


class _StampingProtocol(asyncio.StreamReaderProtocol):
    """A stream protocol that notes when the last bytes arrived (plain TCP, and the plaintext under TLS)."""

    received_at = 0.0
    received_kernel_ns = 0
    stamped_socket: _StampedSocket | None = None

    def data_received(self, data: bytes) -> None:
        self.received_at = time.perf_counter()
        if self.stamped_socket is not None:
            self.received_kernel_ns = self.stamped_socket.received_kernel_ns
        super().data_received(data)


class _StampingTransport(TcpTransport):
    """nats-py's TCP transport with our protocol underneath, so PONG is timed where it is received.

    Only how the streams are opened differs; reading, writing and closing are nats-py's own.
    """

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # nats-py leaves it unannotated
        self._protocol: _StampingProtocol | None = None
        self._socket: _StampedSocket | None = None

    @property
    def received_at(self) -> float:
        return self._protocol.received_at if self._protocol is not None else 0.0

    @property
    def sent_ns(self) -> int:
        return self._socket.sent_ns if self._socket is not None else 0

    @property
    def received_kernel_ns(self) -> int:
        return self._protocol.received_kernel_ns if self._protocol is not None else 0

    async def connect(self, uri: Any, buffer_size: int, connect_timeout: int) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=buffer_size)
        protocol = _StampingProtocol(reader)
        async with asyncio.timeout(connect_timeout):
            sock = await _connected_stamped_socket(uri.hostname, uri.port)
            if sock is None:
                transport, _ = await loop.create_connection(lambda: protocol, uri.hostname, uri.port)
            else:
                try:
                    transport, _ = await loop.create_connection(lambda: protocol, sock=sock)
                except BaseException:
                    sock.close()
                    raise
        protocol.stamped_socket = self._socket = sock
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
        protocol.stamped_socket = self._socket  # TLS reads the same socket: its raw bytes carry the stamps
        self._protocol = protocol
        self._io_reader = reader
        self._io_writer = asyncio.StreamWriter(transport, protocol, reader, loop)


async def _connected_stamped_socket(host: str, port: int) -> _StampedSocket | None:
    """A connected, non-blocking socket stamping what it receives; None where that cannot be had (a host that is not
    an address, a system without the stamps), and the caller connects as asyncio does."""
    if not KERNEL_STAMPS:
        return None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
        )[0]
    except socket.gaierror:
        return None
    sock = _StampedSocket(family, kind, proto)
    try:
        sock.setblocking(False)
        sock.stamp_receptions()
        await asyncio.get_running_loop().sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock
