"""`rtt` is the network's: the PONG is timed by the kernel's receive stamp, not by when the event loop got to it."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from exporter.demo.nats_server import NatsServer
from exporter.probe import timed_client
from exporter.probe.nats_client import close_quietly
from exporter.probe.timed_client import KERNEL_STAMPS, TimedClient, _round_trip
from tests.certs import CertificateAuthority

BUSY = 0.3  # the loop is kept busy this long right after PING leaves
pytestmark = pytest.mark.skipif(not KERNEL_STAMPS, reason="receive stamps are a Linux feature")


def _hold_the_loop() -> None:
    """What a loaded exporter does to a probe: the loop runs something else while the PONG arrives."""
    until = time.perf_counter() + BUSY
    while time.perf_counter() < until:
        pass


async def _rtt_with_a_busy_loop(client: TimedClient) -> float:
    asyncio.get_running_loop().call_soon(_hold_the_loop)  # runs as soon as best_rtt first yields, PING written
    started = time.perf_counter()
    rtt = await client.best_rtt(1, timeout=5)
    assert time.perf_counter() - started >= BUSY  # the loop really was held while the PONG came back
    return rtt


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[NatsServer, ssl.SSLContext]]:
    ca = CertificateAuthority(tmp_path)
    pair = ca.issue("nats", hosts=("localhost",))
    server = NatsServer(config=f'tls {{ cert_file: "{pair.cert}", key_file: "{pair.key}" }}')
    await server.start()
    try:
        yield server, ssl.create_default_context(cafile=str(ca.cert_path))
    finally:
        await server.close()


async def test_rtt_leaves_out_the_time_the_loop_was_busy(nats_server: NatsServer) -> None:
    client = TimedClient()
    await client.connect(nats_server.url, allow_reconnect=False)
    try:
        rtt = await _rtt_with_a_busy_loop(client)
    finally:
        await close_quietly(client, 2)

    # Timed by the loop, it would be at least BUSY; the kernel stamped the PONG when it arrived.
    assert 0 < rtt < BUSY / 2


async def test_rtt_leaves_out_the_busy_loop_under_tls_too(tls_server: tuple[NatsServer, ssl.SSLContext]) -> None:
    server, context = tls_server
    client = TimedClient()
    await client.connect(f"tls://127.0.0.1:{server.port}", tls=context, tls_hostname="localhost", allow_reconnect=False)
    try:
        rtt = await _rtt_with_a_busy_loop(client)
    finally:
        await close_quietly(client, 2)

    assert 0 < rtt < BUSY / 2


def test_a_kernel_figure_that_cannot_be_right_gives_way_to_the_loops() -> None:
    sent_ns = 1_000_000_000_000
    assert _round_trip(0.002, sent_ns, sent_ns + 500_000) == pytest.approx(0.0005)  # the kernel's, when sane
    assert _round_trip(0.002, sent_ns, 0) == 0.002  # no stamp
    assert _round_trip(0.002, sent_ns, sent_ns - 1) == 0.002  # the wall clock stepped back
    assert _round_trip(0.002, sent_ns, sent_ns + 5_000_000) == 0.002  # ... or forward: later than the loop saw it


async def test_tls_handshake_first_goes_through_the_stamping_transport(tmp_path: Path) -> None:
    """Servers that want TLS before INFO (`handshake_first`): the probe's own TCP connect must leave nats-py's TLS
    upgrade as it was, and the stamps still work on the raw bytes."""
    ca = CertificateAuthority(tmp_path)
    pair = ca.issue("nats", hosts=("localhost",))
    server = NatsServer(config=f'tls {{ cert_file: "{pair.cert}", key_file: "{pair.key}", handshake_first: true }}')
    await server.start()
    client = TimedClient()
    try:
        await client.connect(
            f"tls://127.0.0.1:{server.port}",
            tls=ssl.create_default_context(cafile=str(ca.cert_path)),
            tls_hostname="localhost",
            tls_handshake_first=True,
            allow_reconnect=False,
        )
        rtt = await _rtt_with_a_busy_loop(client)
    finally:
        await close_quietly(client, 2)
        await server.close()

    assert 0 < rtt < BUSY / 2


async def test_a_kernel_that_refuses_stamps_still_gets_probed(
    nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sandboxes (gVisor, some seccomp profiles) may refuse the option: the probe goes on with the loop's figure."""
    monkeypatch.setattr(timed_client, "SO_TIMESTAMPNS", 0x7FFF)  # an option no kernel knows: setsockopt fails
    client = TimedClient()
    await client.connect(nats_server.url, allow_reconnect=False)
    try:
        rtt = await client.best_rtt(2, timeout=5)
        received = client._transport.received_kernel_ns  # type: ignore[union-attr]
    finally:
        await close_quietly(client, 2)

    assert rtt > 0
    assert received == 0  # no stamp came: the figure is the loop's
