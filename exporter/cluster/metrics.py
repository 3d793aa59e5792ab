"""The cluster data path's metric families, declared once, and the collector that builds them from `ClusterBoard`.

Gauges describe the latest results; counters are read from the board's tallies and exist at 0 for every result
as soon as the target is known. Label values come from enums, target names and NATS server names only.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.cluster.result import HealthzMode, JetStreamResult, ReplicaState, RouteResult
from exporter.cluster.runner import JETSTREAM_RESULTS, ClusterBoard, TargetClusterState, route_names
from exporter.runtime.families import CounterSpec, GaugeSpec

SERVER_PROBE_SUCCESS = GaugeSpec(
    "server_probe_success",
    "1 if the server, probed on its own address, completed every phase and was verified by its INFO.",
    ("target", "server"),
)
SERVER_HEALTHZ = GaugeSpec(
    "server_healthz",
    "1 if the server's /healthz answered 200 (mode full or js_enabled_only); absent if the port did not answer.",
    ("target", "server", "mode"),
)
SERVER_READY_UNHEALTHY = GaugeSpec(
    "server_ready_unhealthy",
    "1 when the server is a ready endpoint of the Service but its full /healthz fails.",
    ("target", "server"),
)
ROUTE_PROBE_SUCCESS = GaugeSpec(
    "route_probe_success",
    "1 if the last message published on from_server arrived on to_server, in every probed account.",
    ("target", "from_server", "to_server"),
)
ROUTE_PROBE_SECONDS = GaugeSpec(
    "route_probe_seconds",
    "Delivery time of the last successful route probe from from_server to to_server (slowest account).",
    ("target", "from_server", "to_server"),
)
ROUTE_INTEREST_SECONDS = GaugeSpec(
    "route_interest_seconds",
    "Time until a new subscription on to_server was known on from_server (slowest account, last success).",
    ("target", "from_server", "to_server"),
)
ROUTE_ACCOUNT_PROBE_SUCCESS = GaugeSpec(
    "route_account_probe_success",
    "1 if the last route probe in this account succeeded (accounts are pinned to one pooled route connection).",
    ("target", "account", "from_server", "to_server"),
)
ROUTE_PROBES_TOTAL = CounterSpec(
    "route_probes",
    "Route probes by result (success, no_interest, timeout, server_unreachable, ...).",
    ("target", "result"),
)
ROUTE_PAIRS = GaugeSpec(
    "route_pairs", "Ordered server pairs the cluster has (probed in turn when sampled).", ("target",)
)
JETSTREAM_PROBE_SUCCESS = GaugeSpec(
    "jetstream_probe_success", "1 if the last JetStream canary completed every phase.", ("target",)
)
JETSTREAM_PHASE_SECONDS = GaugeSpec(
    "jetstream_phase_seconds",
    "Time the last canary spent in each phase (js_info, stream_info, publish, fetch); absent if not reached.",
    ("target", "phase"),
)
JETSTREAM_PROBES_TOTAL = CounterSpec(
    "jetstream_probes", "JetStream canary rounds by result (success or a reason).", ("target", "result")
)
JETSTREAM_STREAM_REPLICAS = GaugeSpec(
    "jetstream_stream_replicas",
    "The canary stream's replicas by state (current, lagging, offline).",
    ("target", "state"),
)
JETSTREAM_ACCOUNT_USAGE_RATIO = GaugeSpec(
    "jetstream_account_usage_ratio",
    "Used / limit of the probe account's JetStream resources; absent when the limit is unlimited.",
    ("target", "resource"),
)
Families = dict[str, GaugeMetricFamily | CounterMetricFamily]
CLUSTER_SPECS = (
    SERVER_PROBE_SUCCESS,
    SERVER_HEALTHZ,
    SERVER_READY_UNHEALTHY,
    ROUTE_PROBE_SUCCESS,
    ROUTE_PROBE_SECONDS,
    ROUTE_INTEREST_SECONDS,
    ROUTE_ACCOUNT_PROBE_SUCCESS,
    ROUTE_PROBES_TOTAL,
    ROUTE_PAIRS,
    JETSTREAM_PROBE_SUCCESS,
    JETSTREAM_PHASE_SECONDS,
    JETSTREAM_PROBES_TOTAL,
    JETSTREAM_STREAM_REPLICAS,
    JETSTREAM_ACCOUNT_USAGE_RATIO,
)
FAMILIES = CLUSTER_SPECS


class ClusterCollector(Collector):
    """Builds every cluster family at scrape time from the board's latest values; never touches the network."""

    def __init__(self, board: ClusterBoard) -> None:
        self._board = board

    def collect(self) -> Iterator[Metric]:
        families: Families = {spec.name: spec.family() for spec in CLUSTER_SPECS}
        for state in self._board.states():
            _servers(state, families)
            if state.routes_enabled:
                _routes(state, families)
            if state.jetstream_enabled or state.jetstream_counts:
                # Every result at 0 from the start, so increase() and the alert see the first failure's reason.
                for name in JETSTREAM_RESULTS:
                    count = float(state.jetstream_counts[name])
                    families[JETSTREAM_PROBES_TOTAL.name].add_metric([state.target, name], count)
            if state.latest is not None and state.latest.jetstream is not None:
                _jetstream(state.target, state.latest.jetstream, families)
        yield from families.values()


