"""The session heals itself: when nats-py closes the client for good (here: the server revokes the session's user
by a configuration reload), a new client connects once the user is back, and the metrics tell the story."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

import pytest

from exporter.demo.nats_server import NatsServer
from tests.conftest import ExporterFactory, wait_for

USERS = "{user: other, password: other-secret}"
PROBE_USER = "{user: probe, password: probe-secret}"


def server_config(*users: str) -> str:
    return f"authorization {{ users: [{', '.join(users)}] }}\n"


def reload_server(server: NatsServer, config: str) -> None:
    """Rewrite the server's configuration file and signal it to reload (SIGHUP), as `nats-server --signal reload`."""
    Path(server._config_path).write_text(config)  # type: ignore[arg-type]
    assert server._process is not None
    server._process.send_signal(signal.SIGHUP)


@pytest.mark.slow
async def test_session_reconnects_after_its_user_is_revoked_and_restored(start_exporter: ExporterFactory) -> None:
    server = NatsServer(config=server_config(USERS, PROBE_USER))
    await server.start()
    try:
        running = await start_exporter(
            "--nats-url", f"nats://probe:probe-secret@127.0.0.1:{server.port}", "--probe.interval", "1s"
        )
        await wait_for(running.metric_is("nats_connectivity_session_connected", 1, target="default"), message="up")
        reconnects = await running.metric("nats_connectivity_session_reconnects_total", target="default")
        assert reconnects == 0

        reload_server(server, server_config(USERS))
        await wait_for(
            running.metric_is("nats_connectivity_session_connected", 0, target="default"),
            timeout=20,
            message="the session down once its user is revoked",
        )
        await wait_for(
            running.metric_is("nats_connectivity_probe_success", 0, target="default"),
            timeout=20,
            message="the probe refused too",
        )

        reload_server(server, server_config(USERS, PROBE_USER))
        await wait_for(
            running.metric_is("nats_connectivity_session_connected", 1, target="default"),
            timeout=40,
            message="the session back with a new client",
        )
        assert (await running.metric("nats_connectivity_session_reconnects_total", target="default") or 0) >= 1
    finally:
        await server.close()


class InjectingRelay:
    """A TCP relay in front of a real nats-server that can slip one server line into every client's stream: what
    a server sends when a user's credentials expire, without an operator-mode setup to make them expire."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.connections = 0
        self._to_clients: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._to_clients.append(client_writer)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.close()

        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    def inject(self, line: bytes) -> None:
        """Write `line` to every client connected now (between two whole server messages: INFO/PONG/MSG are
        written by the relay in the order they came, and the injected line is whole)."""
        for writer in self._to_clients:
            if not writer.is_closing():
                writer.write(line)
        self._to_clients.clear()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._to_clients:
                writer.close()


@pytest.mark.slow
async def test_a_client_closed_by_nats_py_is_replaced_by_a_new_one(
    start_exporter: ExporterFactory, nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    """`-ERR 'User Authentication Expired'` makes nats-py close its client for good (no reconnect): the session
    starts a new client, counts one disconnect and one reconnect, and says so in its log."""
    caplog.set_level(logging.INFO, logger="exporter.probe.session")
    relay = InjectingRelay(nats_server.port)
    await relay.start()
    try:
        running = await start_exporter("--nats-url", f"nats://127.0.0.1:{relay.port}", "--probe.interval", "1s")
        await wait_for(running.metric_is("nats_connectivity_session_connected", 1, target="default"), message="up")
        before = relay.connections
        disconnects = await running.metric("nats_connectivity_session_disconnects_total", target="default")
        reconnects = await running.metric("nats_connectivity_session_reconnects_total", target="default")
        assert (disconnects, reconnects) == (0, 0)
        await wait_for(lambda: relay._to_clients, message="a connection to inject into")
        relay.inject(b"-ERR 'User Authentication Expired'\r\n")
        await wait_for(
            running.metric_is("nats_connectivity_session_reconnects_total", 1, target="default"),
            timeout=30,
            message="the session's new client",
        )
        samples = await wait_for(
            running.metric_is("nats_connectivity_session_connected", 1, target="default"), message="connected again"
        )
        assert samples[("nats_connectivity_session_disconnects_total", frozenset({("target", "default")}))] == 1
        assert relay.connections > before
        # nats-py closed its client for good; the new connection is the session's new client, not a reconnect.
        replaced = [r for r in caplog.records if r.getMessage().startswith("session closed by the NATS client")]
        assert replaced, "the session did not start a new client"
    finally:
        await relay.close()
