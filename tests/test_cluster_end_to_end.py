"""The cluster data path through the running exporter: a config file turns it on, /metrics shows each server,
each route and the JetStream canary of a real three-server cluster with JetStream.

Nothing of the feature is called directly: the exporter reads `cluster:` and `jetstream:` from its config file as
a user would write them, so these tests fail if the wiring in `exporter/app.py` (or the config's reading) does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from tests.cluster.conftest import PROBE_PASSWORD, PROBE_USER, Cluster, close_cluster, start_cluster
from tests.conftest import ExporterFactory, RunningExporter, Samples, value, wait_for

pytestmark = pytest.mark.slow

TARGET = "orders-nats"


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    started = await start_cluster(3, jetstream=True)
    yield started
    await close_cluster(started)


def write_config(path: Path, cluster: Cluster, *, jetstream: bool = True) -> Path:
    target = {
        "name": TARGET,
        "url": [f"nats://{server.host}:{server.port}" for server in cluster.servers],
        "interval": "2s",
        "timeout": "2s",
        "credentials": {"user": PROBE_USER, "password_env": "PROBE_PASSWORD"},
        "cluster": {"enabled": True, "monitor_port": cluster.monitor_port},
        "jetstream": {"enabled": jetstream, "replicas": 1},
    }
    path.write_text(yaml.safe_dump({"targets": [target]}))
    return path


async def start(start_exporter: ExporterFactory, cluster: Cluster, tmp_path: Path, **options: bool) -> RunningExporter:
    config = write_config(tmp_path / "config.yaml", cluster, **options)
    return await start_exporter("--config", str(config), environ={"PROBE_PASSWORD": PROBE_PASSWORD})


def every_route_up(names: list[str]) -> object:
    def check(samples: Samples) -> bool:
        return all(
            value(samples, "nats_connectivity_route_probe_success", target=TARGET, from_server=a, to_server=b) == 1
            for a in names
            for b in names
            if a != b
        )

    return check


async def test_each_server_each_route_and_jetstream_are_up(
    start_exporter: ExporterFactory, cluster: Cluster, tmp_path: Path
) -> None:
    running = await start(start_exporter, cluster, tmp_path)
    names = cluster.names
    routes_up = every_route_up(names)

    async def all_up() -> Samples | None:
        samples = await running.samples()
        servers_up = all(
            value(samples, "nats_connectivity_server_probe_success", target=TARGET, server=name) == 1 for name in names
        )
        js_up = value(samples, "nats_connectivity_jetstream_probe_success", target=TARGET) == 1
        # A fresh JetStream cluster's full /healthz passes only once its meta leader is settled and the canary's
        # stream is current everywhere: a few intervals after the canary's first success.
        healthy = all(
            value(samples, "nats_connectivity_server_healthz", target=TARGET, server=name, mode="full") == 1
            for name in names
        )
        return samples if servers_up and js_up and healthy and routes_up(samples) else None  # type: ignore[operator]

    samples = await wait_for(
        all_up, timeout=30, message="every server, every route, JetStream and every /healthz up on /metrics"
    )
    assert value(samples, "nats_connectivity_route_pairs", target=TARGET) == 6
    for name in names:  # outside Kubernetes no readiness is known: "ready but unhealthy" cannot be said either way
        assert value(samples, "nats_connectivity_server_ready_unhealthy", target=TARGET, server=name) is None
    for a in names:
        for b in (b for b in names if b != a):
            delivery = value(
                samples, "nats_connectivity_route_probe_seconds", target=TARGET, from_server=a, to_server=b
            )
            assert delivery is not None
            assert delivery > 0
    assert (value(samples, "nats_connectivity_jetstream_probes_total", target=TARGET, result="success") or 0) >= 1


async def test_a_stopped_server_is_down_and_its_routes_too(
    start_exporter: ExporterFactory, cluster: Cluster, tmp_path: Path
) -> None:
    running = await start(start_exporter, cluster, tmp_path, jetstream=False)
    first, second, third = cluster.names
    await wait_for(
        running.metric_is(
            "nats_connectivity_route_probe_success", 1, target=TARGET, from_server=first, to_server=third
        ),
        timeout=30,
        message=f"route {first} -> {third} up",
    )
    await cluster.stop(2)
    await wait_for(
        running.metric_is("nats_connectivity_server_probe_success", 0, target=TARGET, server=third),
        timeout=30,
        message=f"{third} down on /metrics",
    )
    samples = await wait_for(
        running.metric_is(
            "nats_connectivity_route_probe_success", 0, target=TARGET, from_server=first, to_server=third
        ),
        timeout=30,
        message=f"route {first} -> {third} down",
    )
    assert value(samples, "nats_connectivity_server_probe_success", target=TARGET, server=first) == 1
    assert (
        value(samples, "nats_connectivity_route_probe_success", target=TARGET, from_server=first, to_server=second) == 1
    )
    assert value(samples, "nats_connectivity_jetstream_probe_success", target=TARGET) is None  # the canary is off
