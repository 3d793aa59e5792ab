"""The servers' view against a real three-server cluster, application pods as real clients from their own IPs."""

from __future__ import annotations

import asyncio
import time
from importlib import metadata

import nats
import pytest

from exporter.config.server_view import Source
from exporter.servers.board import Snapshot
from exporter.servers.loop import ServerViewLoop
from exporter.servers.model import CloseReason, LogEntry, UnmatchedKind, Verdict
from tests.conftest import value, wait_for

from .cluster import AppPod, Cluster, RawClient, pod_ip, start_app_pod
from .helpers import APP, NAMESPACE, expected_pod, make_loop, scrape, verdict_of


async def poll_until(loop: ServerViewLoop, predicate, message: str, timeout: float = 15.0) -> Snapshot:  # type: ignore[no-untyped-def]
    """Poll the servers until the snapshot satisfies `predicate`."""

    async def once() -> Snapshot | None:
        snapshot = await loop.poll()
        return snapshot if predicate(snapshot) else None

    result: Snapshot = await wait_for(once, timeout=timeout, message=message)
    return result


async def test_every_pod_connected_each_on_its_server(cluster: Cluster, app_pods: list[AppPod]) -> None:
    for index in range(3):
        app_pods.append(await start_app_pod(cluster, f"orders-{index}", pod_ip(index), server=index))
    pods = [expected_pod(f"orders-{i}", pod_ip(i)) for i in range(3)]
    loop = make_loop(cluster, lambda: pods)
    try:
        snapshot = await poll_until(
            loop, lambda s: all(r.verdict is Verdict.CONNECTED for r in s.pods), "every pod connected"
        )
        assert snapshot.view.answered == 3
        assert [r.servers for r in snapshot.pods] == [("nats-0",), ("nats-1",), ("nats-2",)]
        assert all(r.subscriptions >= 1 for r in snapshot.pods)
        assert not any(u.connection.name == "nce-server-view" for u in snapshot.unmatched)  # our own is left out
        samples = scrape(loop.board)
        for server in ("nats-0", "nats-1", "nats-2"):
            assert value(samples, "nats_connectivity_app_connections", namespace=NAMESPACE, app=APP, server=server) == 1
        assert value(samples, "nats_connectivity_app_pods_expected", namespace=NAMESPACE, app=APP) == 3
        assert value(samples, "nats_connectivity_app_pods_connected", namespace=NAMESPACE, app=APP) == 3
        assert value(samples, "nats_connectivity_server_view_servers", target="default") == 3
        assert value(samples, "nats_connectivity_server_view_success", target="default") == 1
        major_minor = ".".join(metadata.version("nats-py").split(".")[:2])
        lang = {"namespace": NAMESPACE, "app": APP, "lang": "python3", "version": major_minor}
        assert value(samples, "nats_connectivity_app_clients", **lang) == 3
    finally:
        await loop.close()


async def test_a_client_gone_is_not_connected(cluster: Cluster, app_pods: list[AppPod]) -> None:
    for index in range(2):
        app_pods.append(await start_app_pod(cluster, f"orders-{index}", pod_ip(index), server=index))
    pods = [expected_pod(f"orders-{i}", pod_ip(i)) for i in range(2)]
    loop = make_loop(cluster, lambda: pods)
    try:
        await poll_until(loop, lambda s: verdict_of(s, "orders-1") is Verdict.CONNECTED, "orders-1 connected")
        await app_pods[1].close()
        snapshot = await poll_until(
            loop, lambda s: verdict_of(s, "orders-1") is Verdict.NOT_CONNECTED, "orders-1 not connected"
        )
        assert verdict_of(snapshot, "orders-0") is Verdict.CONNECTED
        samples = scrape(loop.board)
        labels = {"namespace": NAMESPACE, "app": APP}
        assert value(samples, "nats_connectivity_app_pod_verdicts", **labels, verdict="not_connected") == 1
        assert value(samples, "nats_connectivity_app_pods_connected", **labels) == 1
    finally:
        await loop.close()


