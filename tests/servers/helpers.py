"""Building blocks for the servers' view tests: pods as the pod watch would give them, a loop, lookups."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence

import nats
from nats.aio.client import Client
from prometheus_client import CollectorRegistry, generate_latest

from exporter.config.server_view import ServerViewSettings, Source
from exporter.servers.board import ServerViewBoard, Snapshot
from exporter.servers.loop import ServerViewLoop
from exporter.servers.metrics import ServerViewCollector
from exporter.servers.model import ExpectedPod, LogEntry, PodKey, Verdict
from tests.conftest import Samples, parse_samples

from .cluster import Cluster

NAMESPACE = "shop"
APP = "orders"


def expected_pod(name: str, ip: str, *, app: str = APP, started_ago: float = 120.0, **changes: object) -> ExpectedPod:
    pod = ExpectedPod(
        namespace=NAMESPACE,
        name=name,
        app=app,
        ip=ip,
        start_time=time.time() - started_ago,
        node="node-1",
        owner="ReplicaSet/orders-5d9c",
        ready=True,
    )
    return dataclasses.replace(pod, **changes)  # type: ignore[arg-type]


def view_settings(**changes: object) -> ServerViewSettings:
    base = ServerViewSettings(quiet_period=0.3, timeout=5.0, grace=5.0)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def make_loop(
    cluster: Cluster,
    pods: Callable[[], Sequence[ExpectedPod]],
    *,
    user: str = "app",
    source: Source = Source.ACCOUNT,
    logs: Callable[[], Mapping[PodKey, LogEntry]] = dict,
    expected_servers: Callable[[], int] = lambda: 0,
    **changes: object,
) -> ServerViewLoop:
    async def connect() -> Client:
        async def quiet(error: Exception) -> None:
            pass

        return await nats.connect(
            cluster.url(0, user), name="nce-server-view", error_cb=quiet, allow_reconnect=False, connect_timeout=5
        )

    settings = view_settings(source=source, **changes)
    board = ServerViewBoard(target="default")
    return ServerViewLoop(
        settings,
        board,
        pods=pods,
        logs=logs,
        connect=connect,
        monitor_urls=lambda: cluster.monitor_urls,
        expected_servers=expected_servers,
    )


def verdict_of(snapshot: Snapshot, name: str) -> Verdict | None:
    return next(r.verdict for r in snapshot.pods if r.pod.name == name)


def scrape(board: ServerViewBoard) -> Samples:
    registry = CollectorRegistry()
    registry.register(ServerViewCollector(board))
    return parse_samples(generate_latest(registry).decode())
