"""Every route, proven by a message: a stopped server and one cut route fail exactly their own pairs."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.cluster.result import RouteResult
from exporter.cluster.routes import select_pairs
from exporter.cluster.runner import ClusterBoard
from exporter.config import Credentials, Secret
from exporter.config.cluster import ClusterSettings, RouteAccount
from tests.cluster.conftest import (
    APP_PASSWORD,
    APP_USER,
    Cluster,
    close_cluster,
    probe_once,
    scrape,
    start_cluster,
)
from tests.conftest import value, wait_for

ROUTES_ONLY = ClusterSettings(enabled=True, monitor_port=0)
PAIRS = {(a, b) for a, b in itertools.permutations(("n1", "n2", "n3"), 2)}


def route_success(board: ClusterBoard) -> dict[tuple[str, str], float | None]:
    samples = scrape(board)
    return {
        (a, b): value(samples, "nats_connectivity_route_probe_success", target="default", from_server=a, to_server=b)
        for a, b in PAIRS
    }


@pytest.mark.slow
async def test_every_route_carries_messages_in_every_account() -> None:
    cluster = await start_cluster(3, jetstream=False)
    try:
        app = RouteAccount("APP", Credentials(user=APP_USER, password=Secret(APP_PASSWORD)))
        settings = ClusterSettings(enabled=True, monitor_port=0, accounts=(app,))
        board = ClusterBoard()
        result = await probe_once(board, cluster, settings)
    finally:
        await close_cluster(cluster)

    assert {(p.from_server, p.to_server, p.account) for p in result.routes} == {
        (a, b, account) for a, b in PAIRS for account in ("default", "APP")
    }
    assert all(probe.ok for probe in result.routes), [(p.from_server, p.to_server, p.detail) for p in result.routes]
    assert all(probe.delivery_seconds is not None and probe.delivery_seconds > 0 for probe in result.routes)
    samples = scrape(board)
    assert route_success(board) == dict.fromkeys(PAIRS, 1.0)
    assert value(samples, "nats_connectivity_route_probes_total", target="default", result="success") == 12
    assert value(samples, "nats_connectivity_route_probes_total", target="default", result="no_interest") == 0
    assert (
        value(
            samples,
            "nats_connectivity_route_account_probe_success",
            target="default",
            account="APP",
            from_server="n3",
            to_server="n1",
        )
        == 1
    )
    seconds = value(
        samples, "nats_connectivity_route_probe_seconds", target="default", from_server="n1", to_server="n2"
    )
    assert seconds is not None
    assert seconds > 0


@pytest.mark.slow
async def test_a_stopped_server_fails_its_own_probe_and_its_routes_only() -> None:
    cluster = await start_cluster(3, jetstream=False)
    board = ClusterBoard()
    try:
        first = await probe_once(board, cluster, ROUTES_ONLY)
        assert all(probe.ok for probe in first.routes)
        await cluster.stop(2)
        result = await probe_once(board, cluster, ROUTES_ONLY)
    finally:
        await close_cluster(cluster)

    samples = scrape(board)
    assert [
        value(samples, "nats_connectivity_server_probe_success", target="default", server=name)
        for name in ("n1", "n2", "n3")
    ] == [1, 1, 0]
    expected = {pair: (0.0 if "n3" in pair else 1.0) for pair in PAIRS}
    assert route_success(board) == expected
    assert {p.result for p in result.routes if "n3" in (p.from_server, p.to_server)} == {RouteResult.SERVER_UNREACHABLE}
    assert value(samples, "nats_connectivity_route_probes_total", target="default", result="server_unreachable") == 4


@pytest.mark.slow
async def test_a_cut_route_fails_exactly_that_pair_while_both_servers_serve_clients() -> None:
    cluster = await start_cluster(3, jetstream=False, relayed_pair=(0, 1))
    board = ClusterBoard()
    try:
        await wait_for(
            lambda: _all_ok(board, cluster), timeout=10, message="every route to carry messages before the cut"
        )
        for relay in cluster.relays:
            await relay.cut()
        target = cluster.target(timeout=1.5)
        result = await probe_once(board, cluster, ROUTES_ONLY, target=target)
    finally:
        await close_cluster(cluster)

    assert all(server.ok for server in result.servers), "both ends of the cut route still serve clients"
    failed = {(p.from_server, p.to_server) for p in result.routes if not p.ok}
    assert failed == {("n1", "n2"), ("n2", "n1")}
    assert {p.result for p in result.routes if not p.ok} == {RouteResult.NO_INTEREST}
    assert route_success(board) == {pair: (0.0 if set(pair) == {"n1", "n2"} else 1.0) for pair in PAIRS}


async def _all_ok(board: ClusterBoard, cluster: Cluster) -> bool:
    result = await probe_once(board, cluster, ROUTES_ONLY)
    return all(probe.ok for probe in result.routes)


@given(st.integers(min_value=2, max_value=9), st.integers(min_value=1, max_value=80), st.integers(0, 1000))
def test_sampled_pairs_cover_every_pair_within_ceil_pairs_over_max_intervals(
    n: int, max_pairs: int, start: int
) -> None:
    names = [f"s{index}" for index in range(n)]
    total = n * (n - 1)
    rounds = -(-total // max_pairs)
    seen: set[tuple[str, str]] = set()
    for index in range(start, start + rounds):
        chosen = select_pairs(names, max_pairs, index)
        assert len(chosen) == min(total, max_pairs)
        assert len(set(chosen)) == len(chosen)
        seen.update(chosen)
    assert seen == set(itertools.permutations(names, 2))