async def test_a_client_without_subscriptions(cluster: Cluster, app_pods: list[AppPod]) -> None:
    app_pods.append(await start_app_pod(cluster, "orders-0", pod_ip(0), subscribe=False))
    app_pods.append(await start_app_pod(cluster, "ingest-0", pod_ip(1), subscribe=False))
    pods = [expected_pod("orders-0", pod_ip(0)), expected_pod("ingest-0", pod_ip(1), app="ingest")]
    loop = make_loop(cluster, lambda: pods, publish_only=("ingest",))
    try:
        snapshot = await poll_until(loop, lambda s: s.pods[0].connections != (), "orders-0 seen")
        assert verdict_of(snapshot, "orders-0") is Verdict.NO_SUBSCRIPTIONS
        assert verdict_of(snapshot, "ingest-0") is Verdict.CONNECTED  # publishes only, by design
    finally:
        await loop.close()


async def test_log_says_connected_but_no_server_sees_it(cluster: Cluster, app_pods: list[AppPod]) -> None:
    app_pods.append(await start_app_pod(cluster, "orders-0", pod_ip(0)))
    pods = [
        expected_pod("orders-0", pod_ip(0)),
        expected_pod("orders-1", pod_ip(1)),
        expected_pod("orders-2", pod_ip(2)),
    ]
    logs = {(NAMESPACE, "orders-1"): LogEntry("connected", at=time.time() - 60)}
    loop = make_loop(cluster, lambda: pods, logs=lambda: logs)
    try:
        snapshot = await poll_until(loop, lambda s: s.pods[0].verdict is Verdict.CONNECTED, "orders-0 connected")
        assert verdict_of(snapshot, "orders-1") is Verdict.HALF_OPEN
        assert verdict_of(snapshot, "orders-2") is Verdict.NOT_CONNECTED  # no log, no connection
    finally:
        await loop.close()


async def test_slow_consumer_closed_by_the_server(cluster: Cluster, app_pods: list[AppPod]) -> None:
    host, port = cluster.servers[0].host, cluster.servers[0].port
    pods = [expected_pod("orders-slow", pod_ip(7))]
    loop = make_loop(cluster, lambda: pods)
    publisher = await nats.connect(cluster.url(0), error_cb=_quiet)
    slow = RawClient(pod_ip(7), host, port, name="orders-slow", small_buffer=True)
    try:
        slow.send(b"SUB flood 1\r\nPING\r\n")
        slow.wait_pong()
        first = await poll_until(loop, lambda s: s.pods[0].verdict is Verdict.CONNECTED, "the slow pod connected")
        assert first.view.closed_visible  # a named account: closed connections are listed through the NATS port
        payload = b"x" * 8000

        async def flood_until_closed() -> bool:
            for _ in range(200):
                await publisher.publish("flood", payload)
            await publisher.flush(timeout=5)
            snapshot = await loop.poll()
            return any(c.reason is CloseReason.SLOW_CONSUMER for c in snapshot.view.closed())

        await wait_for(flood_until_closed, timeout=30, message="the server to close the slow consumer")
        snapshot = loop.board.snapshot
        assert snapshot is not None
        assert verdict_of(snapshot, "orders-slow") is Verdict.SLOW_CONSUMER
        assert loop.board.tracker.closes[(NAMESPACE, APP)][CloseReason.SLOW_CONSUMER] == 1
        samples = scrape(loop.board)
        labels = {"namespace": NAMESPACE, "app": APP}
        assert value(samples, "nats_connectivity_app_connection_closes_total", **labels, reason="slow_consumer") == 1
        for reason in CloseReason:  # every reason exists, at 0 when nothing happened
            assert (
                value(samples, "nats_connectivity_app_connection_closes_total", **labels, reason=reason.value)
                is not None
            )
    finally:
        slow.close()
        await publisher.close()
        await loop.close()


