"""Each server on its own: identity checked by INFO, /healthz only where the monitoring port answers."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import aiohttp

from exporter.cluster.result import HealthzMode
from exporter.cluster.runner import ClusterBoard, cluster_forever
from exporter.cluster.servers import ServerEndpoint, endpoints_from_addresses, endpoints_from_target, probe_servers
from exporter.config.cluster import ClusterSettings, JetStreamSettings
from exporter.config.nats_url import NatsUrl
from exporter.demo.nats_server import NatsServer, free_port
from tests.cluster.conftest import scrape
from tests.conftest import config_from_args, value, wait_for


async def test_two_addresses_answering_with_one_server_id_are_not_verified(nats_server: NatsServer) -> None:
    target = config_from_args("--nats-url", f"{nats_server.url},nats://localhost:{nats_server.port}").targets[0]
    servers = await probe_servers(target, endpoints_from_target(target), monitor_port=0, http=None)

    assert [server.probe.ok for server in servers] == [True, True]
    assert servers[0].server_id == servers[1].server_id
    assert [server.ok for server in servers] == [False, False]  # one server behind two addresses: not each its own


async def test_healthz_is_read_where_the_monitoring_port_answers_and_absent_where_it_does_not() -> None:
    monitor = free_port()
    server = NatsServer(config=f"http: 127.0.0.1:{monitor}\n")
    await server.start()
    try:
        target = config_from_args("--nats-url", server.url).targets[0]
        endpoints = endpoints_from_addresses(target, [("127.0.0.1", True)])
        async with aiohttp.ClientSession() as http:
            answered = await probe_servers(target, endpoints, monitor_port=monitor, http=http)
            silent = await probe_servers(target, endpoints, monitor_port=free_port(), http=http)
    finally:
        await server.close()

    assert answered[0].healthz == {HealthzMode.FULL: True, HealthzMode.JS_ENABLED_ONLY: True}
    assert answered[0].ready_but_unhealthy is False
    assert silent[0].ok
    assert silent[0].healthz == {}
    assert silent[0].ready_but_unhealthy is None  # unknown, not "healthy"


async def test_the_loop_records_each_interval_and_stops_when_asked(nats_server: NatsServer) -> None:
    target = replace(config_from_args("--nats-url", nats_server.url).targets[0], interval=0.1)
    settings = ClusterSettings(enabled=True, monitor_port=0, jetstream=JetStreamSettings(enabled=True))
    board = ClusterBoard()
    stop = asyncio.Event()

    async def endpoints() -> tuple[ServerEndpoint, ...]:
        return (ServerEndpoint(NatsUrl("nats", nats_server.host, nats_server.port)),)

    loop = asyncio.create_task(cluster_forever(target, settings, endpoints, board, stop=stop))
    try:
        await wait_for(
            lambda: board.get("default") is not None and board.states()[0].interval_index >= 2,
            message="two intervals recorded",
        )
    finally:
        stop.set()
        await asyncio.wait_for(loop, timeout=10)

    samples = scrape(board)
    name = board.states()[0].latest.servers[0].server_name  # type: ignore[union-attr]
    assert value(samples, "nats_connectivity_server_probe_success", target="default", server=name) == 1
    # one server: no pairs, the canary reports js_not_enabled (this server has no JetStream)
    assert value(samples, "nats_connectivity_route_pairs", target="default") == 0
    assert value(samples, "nats_connectivity_route_probes_total", target="default", result="success") == 0
    assert value(samples, "nats_connectivity_jetstream_probes_total", target="default", result="js_not_enabled") >= 2  # type: ignore[operator]
