"""The status page's servers' view and cluster sections and `check`'s sections for them, from values (no servers
needed): what a partial view says, the `$G` caveat, which pods are listed, the route matrix's colours and reasons."""

from __future__ import annotations

from exporter.cluster.result import (
    ClusterResult,
    HealthzMode,
    JetStreamPhase,
    JetStreamReason,
    JetStreamResult,
    RouteProbe,
    RouteResult,
    ServerResult,
)
from exporter.cluster.runner import ClusterBoard
from exporter.config.server_view import Source
from exporter.probe.result import ProbeResult, Reason
from exporter.probe.status import StatusBoard
from exporter.servers.board import ServerViewBoard, Snapshot
from exporter.servers.model import Connection, ExpectedPod, ServerConnz, ServerView, Verdict
from exporter.servers.verdicts import PodVerdict
from exporter.web.check_sections import cluster_section, render_server_view
from exporter.web.page import render

NOW = 1_795_000_000.0


def pod(name: str, ip: str) -> ExpectedPod:
    return ExpectedPod(namespace="shop", name=name, app="orders", ip=ip, start_time=NOW - 600)


def board(*, answered: int, expected: int, closed_visible: bool) -> ServerViewBoard:
    servers = tuple(ServerConnz(name=f"nats-{i}", server_id=f"ID{i}", connections=(), total=0) for i in range(answered))
    connection = Connection(server="nats-0", server_id="ID0", cid=7, ip="10.0.0.1", port=40000, start=NOW - 60)
    view = ServerView(Source.ACCOUNT, NOW - 1, servers, expected_servers=expected, closed_visible=closed_visible)
    results = (
        PodVerdict(pod("orders-0", "10.0.0.1"), Verdict.CONNECTED, "", (connection,)),
        PodVerdict(pod("orders-1", "10.0.0.2"), Verdict.UNKNOWN, "2 of 3 servers answered"),
        PodVerdict(pod("orders-2", "10.0.0.3"), Verdict.NO_SUBSCRIPTIONS, "connected, subscribed to nothing"),
        PodVerdict(pod("orders-3", "10.0.0.4"), None, "not ready"),
    )
    target = ServerViewBoard("main")
    target.snapshot = Snapshot("main", view, results, (), 0.0)
    return target


def page(view: ServerViewBoard | None) -> str:
    return render(StatusBoard(), version="test", now=NOW, server_view=view)


def test_a_partial_view_says_how_many_servers_answered_and_lists_the_pods_to_look_at() -> None:
    html = page(board(answered=2, expected=3, closed_visible=True))
    section = html[html.index("Applications as the NATS servers see them") :]
    assert "partial view: 2 of 3 servers answered" in section
    assert "shop/orders-1" in section  # unknown
    assert "shop/orders-2" in section  # no_subscriptions, with its detail
    assert "connected, subscribed to nothing" in section
    assert "shop/orders-0" not in section  # connected
    assert "shop/orders-3" not in section  # not expected (not ready)
    assert "$G" not in section


def test_the_global_account_caveat_when_close_reasons_are_not_visible() -> None:
    html = page(board(answered=3, expected=3, closed_visible=False))
    assert "3 server(s) answered" in html
    assert "<code>$G</code>" in html


def test_no_section_without_the_servers_view() -> None:
    assert "Applications as the NATS servers see them" not in page(None)


def test_check_section_from_the_same_board() -> None:
    section = render_server_view(board(answered=2, expected=3, closed_visible=False), "title")
    assert section.ok is False
    assert section.lines[0] == "partial view: 2 of 3 servers answered"
    assert any("$G" in line for line in section.lines)
    assert "app shop/orders: 1 of 3 pods connected (1 connected, 1 no_subscriptions, 1 unknown)" in section.lines
    assert [p["pod"] for p in section.document["not_connected"]] == ["orders-1", "orders-2"]


# --- the cluster: values as one interval would leave them ----------------------------------------------------------


def cluster_board() -> ClusterBoard:
    def server(name: str, host: str, *, up: bool = True) -> ServerResult:
        reason = None if up else Reason.CONNECTION_REFUSED
        probe = ProbeResult(target="main", started_at=NOW, duration=0.01, reason=reason, detail="" if up else "refused")
        healthz = {HealthzMode.FULL: up, HealthzMode.JS_ENABLED_ONLY: up} if up else {}
        return ServerResult(f"{host}:4222", name, f"ID-{name}", probe, verified=up, ready=True, healthz=healthz)

    servers = (server("n1", "10.0.0.11"), server("n2", "10.0.0.12"), server("n3", "10.0.0.13", up=False))
    routes = (
        RouteProbe("n1", "n2", "default", RouteResult.SUCCESS, 0.001, 0.002),
        RouteProbe("n2", "n1", "default", RouteResult.TIMEOUT, detail="published, never delivered"),
        RouteProbe("n1", "n3", "default", RouteResult.SERVER_UNREACHABLE),
    )
    jetstream = JetStreamResult(
        "main", NOW, reason=JetStreamReason.QUORUM_LOST, failed_phase=JetStreamPhase.STREAM_INFO, detail="10008"
    )
    board = ClusterBoard()
    board.record(ClusterResult("main", NOW - 2, 0.5, servers, routes, pairs_total=6, jetstream=jetstream))
    return board


def test_cluster_card_colours_each_route_and_says_why() -> None:
    html = render(StatusBoard(), version="test", now=NOW, cluster=cluster_board())
    card = html[html.index('id="cluster-main"') :]
    assert "degraded" in card
    assert 'background:#dcf5e3;color:#146c2e" class="secs">2.0 ms</td>' in card  # n1 -> n2 delivered
    assert 'title="default: timeout published, never delivered">timeout</td>' in card  # n2 -> n1
    assert ">server_unreachable</td>" in card  # n1 -> n3
    assert 'title="not probed yet">?</td>' in card  # sampled pairs not probed yet
    assert "connection_refused refused" in card  # n3 down, with its reason
    assert '<span class="badge down">quorum_lost</span> at stream_info' in card


def test_no_cluster_section_before_a_first_interval() -> None:
    assert "<h2>Cluster</h2>" not in render(StatusBoard(), version="test", now=NOW, cluster=ClusterBoard(["main"]))


def test_check_cluster_section_from_the_same_result() -> None:
    state = cluster_board().get("main")
    assert state is not None
    assert state.latest is not None
    section = cluster_section(state.latest)
    assert section.ok is False
    assert "server n3 (10.0.0.13:4222): down: connection_refused refused · ready" in section.lines
    assert "route n2 -> n1: timeout · published, never delivered" in section.lines
    assert "(3 of 6 route pairs probed in this round)" in section.lines
    assert "JetStream: failed at stream_info: quorum_lost 10008" in section.lines
    assert section.document["jetstream"]["reason"] == "quorum_lost"