async def test_a_pod_on_a_reused_ip_is_not_given_the_old_connection(cluster: Cluster, app_pods: list[AppPod]) -> None:
    app_pods.append(await start_app_pod(cluster, "orders-old-worker", pod_ip(3)))
    await asyncio.sleep(0.01)  # the new pod's start is strictly later than the old connection's (clock resolution)
    new_pod = expected_pod("orders-new", pod_ip(3), started_ago=0.0)
    loop = make_loop(cluster, lambda: [new_pod], grace=0.001)
    try:
        snapshot = await poll_until(loop, lambda s: bool(s.unmatched), "the old connection listed")
        assert verdict_of(snapshot, "orders-new") is Verdict.NOT_CONNECTED
        [old] = [u for u in snapshot.unmatched if u.connection.ip == pod_ip(3)]
        assert old.kind is UnmatchedKind.BEFORE_POD_START
        samples = scrape(loop.board)
        assert value(samples, "nats_connectivity_unmatched_connections", server="nats-0", kind="before_pod_start") == 1
    finally:
        await loop.close()


async def test_a_server_down_is_said_and_its_pods_are_not_called_not_connected(
    cluster: Cluster, app_pods: list[AppPod]
) -> None:
    for index in range(3):
        app_pods.append(await start_app_pod(cluster, f"orders-{index}", pod_ip(index), server=index))
    pods = [expected_pod(f"orders-{i}", pod_ip(i)) for i in range(3)]
    loop = make_loop(cluster, lambda: pods)
    try:
        await poll_until(loop, lambda s: s.view.answered == 3, "three servers answered")
        await cluster.servers[2].stop()
        snapshot = await poll_until(loop, lambda s: s.view.answered == 2, "two servers answered")
        assert (snapshot.view.answered, snapshot.view.expected_servers, snapshot.view.complete) == (2, 3, False)
        assert verdict_of(snapshot, "orders-2") is Verdict.UNKNOWN
        assert "2 of 3" in next(r.detail for r in snapshot.pods if r.pod.name == "orders-2")
        assert verdict_of(snapshot, "orders-0") is Verdict.CONNECTED
        samples = scrape(loop.board)
        assert value(samples, "nats_connectivity_server_view_servers", target="default") == 2
        assert value(samples, "nats_connectivity_server_view_servers_expected", target="default") == 3
        labels = {"namespace": NAMESPACE, "app": APP}
        assert value(samples, "nats_connectivity_app_pod_verdicts", **labels, verdict="not_connected") == 0
        assert value(samples, "nats_connectivity_app_pod_verdicts", **labels, verdict="unknown") == 1
    finally:
        await loop.close()


async def test_accounts_each_see_their_own_the_system_sees_all(cluster: Cluster, app_pods: list[AppPod]) -> None:
    app_pods.append(await start_app_pod(cluster, "orders-0", pod_ip(0)))
    app_pods.append(await start_app_pod(cluster, "billing-0", pod_ip(1), user="other", server=1))
    pods = [expected_pod("orders-0", pod_ip(0)), expected_pod("billing-0", pod_ip(1), app="billing")]
    account = make_loop(cluster, lambda: pods)
    system = make_loop(cluster, lambda: pods, user="sys", source=Source.SYSTEM)
    try:
        seen = await poll_until(account, lambda s: s.pods[0].verdict is Verdict.CONNECTED, "orders-0 via account")
        assert verdict_of(seen, "billing-0") is Verdict.NOT_CONNECTED  # another account: invisible to APP
        everything = await poll_until(
            system, lambda s: all(r.verdict is Verdict.CONNECTED for r in s.pods), "both via the system account"
        )
        assert everything.view.closed_visible
    finally:
        await account.close()
        await system.close()


async def test_monitor_source_and_close_reasons(cluster: Cluster, app_pods: list[AppPod]) -> None:
    for index in range(3):
        app_pods.append(await start_app_pod(cluster, f"orders-{index}", pod_ip(index), server=index))
    pods = [expected_pod(f"orders-{i}", pod_ip(i)) for i in range(3)]
    loop = make_loop(cluster, lambda: pods, source=Source.MONITOR)
    try:
        snapshot = await poll_until(
            loop, lambda s: all(r.verdict is Verdict.CONNECTED for r in s.pods), "every pod via /connz"
        )
        assert snapshot.view.source is Source.MONITOR
        assert {s.name for s in snapshot.view.servers} == {"nats-0", "nats-1", "nats-2"}
        await app_pods[1].close()
        await poll_until(
            loop,
            lambda s: loop.board.tracker.closes[(NAMESPACE, APP)][CloseReason.CLIENT_CLOSED] == 1,
            "the close counted as client_closed",
        )
    finally:
        await loop.close()


