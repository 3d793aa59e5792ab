"""The servers' view's metric families, declared once, and the collector that builds them from the board.

Low cardinality: no `pod` label unless `--logs.per-pod` (then on the per-pod gauges: verdicts, connections,
subscriptions, pending bytes, clients). `app_connection_closes_total` exists at 0 for every reason as soon as an app
is known; `unmatched_connections` at 0 for every kind on every server that answered; `app_pod_verdicts` at 0 for every
verdict. `app_clients` counts connections by client library and version.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from exporter.runtime.families import CounterSpec, GaugeSpec, HistogramSpec
from exporter.servers.board import ServerViewBoard
from exporter.servers.model import CloseReason, UnmatchedKind, Verdict
from exporter.servers.tracker import RECONNECT_BUCKETS
from exporter.servers.verdicts import PodVerdict

APP = ("namespace", "app")


APP_PODS_EXPECTED = GaugeSpec("app_pods_expected", "Application pods running and ready: expected to be connected.", APP)
APP_PODS_CONNECTED = GaugeSpec(
    "app_pods_connected", "Expected pods with at least one connection a NATS server lists, whatever their verdict.", APP
)
APP_POD_VERDICTS = GaugeSpec(
    "app_pod_verdicts",
    "Expected pods by verdict: connected, not_connected, half_open, no_subscriptions, slow_consumer, unknown.",
    (*APP, "verdict"),
)
APP_CONNECTIONS = GaugeSpec(
    "app_connections", "The app's open connections on each NATS server (imbalance after a rollout).", (*APP, "server")
)
APP_SUBSCRIPTIONS = GaugeSpec("app_subscriptions", "Subscriptions summed over the app's connections.", APP)
APP_PENDING_BYTES_MAX = GaugeSpec(
    "app_pending_bytes_max", "The largest pending bytes of any of the app's connections (slow consumers).", APP
)
APP_CLIENTS = GaugeSpec(
    "app_clients", "The app's open connections by client library and version.", (*APP, "lang", "version")
)
APP_CONNECTION_CLOSES = CounterSpec(
    "app_connection_closes",
    "Connections of the app a NATS server closed, by reason (a fixed set; see the README).",
    (*APP, "reason"),
)
APP_RECONNECT_SECONDS = HistogramSpec(
    "app_reconnect_seconds",
    "How long the app's pods were without a connection before connecting again (NATS restarts, rollouts).",
    APP,
    RECONNECT_BUCKETS,
)
UNMATCHED_CONNECTIONS = GaugeSpec(
    "unmatched_connections",
    "Open connections no application pod owns, by why: unknown_address, host_network, shared_address, ...",
    ("server", "kind"),
)
SERVER_VIEW_SUCCESS = GaugeSpec(
    "server_view_success", "1 if the last poll of the servers' connections got an answer.", ("target",)
)
SERVER_VIEW_SERVERS = GaugeSpec(
    "server_view_servers", "NATS servers that answered the last poll of their connections.", ("target",)
)
SERVER_VIEW_SERVERS_EXPECTED = GaugeSpec(
    "server_view_servers_expected",
    "NATS servers expected to answer (configured, else those that answered in the last 10 minutes).",
    ("target",),
)
FAMILIES = (
    APP_PODS_EXPECTED,
    APP_PODS_CONNECTED,
    APP_POD_VERDICTS,
    APP_CONNECTIONS,
    APP_SUBSCRIPTIONS,
    APP_PENDING_BYTES_MAX,
    APP_CLIENTS,
    APP_CONNECTION_CLOSES,
    APP_RECONNECT_SECONDS,
    UNMATCHED_CONNECTIONS,
    SERVER_VIEW_SUCCESS,
    SERVER_VIEW_SERVERS,
    SERVER_VIEW_SERVERS_EXPECTED,
)


class ServerViewCollector(Collector):
    """Builds every family of the servers' view from the board at scrape time."""

    def __init__(self, board: ServerViewBoard) -> None:
        self._board = board

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily]:
        board = self._board
        snapshot = board.snapshot
        extra = ("pod",) if board.per_pod else ()
        expected = APP_PODS_EXPECTED.family()
        connected = APP_PODS_CONNECTED.family()
        verdict_family = APP_POD_VERDICTS.family(extra)
        connections = APP_CONNECTIONS.family(extra)
        subscriptions = APP_SUBSCRIPTIONS.family(extra)
        pending = APP_PENDING_BYTES_MAX.family(extra)
        clients = APP_CLIENTS.family(extra)
        unmatched = UNMATCHED_CONNECTIONS.family()
        if snapshot is not None:
            servers = sorted({s.name for s in snapshot.view.servers})
            apps: dict[tuple[str, str], list[PodVerdict]] = {}
            for result in snapshot.pods:
                apps.setdefault((result.pod.namespace, result.pod.app), []).append(result)
            for (namespace, app), results in sorted(apps.items()):
                ready = [r for r in results if r.verdict is not None]
                expected.add_metric([namespace, app], len(ready))
                connected.add_metric([namespace, app], sum(1 for r in ready if r.connections))
                groups = (
                    [([namespace, app, r.pod.name], [r]) for r in results] if extra else [([namespace, app], results)]
                )
                for labels, group in groups:
                    counts = Counter(r.verdict for r in group if r.verdict is not None)
                    for verdict in Verdict:
                        verdict_family.add_metric([*labels, verdict.value], counts[verdict])
                    per_server = Counter(c.server for r in group for c in r.connections)
                    for server in servers:
                        connections.add_metric([*labels, server], per_server[server])
                    subscriptions.add_metric(labels, sum(r.subscriptions for r in group))
                    pending.add_metric(labels, max((r.pending_bytes_max for r in group), default=0))
                    versions = Counter(client_labels(c.lang, c.version) for r in group for c in r.connections)
                    for (lang, version), number in sorted(versions.items()):
                        clients.add_metric([*labels, lang, version], number)
            kinds = Counter((u.connection.server, u.kind) for u in snapshot.unmatched)
            for server in servers:
                for kind in UnmatchedKind:
                    unmatched.add_metric([server, kind.value], kinds[(server, kind)])
        yield from (expected, connected, verdict_family, connections, subscriptions, pending, clients, unmatched)
        yield from self._accumulated()
        yield from self._health()

    def _accumulated(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        tracker = self._board.tracker
        closes = APP_CONNECTION_CLOSES.family()
        for (namespace, app), reasons in sorted(tracker.closes.items()):
            for reason in CloseReason:
                closes.add_metric([namespace, app, reason.value], reasons.get(reason, 0))
        reconnects = APP_RECONNECT_SECONDS.family()
        for (namespace, app), histogram in sorted(tracker.reconnects.items()):
            buckets = [(_bound(b), float(n)) for b, n in zip(RECONNECT_BUCKETS, histogram.buckets, strict=True)]
            buckets.append(("+Inf", float(histogram.count)))
            reconnects.add_metric([namespace, app], buckets, histogram.total)
        yield closes
        yield reconnects

    def _health(self) -> Iterator[GaugeMetricFamily]:
        board = self._board
        success = SERVER_VIEW_SUCCESS.family()
        servers = SERVER_VIEW_SERVERS.family()
        expected = SERVER_VIEW_SERVERS_EXPECTED.family()
        if board.snapshot is not None:
            view = board.snapshot.view
            success.add_metric([board.target], 1.0 if view.ok else 0.0)
            servers.add_metric([board.target], view.answered)
            expected.add_metric([board.target], view.expected_servers)
        yield from (success, servers, expected)


# The `lang` values NATS client libraries send in CONNECT; anything else is "other". Clients choose these strings,
# so they are bounded before they become label values, and versions are cut to major.minor.
KNOWN_LANGS = frozenset(
    {"go", "python3", "python", "java", "node", "nodejs", "deno", "bun", "rust", "c", ".net", "dotnet", "c#", "ruby",
     "elixir", "erlang", "swift", "kotlin", "zig", "php", "nats.ws", "nats.js", "websocket"}
)  # fmt: skip
_MAJOR_MINOR = re.compile(r"v?(\d{1,4})\.(\d{1,4})")


def client_labels(lang: str, version: str) -> tuple[str, str]:
    """Bounded (lang, version) labels from what a client says of itself."""
    name = lang.strip().lower()
    match = _MAJOR_MINOR.match(version.strip())
    return (name if name in KNOWN_LANGS else "other", f"{match.group(1)}.{match.group(2)}" if match else "unknown")


def _bound(value: float) -> str:
    return repr(float(value))
