"""Views of one poll: `/apps` JSON and the metric families (with and without the `pod` label)."""

from __future__ import annotations

import asyncio
import json

from exporter.config.server_view import ServerViewSettings, Source
from exporter.servers.apps_view import apps_document
from exporter.servers.board import ServerViewBoard
from exporter.servers.loop import ServerViewLoop, evaluate, server_view_forever
from exporter.servers.metrics import client_labels
from exporter.servers.model import Connection, ExpectedPod, ServerConnz, ServerView, UnmatchedKind, Verdict
from tests.conftest import value, wait_for

from .cluster import Cluster
from .helpers import scrape

NOW = 10_000.0
PODS = [
    ExpectedPod("shop", "orders-0", "orders", "10.0.0.1", NOW - 600, node="n1", owner="ReplicaSet/orders-1"),
    ExpectedPod("shop", "orders-1", "orders", "10.0.0.2", NOW - 600, node="n2", owner="ReplicaSet/orders-1"),
    ExpectedPod("shop", "orders-2", "orders", "10.0.0.3", NOW - 600, ready=False),
]


def a_view() -> ServerView:
    c = Connection(
        "nats-0",
        "S0",
        1,
        "10.0.0.1",
        5555,
        NOW - 60,
        name="",
        lang="go",
        version="1.37.0",
        subscriptions=4,
        pending_bytes=12,
    )
    stranger = Connection("nats-1", "S1", 2, "203.0.113.9", 5556, NOW - 60)
    servers = (ServerConnz("nats-0", "S0", (c,)), ServerConnz("nats-1", "S1", (stranger,)))
    return ServerView(Source.ACCOUNT, NOW, servers, 2, True)


def test_apps_document_lists_every_pod_with_its_verdict() -> None:
    board = ServerViewBoard("default")
    evaluate(board, ServerViewSettings(), a_view(), PODS, {})
    document = json.loads(json.dumps(apps_document(board)))  # JSON-ready as it is
    pods = {p["pod"]: p for p in document["pods"]}
    assert pods["orders-0"]["verdict"] == "connected"
    assert pods["orders-0"]["servers"] == ["nats-0"]
    assert pods["orders-0"]["client_versions"] == ["go 1.37.0"]
    assert pods["orders-0"]["subscriptions"] == 4
    assert pods["orders-0"]["pending_bytes_max"] == 12
    assert pods["orders-1"]["verdict"] == "not_connected"
    assert pods["orders-2"]["verdict"] is None
    assert pods["orders-2"]["ready"] is False
    assert document["view"]["servers_answered"] == 2
    assert document["view"]["complete"] is True
    assert document["unmatched"]["unknown_address"] == 1
    [app] = document["apps"]
    assert (app["expected"], app["connected"], app["verdicts"]["not_connected"]) == (2, 1, 1)


def test_metrics_without_and_with_a_pod_label() -> None:
    board = ServerViewBoard("default")
    evaluate(board, ServerViewSettings(), a_view(), PODS, {})
    samples = scrape(board)
    labels = {"namespace": "shop", "app": "orders"}
    assert value(samples, "nats_connectivity_app_pod_verdicts", **labels, verdict="connected") == 1
    assert value(samples, "nats_connectivity_app_connections", **labels, server="nats-1") == 0  # imbalance visible
    assert value(samples, "nats_connectivity_app_subscriptions", **labels) == 4
    assert value(samples, "nats_connectivity_app_clients", **labels, lang="go", version="1.37") == 1
    assert value(samples, "nats_connectivity_app_reconnect_seconds_count", **labels) == 0
    for kind in UnmatchedKind:
        expected = 1 if kind is UnmatchedKind.UNKNOWN_ADDRESS else 0
        assert value(samples, "nats_connectivity_unmatched_connections", server="nats-1", kind=kind.value) == expected
    assert not any("pod" in dict(labels_) for _, labels_ in samples)
    board.per_pod = True
    per_pod = scrape(board)
    assert value(per_pod, "nats_connectivity_app_pod_verdicts", **labels, pod="orders-1", verdict="not_connected") == 1
    assert value(per_pod, "nats_connectivity_app_pods_expected", **labels) == 2  # counts stay per app


async def test_the_loop_polls_until_stopped(cluster: Cluster) -> None:
    from .helpers import make_loop

    loop: ServerViewLoop = make_loop(cluster, lambda: PODS[:1], interval=0.2)
    stopping = asyncio.Event()
    task = asyncio.create_task(server_view_forever(loop, stopping))
    await wait_for(lambda: loop.board.polls >= 2, message="two polls")
    stopping.set()
    await asyncio.wait_for(task, timeout=5)
    assert loop.board.snapshot is not None
    assert loop.board.snapshot.view.answered == 3
    assert loop.board.snapshot.pods[0].verdict is Verdict.NOT_CONNECTED


def test_client_labels_are_bounded_whatever_a_client_says() -> None:
    assert client_labels("go", "1.37.0") == ("go", "1.37")
    assert client_labels("Python3", "v2.16.0-beta.1") == ("python3", "2.16")
    assert client_labels("my-own-client-" + "x" * 500, "weird") == ("other", "unknown")
