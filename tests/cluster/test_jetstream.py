"""The JetStream canary against real servers: green in a cluster, and each failure with its reason."""

from __future__ import annotations

import aiohttp
import pytest

from exporter.cluster.jetstream import run_jetstream_probe
from exporter.cluster.result import HealthzMode, JetStreamPhase, JetStreamReason, JetStreamResult, ReplicaState
from exporter.cluster.runner import ClusterBoard
from exporter.config import Target
from exporter.config.cluster import ClusterSettings, JetStreamSettings
from exporter.demo.nats_server import NatsServer
from tests.cluster.conftest import Cluster, probe_once, scrape
from tests.conftest import config_from_args, value, wait_for

CANARY = JetStreamSettings(enabled=True)


def target_for(url: str, timeout: str = "3s") -> Target:
    return config_from_args("--nats-url", url, "--probe.timeout", timeout).targets[0]


async def canary_on(config: str, url_user: str = "") -> JetStreamResult:
    server = NatsServer(config=config)
    await server.start()
    try:
        url = server.url.replace("nats://", f"nats://{url_user}@") if url_user else server.url
        return await run_jetstream_probe(target_for(url), CANARY, servers=1)
    finally:
        await server.close()


@pytest.mark.slow
async def test_canary_passes_every_phase_on_a_healthy_cluster(cluster: Cluster) -> None:
    settings = ClusterSettings(enabled=True, monitor_port=cluster.monitor_port, jetstream=CANARY)
    board = ClusterBoard()
    async with aiohttp.ClientSession() as http:

        async def green() -> bool:
            result = await probe_once(board, cluster, settings, ready=True, http=http)
            assert result.jetstream is not None
            return result.jetstream.ok and all(s.healthz.get(HealthzMode.FULL) for s in result.servers)

        await wait_for(green, timeout=40, message="the canary and every /healthz to pass (meta leader elected)")

    state = board.get("default")
    assert state is not None
    assert state.latest is not None
    assert state.latest.jetstream is not None
    canary = state.latest.jetstream
    assert list(canary.phases) == list(JetStreamPhase)
    assert canary.leader in cluster.names
    assert sum(canary.replicas.values()) == 3
    assert canary.replicas[ReplicaState.OFFLINE] == 0
    samples = scrape(board)
    assert value(samples, "nats_connectivity_jetstream_probe_success", target="default") == 1
    assert value(samples, "nats_connectivity_jetstream_probes_total", target="default", result="success") >= 1  # type: ignore[operator]
    assert value(samples, "nats_connectivity_jetstream_probes_total", target="default", result="no_leader") == 0
    for phase in JetStreamPhase:
        seconds = value(samples, "nats_connectivity_jetstream_phase_seconds", target="default", phase=phase.value)
        assert seconds is not None
        assert seconds > 0
    for name in cluster.names:
        assert value(samples, "nats_connectivity_server_healthz", target="default", server=name, mode="full") == 1
        assert value(samples, "nats_connectivity_server_ready_unhealthy", target="default", server=name) == 0


@pytest.mark.slow
async def test_two_of_three_down_leaves_no_leader_and_a_ready_but_unhealthy_server(cluster: Cluster) -> None:
    settings = ClusterSettings(enabled=True, monitor_port=cluster.monitor_port, jetstream=CANARY)
    board = ClusterBoard()
    async with aiohttp.ClientSession() as http:

        async def canary_ok() -> bool:
            result = await probe_once(board, cluster, settings, ready=True, http=http)
            return result.jetstream is not None and result.jetstream.ok

        await wait_for(canary_ok, timeout=40, message="the canary to pass before the outage")
        await cluster.stop(1)
        await cluster.stop(2)

        async def lost() -> bool:
            result = await probe_once(board, cluster, settings, ready=True, http=http)
            assert result.jetstream is not None
            survivor = result.servers[0]
            return (
                result.jetstream.reason in (JetStreamReason.NO_LEADER, JetStreamReason.QUORUM_LOST)
                and survivor.ready_but_unhealthy is True
            )

        await wait_for(lost, timeout=60, message="no_leader/quorum_lost and n1 ready but unhealthy")

    samples = scrape(board)
    assert value(samples, "nats_connectivity_jetstream_probe_success", target="default") == 0
    assert value(samples, "nats_connectivity_server_probe_success", target="default", server="n1") == 1
    assert value(samples, "nats_connectivity_server_ready_unhealthy", target="default", server="n1") == 1
    assert value(samples, "nats_connectivity_server_healthz", target="default", server="n1", mode="full") == 0
    lost_total = sum(
        value(samples, "nats_connectivity_jetstream_probes_total", target="default", result=reason) or 0
        for reason in ("no_leader", "quorum_lost")
    )
    assert lost_total >= 1


async def test_tiny_file_store_is_storage_exhausted_or_stream_full() -> None:
    result = await canary_on('jetstream { store_dir: "js", max_file_store: 4096 }\n')
    assert result.reason in (JetStreamReason.STORAGE_EXHAUSTED, JetStreamReason.STREAM_FULL), result
    assert result.err_code is not None  # the reason came from the server's JetStream error code


async def test_server_without_jetstream_is_js_not_enabled() -> None:
    result = await canary_on("")
    assert result.reason is JetStreamReason.JS_NOT_ENABLED, result
    assert result.failed_phase is JetStreamPhase.JS_INFO


async def test_user_without_js_api_permission_is_not_authorized() -> None:
    config = (
        'jetstream { store_dir: "js" }\n'
        "authorization { users: [ {user: probe, password: secret, permissions: "
        '{publish: {deny: ["$JS.API.>"]}}} ] }\n'
    )
    result = await canary_on(config, url_user="probe:secret")
    assert result.reason is JetStreamReason.NOT_AUTHORIZED, result
    assert result.phases == {}


async def test_single_server_canary_passes_and_reports_one_current_replica() -> None:
    result = await canary_on('jetstream { store_dir: "js" }\n')
    assert result.ok, result
    assert result.replicas == {ReplicaState.CURRENT: 1, ReplicaState.LAGGING: 0, ReplicaState.OFFLINE: 0}
