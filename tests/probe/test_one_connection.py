"""One probe opens exactly one connection to NATS, as the server itself counts them."""

from __future__ import annotations

import json
import urllib.request

from exporter.demo.nats_server import NatsServer, free_port
from exporter.probe.phases import run_probe
from tests.conftest import config_from_args


def _total_connections(monitor_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/varz", timeout=5) as response:
        return int(json.load(response)["total_connections"])


async def test_each_probe_is_one_connection_by_the_servers_count() -> None:
    monitor = free_port()
    server = NatsServer(config=f"http: 127.0.0.1:{monitor}")
    await server.start()
    try:
        target = config_from_args("--nats-url", f"nats://localhost:{server.port}").targets[0]
        before = _total_connections(monitor)
        for _ in range(5):
            result = await run_probe(target)
            assert result.ok, result.detail
        after = _total_connections(monitor)
    finally:
        await server.close()
    assert after - before == 5
