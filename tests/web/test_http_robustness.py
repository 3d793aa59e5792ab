"""The HTTP server sheds idle and slow clients instead of keeping their connections forever."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from exporter.demo.nats_server import NatsServer
from tests.conftest import ExporterFactory


async def start_with_idle_timeout(start_exporter: ExporterFactory, nats_server: NatsServer, tmp_path: Path) -> int:
    config = tmp_path / "config.yaml"
    config.write_text(f"web: {{idle_timeout: 1s}}\ntargets: [{{url: '{nats_server.url}'}}]\n")
    running = await start_exporter("--config", str(config))
    return running.exporter.bound_addresses[0][1]


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> float:
    """Seconds until the server closes the connection (EOF); fails if it stays open longer than `seconds`."""
    started = time.monotonic()
    async with asyncio.timeout(seconds):
        while await reader.read(1024):
            pass
    return time.monotonic() - started


async def test_idle_connection_is_closed(
    start_exporter: ExporterFactory, nats_server: NatsServer, tmp_path: Path
) -> None:
    port = await start_with_idle_timeout(start_exporter, nats_server, tmp_path)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        assert await closed_within(reader, 5) < 3
    finally:
        writer.close()


async def test_slow_headers_are_cut_off(
    start_exporter: ExporterFactory, nats_server: NatsServer, tmp_path: Path
) -> None:
    port = await start_with_idle_timeout(start_exporter, nats_server, tmp_path)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")

    async def trickle() -> None:
        for _ in range(50):  # one header line every 200 ms: never a complete request
            writer.write(b"X-Slow: y\r\n")
            await writer.drain()
            await asyncio.sleep(0.2)

    trickling = asyncio.create_task(trickle())
    try:
        assert await closed_within(reader, 5) < 3
    finally:
        trickling.cancel()
        await asyncio.gather(trickling, return_exceptions=True)
        writer.close()


async def test_keep_alive_client_that_keeps_asking_is_served(
    start_exporter: ExporterFactory, nats_server: NatsServer, tmp_path: Path
) -> None:
    port = await start_with_idle_timeout(start_exporter, nats_server, tmp_path)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(3):
            writer.write(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            status = await asyncio.wait_for(reader.readline(), 2)
            assert status.startswith(b"HTTP/1.1 200")
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            assert await reader.readexactly(len(b"Healthy\n")) == b"Healthy\n"
            await asyncio.sleep(0.5)  # under the idle timeout between requests
    finally:
        writer.close()
