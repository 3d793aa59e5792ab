"""Verdicts from one poll: each meaning, the grace period, and partial views never called not_connected."""

from __future__ import annotations

from exporter.config.server_view import Source, VerdictRules
from exporter.servers.model import Connection, ExpectedPod, LogEntry, ServerConnz, ServerView, Verdict
from exporter.servers.verdicts import verdict_for

NOW = 10_000.0
RULES = VerdictRules(
    grace=30.0, slow_consumer_bytes=1000, slow_consumer_window=300.0, publish_only=frozenset({"ingest"})
)


def view(answered: int = 3, expected: int = 3) -> ServerView:
    servers = tuple(ServerConnz(f"nats-{i}", f"S{i}", ()) for i in range(answered))
    return ServerView(Source.ACCOUNT, NOW, servers, expected, True)


def pod(app: str = "orders", started_ago: float = 600.0, ready: bool = True) -> ExpectedPod:
    return ExpectedPod("shop", "orders-0", app, "10.0.0.1", NOW - started_ago, ready=ready)


def conn(subscriptions: int = 1, pending: int = 0) -> Connection:
    return Connection("nats-0", "S0", 1, "10.0.0.1", 1, NOW - 10, subscriptions=subscriptions, pending_bytes=pending)


def test_each_verdict() -> None:
    v = view()
    assert verdict_for(pod(), [conn()], v, None, None, RULES).verdict is Verdict.CONNECTED
    assert verdict_for(pod(), [conn(pending=5000)], v, None, None, RULES).verdict is Verdict.SLOW_CONSUMER
    assert verdict_for(pod(), [conn()], v, None, NOW - 60, RULES).verdict is Verdict.SLOW_CONSUMER
    assert verdict_for(pod(), [conn()], v, None, NOW - 600, RULES).verdict is Verdict.CONNECTED  # not recent
    assert verdict_for(pod(), [], v, None, NOW - 60, RULES).verdict is Verdict.SLOW_CONSUMER  # why it is gone
    assert verdict_for(pod(), [conn(subscriptions=0)], v, None, None, RULES).verdict is Verdict.NO_SUBSCRIPTIONS
    assert verdict_for(pod("ingest"), [conn(subscriptions=0)], v, None, None, RULES).verdict is Verdict.CONNECTED
    assert verdict_for(pod(), [], v, None, None, RULES).verdict is Verdict.NOT_CONNECTED
    log = LogEntry("connected", at=NOW - 100)
    assert verdict_for(pod(), [], v, log, None, RULES).verdict is Verdict.HALF_OPEN
    assert verdict_for(pod(), [], v, LogEntry("disconnected", NOW - 5), None, RULES).verdict is Verdict.NOT_CONNECTED


def test_grace_and_readiness() -> None:
    assert verdict_for(pod(started_ago=10), [], view(), None, None, RULES).verdict is Verdict.UNKNOWN
    late_ready = ExpectedPod("shop", "p", "orders", "10.0.0.1", NOW - 600, ready=True, ready_since=NOW - 5)
    assert verdict_for(late_ready, [], view(), None, None, RULES).verdict is Verdict.UNKNOWN
    assert verdict_for(pod(ready=False), [], view(), None, None, RULES).verdict is None


def test_a_partial_view_never_says_not_connected_or_half_open() -> None:
    partial = view(answered=2, expected=3)
    result = verdict_for(pod(), [], partial, LogEntry("connected", NOW - 100), None, RULES)
    assert result.verdict is Verdict.UNKNOWN
    assert "2 of 3" in result.detail
    failed = ServerView(Source.ACCOUNT, NOW, (), 3, True)
    assert verdict_for(pod(), [], failed, None, None, RULES).verdict is Verdict.UNKNOWN
    assert verdict_for(pod(), [conn()], partial, None, None, RULES).verdict is Verdict.CONNECTED  # seen is seen


def test_a_log_event_newer_than_the_poll_waits_for_the_next() -> None:
    result = verdict_for(pod(), [], view(), LogEntry("connected", NOW + 1), None, RULES)
    assert result.verdict is Verdict.UNKNOWN
