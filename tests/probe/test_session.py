"""The session heals itself: when nats-py closes the client for good (here: the server revokes the session's user
by a configuration reload), a new client connects once the user is back, and the metrics tell the story."""

from __future__ import annotations

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
