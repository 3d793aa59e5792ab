"""/probe?target=NAME: one probe now, only of configured or allowlisted targets, never an arbitrary host."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from exporter.demo.nats_server import NatsServer
from tests.conftest import ExporterFactory, parse_samples, value


@contextmanager
def counting_listener() -> Iterator[tuple[int, list[int]]]:
    """A port that records every connection made to it: proof that nothing connected."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    connections: list[int] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(1)
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1]), connections
    finally:
        stop.set()
        thread.join()
        listener.close()


async def test_probe_of_a_configured_target_returns_only_that_probe(
    nats_server: NatsServer, start_exporter: ExporterFactory
) -> None:
    running = await start_exporter("--nats-url", f"main={nats_server.url}", "--nats-url", "other=nats://127.0.0.1:1")

    status, content_type, text = await running.get("/probe?target=main")

    assert status == 200
    assert content_type.startswith("text/plain")
    samples = parse_samples(text)
    assert value(samples, "nats_connectivity_probe_success", target="main") == 1
    for phase in ("dns", "tcp", "connect", "rtt", "pubsub"):
        assert value(samples, "nats_connectivity_probe_phase_seconds", target="main", phase=phase) is not None
    assert {labels for name, labels in samples if name == "nats_connectivity_probe_success"} == {
        frozenset({("target", "main")})
    }
    assert not [name for name, _ in samples if name.startswith("process_")]


async def test_unconfigured_host_is_refused_without_any_connection(
    nats_server: NatsServer, start_exporter: ExporterFactory
) -> None:
    running = await start_exporter("--nats-url", nats_server.url)
    with counting_listener() as (port, connections):
        for target in (f"127.0.0.1:{port}", f"nats://127.0.0.1:{port}", f"nats://localhost:{port}"):
            status, _, text = await running.get(f"/probe?target={target}")
            assert status == 400
            assert "unknown target" in text
            assert "default" in text  # says what may be probed
        status, _, text = await running.get("/probe")
        assert status == 400
    assert connections == []


async def test_allowlisted_host_may_be_probed(
    nats_server: NatsServer, start_exporter: ExporterFactory, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"probe: {{allowed_hosts: ['localhost:{nats_server.port}']}}\ntargets: [{{url: 'nats://n:1'}}]\n")
    running = await start_exporter("--config", str(config))

    allowed, _, text = await running.get(f"/probe?target=nats://localhost:{nats_server.port}")
    other_port, _, _ = await running.get("/probe?target=nats://localhost:1")
    with_credentials, _, _ = await running.get(f"/probe?target=nats://u:p@localhost:{nats_server.port}")

    assert allowed == 200
    target = f"nats://localhost:{nats_server.port}"
    assert value(parse_samples(text), "nats_connectivity_probe_success", target=target) == 1
    assert other_port == 400
    assert with_credentials == 400


async def test_debug_output_is_a_readable_trace(nats_server: NatsServer, start_exporter: ExporterFactory) -> None:
    running = await start_exporter("--nats-url", nats_server.url)

    status, _, text = await running.get("/probe?target=default&debug=true")

    assert status == 200
    assert "Result: success" in text
    for phase in ("dns", "tcp", "connect", "rtt", "pubsub"):
        assert f"  {phase} " in text
    assert "version: 2." in text  # the server's INFO fields
    assert "nats_connectivity_probe_success" in text


async def test_scrape_timeout_header_shortens_the_probe(start_exporter: ExporterFactory) -> None:
    from tests.conftest import silent_listener

    with silent_listener() as port:
        running = await start_exporter("--nats-url", f"nats://127.0.0.1:{port}", "--probe.timeout", "5s")
        status, _, text = await running.get(
            "/probe?target=default&debug=1", **{"X-Prometheus-Scrape-Timeout-Seconds": "1.5"}
        )
    assert status == 200
    assert "deadline 1s" in text
    assert "FAILED in connect: timeout" in text