@pytest.mark.slow
async def test_2500_connections_are_paged(cluster: Cluster) -> None:
    host, port = cluster.servers[1].host, cluster.servers[1].port
    count = 2500
    clients: list[RawClient] = []
    pods = [expected_pod(f"web-{i}", pod_ip(i), app="web") for i in range(count)]
    loop = make_loop(cluster, lambda: pods, page_size=1000, timeout=20.0)
    try:
        for index in range(count):
            client = RawClient(pod_ip(index), host, port, name="")  # no name: joined by address
            client.send(b"SUB work 1\r\nPING\r\n")
            clients.append(client)
        for client in clients:
            client.wait_pong()
        snapshot = await poll_until(
            loop,
            lambda s: sum(r.verdict is Verdict.CONNECTED for r in s.pods) == count,
            "all 2500 pods connected",
            timeout=60,
        )
        assert snapshot.view.complete
        [server] = [s for s in snapshot.view.servers if s.name == "nats-1"]
        assert server.total >= count
        assert len(server.connections) >= count
    finally:
        for client in clients:
            client.close()
        await loop.close()


async def _quiet(error: Exception) -> None:
    pass


async def test_the_global_account_shows_no_closed_connections_and_says_so(
    cluster: Cluster, app_pods: list[AppPod]
) -> None:
    app_pods.append(await start_app_pod(cluster, "orders-0", pod_ip(0), user="plain"))
    pods = [expected_pod("orders-0", pod_ip(0))]
    loop = make_loop(cluster, lambda: pods, user="plain")
    try:
        snapshot = await poll_until(loop, lambda s: s.pods[0].verdict is Verdict.CONNECTED, "orders-0 in $G")
        assert not snapshot.view.closed_visible  # $G: the servers list no closed connections through the NATS port
    finally:
        await loop.close()


async def test_a_nats_restart_is_measured_as_each_pods_reconnect_gap(cluster: Cluster, app_pods: list[AppPod]) -> None:
    app_pods.append(await start_app_pod(cluster, "orders-0", pod_ip(0), server=2, reconnect=True))
    app_pods.append(await start_app_pod(cluster, "orders-1", pod_ip(1), server=0))
    pods = [expected_pod("orders-0", pod_ip(0)), expected_pod("orders-1", pod_ip(1))]
    loop = make_loop(cluster, lambda: pods)
    try:
        await poll_until(loop, lambda s: s.pods[0].servers == ("nats-2",), "orders-0 on nats-2")
        await cluster.servers[2].stop()
        down_at = time.time()
        await asyncio.sleep(1.0)  # the outage the pod lives through
        await cluster.servers[2].start()
        up_at = time.time()
        await poll_until(
            loop, lambda s: loop.board.tracker.reconnects[(NAMESPACE, APP)].count == 1, "the reconnect measured"
        )
        worst = loop.board.tracker.worst((NAMESPACE, APP))
        assert worst is not None
        assert worst.pod == "orders-0"  # orders-1 on nats-0 never lost its connection
        assert worst.seconds >= up_at - down_at - 0.5  # at least the outage (clock granularity aside)
        samples = scrape(loop.board)
        assert value(samples, "nats_connectivity_app_reconnect_seconds_count", namespace=NAMESPACE, app=APP) == 1
    finally:
        await loop.close()


async def test_the_first_poll_knows_the_cluster_size_from_the_app(cluster: Cluster, app_pods: list[AppPod]) -> None:
    app_pods.append(await start_app_pod(cluster, "orders-0", pod_ip(0), server=0))
    await cluster.servers[2].stop()
    pods = [expected_pod("orders-0", pod_ip(0)), expected_pod("orders-2", pod_ip(2))]
    loop = make_loop(cluster, lambda: pods, expected_servers=lambda: 3)
    try:
        snapshot = await loop.poll()  # no memory of nats-2 yet: the endpoints' count says three
        assert (snapshot.view.answered, snapshot.view.expected_servers) == (2, 3)
        assert verdict_of(snapshot, "orders-2") is Verdict.UNKNOWN
    finally:
        await loop.close()
