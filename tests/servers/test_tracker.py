"""What accumulates across polls: closes counted once (history before start-up not at all), reconnect gaps dated."""

from __future__ import annotations

from collections.abc import Sequence

from exporter.config.server_view import Source
from exporter.servers.join import join
from exporter.servers.model import CloseReason, Connection, ExpectedPod, LogEntry, ServerConnz, ServerView
from exporter.servers.tracker import RECONNECT_BUCKETS, Tracker

POD = ExpectedPod("shop", "orders-0", "orders", "10.0.0.1", 100.0)
APPS = {POD.key: ("shop", "orders")}


def conn(
    server_id: str, cid: int, start: float, *, stop: float | None = None, reason: CloseReason | None = None
) -> Connection:
    return Connection(
        "nats-" + server_id, server_id, cid, "10.0.0.1", cid, start, subscriptions=1, stop=stop, reason=reason
    )


def poll(
    tracker: Tracker, at: float, open_: list[Connection], closed: Sequence[Connection] = (), log: LogEntry | None = None
) -> None:
    by_server: dict[str, tuple[list[Connection], list[Connection]]] = {"S1": ([], []), "S2": ([], [])}
    for c in open_:
        by_server[c.server_id][0].append(c)
    for c in closed:
        by_server[c.server_id][1].append(c)
    servers = tuple(ServerConnz("nats-" + sid, sid, tuple(o), tuple(cl)) for sid, (o, cl) in by_server.items())
    view = ServerView(Source.MONITOR, at, servers, 2, True)
    tracker.update(view, join([POD], view.connections(), view.closed()), APPS, {POD.key: log} if log else {})


def test_closes_from_before_start_up_are_history_new_ones_count_once() -> None:
    tracker = Tracker()
    old = conn("S1", 1, 150.0, stop=160.0, reason=CloseReason.CLIENT_CLOSED)
    poll(tracker, 1000.0, [], [old])
    assert tracker.closes[("shop", "orders")] == dict.fromkeys(CloseReason, 0)  # known, all at 0
    slow = conn("S1", 2, 900.0, stop=1010.0, reason=CloseReason.SLOW_CONSUMER)
    poll(tracker, 1030.0, [], [slow, old])
    poll(tracker, 1060.0, [], [slow, old])
    assert tracker.closes[("shop", "orders")][CloseReason.SLOW_CONSUMER] == 1
    assert tracker.closes[("shop", "orders")][CloseReason.CLIENT_CLOSED] == 0
    assert tracker.slow_closed_at[POD.key] == 1010.0


def test_gap_dated_by_the_old_connections_stop() -> None:
    tracker = Tracker()
    poll(tracker, 1000.0, [conn("S1", 5, 900.0)])
    poll(
        tracker,
        1030.0,
        [conn("S2", 7, 1012.0)],
        [conn("S1", 5, 900.0, stop=1010.0, reason=CloseReason.SERVER_SHUTDOWN)],
    )
    histogram = tracker.reconnects[("shop", "orders")]
    assert (histogram.count, histogram.total) == (1, 2.0)
    assert histogram.buckets[RECONNECT_BUCKETS.index(2.5)] == 1
    assert histogram.buckets[RECONNECT_BUCKETS.index(1.0)] == 0
    worst = tracker.worst(("shop", "orders"))
    assert worst is not None
    assert (worst.pod, worst.seconds, worst.bounded) == ("orders-0", 2.0, False)


def test_gap_dated_by_the_log_else_an_upper_bound() -> None:
    by_log = Tracker()
    poll(by_log, 1000.0, [conn("S1", 5, 900.0)])
    poll(by_log, 1030.0, [conn("S2", 7, 1012.0)], log=LogEntry("connected", 1012.5, disconnected_at=1011.0))
    assert by_log.worst(("shop", "orders")).seconds == 1.0  # type: ignore[union-attr]
    bound = Tracker()
    poll(bound, 1000.0, [conn("S1", 5, 900.0)])
    poll(bound, 1030.0, [conn("S2", 7, 1012.0)])
    worst = bound.worst(("shop", "orders"))
    assert worst is not None
    assert (worst.seconds, worst.bounded) == (12.0, True)


def test_no_gap_while_a_connection_carries_on_or_was_merely_unseen() -> None:
    tracker = Tracker()
    poll(tracker, 1000.0, [conn("S1", 5, 900.0), conn("S2", 6, 900.0)])
    poll(tracker, 1030.0, [conn("S2", 6, 900.0), conn("S2", 8, 1020.0)])  # S1's went, S2's stayed
    poll(tracker, 1060.0, [conn("S1", 9, 950.0)])  # older than the last poll: it was there, unseen
    assert tracker.reconnects[("shop", "orders")].count == 0


def test_expected_servers_remembers_who_answered() -> None:
    tracker = Tracker()
    poll(tracker, 1000.0, [])
    assert tracker.expected_servers(1010.0) == 2
    assert tracker.expected_servers(1010.0, configured=3) == 3
    assert tracker.expected_servers(5000.0) == 0  # forgotten after ten minutes
