"""The demo's application: a real nats-py client that logs the guide's three lines as its connection comes and goes.

It writes to a file that the exporter follows (`--logs.file demo-app=PATH`), so `demo` shows the log side of the
exporter without a cluster: `Connected to NATS server`, `NATS connection lost`, `Failed to connect to NATS`.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nats.errors
from nats.aio.client import Client

from exporter.probe.failure import describe
from exporter.probe.nats_client import close_quietly


class DemoApp:
    def __init__(self, url: str, log_path: Path) -> None:
        self.url = url
        self.log_path = log_path
        self._connected = False

    def _log(self, level: str, message: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        with self.log_path.open("a", encoding="utf-8") as handle:
            handle.write(f"{stamp}Z {level} demo-app: {message}\n")

    async def run(self) -> None:
        client = Client()
        try:
            while True:
                try:
                    await asyncio.wait_for(self._connect(client), timeout=5)
                    break
                except (OSError, TimeoutError, nats.errors.Error) as exc:
                    self._log("ERROR", f"Failed to connect to NATS: {describe(exc)}")
                    await asyncio.sleep(1)
            self._connected = True
            self._log("INFO", f"Connected to NATS server at {self.url}")
            while True:
                await asyncio.sleep(1)
                if client.is_connected:
                    await client.publish("demo.heartbeat", b"ok")
        finally:
            await close_quietly(client, 2)

    async def _connect(self, client: Client) -> None:
        await client.connect(
            self.url,
            name="demo-app",
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
        )

    async def _on_error(self, exc: Exception) -> None:
        if self._connected is False and isinstance(exc, OSError):
            self._log("ERROR", f"Failed to connect to NATS: {describe(exc)}")

    async def _on_disconnected(self) -> None:
        if self._connected:
            self._connected = False
            self._log("WARN", "NATS connection lost")

    async def _on_reconnected(self) -> None:
        self._connected = True
        self._log("INFO", f"Connected to NATS server at {self.url}")
