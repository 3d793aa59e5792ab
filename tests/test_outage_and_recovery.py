"""What a user sees on /metrics when NATS goes down and comes back: the reason, then the recovery."""

from __future__ import annotations

import time

from exporter.demo.nats_server import NatsServer, free_port
from tests.conftest import ExporterFactory, value, wait_for

INTERVAL = 1.0
TIMEOUT = 1.0


async def test_stop_then_restart_shows_refused_then_recovery(
    nats_server: NatsServer, start_exporter: ExporterFactory
) -> None:
    running = await start_exporter("--nats-url", nats_server.url, "--probe.interval", "1s", "--probe.timeout", "1s")
    samples = await wait_for(
        running.metric_is("nats_connectivity_probe_success", 1, target="default"), message="first success"
    )
    server_info = [dict(labels) for name, labels in samples if name == "nats_connectivity_server_info"]
    assert server_info
    assert server_info[0]["version"].startswith("2.")
    assert server_info[0]["server_name"]
    await wait_for(running.metric_is("nats_connectivity_session_connected", 1, target="default"), message="session")
    await wait_for(
        running.metric_is("nats_connectivity_publish_total", 1, op=">=", target="default", result="success"),
        message="a heartbeat echoed",
    )

    await nats_server.stop()
    stopped_at = time.monotonic()
    samples = await wait_for(
        running.metric_is("nats_connectivity_probe_success", 0, target="default"),
        timeout=INTERVAL + TIMEOUT + 2,
        message="the probe to fail",
    )
    assert time.monotonic() - stopped_at <= INTERVAL + TIMEOUT + 1
    assert (
        samples[
            ("nats_connectivity_probes_total", frozenset({("target", "default"), ("result", "connection_refused")}))
        ]
        >= 1
    )
    await wait_for(
        running.metric_is("nats_connectivity_session_connected", 0, target="default"), message="session down"
    )

    await nats_server.start()
    samples = await wait_for(
        running.metric_is("nats_connectivity_probe_success", 1, target="default"), message="recovery"
    )
    samples = await wait_for(
        running.metric_is("nats_connectivity_session_connected", 1, target="default"), message="session back"
    )
    assert value(samples, "nats_connectivity_session_disconnects_total", target="default") == 1
    assert value(samples, "nats_connectivity_session_reconnects_total", target="default") == 1
    _, _, page = await running.get("/")
    assert "connection_refused" in page  # the last failure stays on the page after recovery


async def test_a_session_that_never_connected_counts_no_disconnect(start_exporter: ExporterFactory) -> None:
    running = await start_exporter("--nats-url", f"nats://127.0.0.1:{free_port()}", "--probe.interval", "1s")
    await wait_for(
        running.metric_is("nats_connectivity_session_connected", 0, target="default"), message="session down"
    )
    await wait_for(
        lambda: running.exporter.board.get("default") is not None and running.exporter.board.ready,
        message="probed once",
    )
    assert await running.metric("nats_connectivity_session_disconnects_total", target="default") == 0