def _servers(state: TargetClusterState, families: Families) -> None:
    if state.latest is None:
        return
    target = state.target
    for server in state.latest.servers:
        name = server.server_name
        families[SERVER_PROBE_SUCCESS.name].add_metric([target, name], 1.0 if server.ok else 0.0)
        for mode in HealthzMode:
            if mode in server.healthz:
                families[SERVER_HEALTHZ.name].add_metric(
                    [target, name, mode.value], 1.0 if server.healthz[mode] else 0.0
                )
        unhealthy = server.ready_but_unhealthy
        if unhealthy is not None:
            families[SERVER_READY_UNHEALTHY.name].add_metric([target, name], 1.0 if unhealthy else 0.0)


def _routes(state: TargetClusterState, families: Families) -> None:
    target = state.target
    for result in RouteResult:
        families[ROUTE_PROBES_TOTAL.name].add_metric([target, result.value], float(state.route_counts[result.value]))
    if state.latest is not None:
        n = len(route_names(state.latest.servers))
        families[ROUTE_PAIRS.name].add_metric([target], float(n * (n - 1)))
    pairs: dict[tuple[str, str], list[float | None]] = {}
    for (source, sink, account), probe in sorted(state.routes.items()):
        families[ROUTE_ACCOUNT_PROBE_SUCCESS.name].add_metric([target, account, source, sink], 1.0 if probe.ok else 0.0)
        pairs.setdefault((source, sink), []).append(probe.delivery_seconds if probe.ok else None)
    interest: dict[tuple[str, str], float] = {}
    for (source, sink, _account), probe in state.routes.items():
        if probe.ok and probe.interest_seconds is not None:
            interest[(source, sink)] = max(interest.get((source, sink), 0.0), probe.interest_seconds)
    for (source, sink), delays in pairs.items():
        ok = all(delay is not None for delay in delays)
        families[ROUTE_PROBE_SUCCESS.name].add_metric([target, source, sink], 1.0 if ok else 0.0)
        if ok:
            families[ROUTE_PROBE_SECONDS.name].add_metric(
                [target, source, sink], max(d for d in delays if d is not None)
            )
            if (source, sink) in interest:
                families[ROUTE_INTEREST_SECONDS.name].add_metric([target, source, sink], interest[(source, sink)])


def _jetstream(target: str, result: JetStreamResult, families: Families) -> None:
    families[JETSTREAM_PROBE_SUCCESS.name].add_metric([target], 1.0 if result.ok else 0.0)
    for phase, seconds in result.phases.items():
        families[JETSTREAM_PHASE_SECONDS.name].add_metric([target, phase.value], seconds)
    if result.replicas:
        for replica_state in ReplicaState:
            families[JETSTREAM_STREAM_REPLICAS.name].add_metric(
                [target, replica_state.value], float(result.replicas.get(replica_state, 0))
            )
    for resource, ratio in result.usage.items():
        families[JETSTREAM_ACCOUNT_USAGE_RATIO.name].add_metric([target, resource.value], ratio)
