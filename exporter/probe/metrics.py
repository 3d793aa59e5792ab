"""The probe's metric families, declared once, and the collectors that fill them.

Each target's series live in a registry of their own (`TargetMetrics`): the families that accumulate (counters,
histograms) as prometheus_client objects, and the "latest result" gauges built from the probe's status board by
`LatestResultsCollector`. A target's block is rendered when it changes, not at every scrape (see
`exporter.exposition.scrape`), and a removed target's series go with its registry: no stale label set is left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from exporter.probe.result import ProbeResult, Reason
from exporter.probe.session_events import SessionEvent
from exporter.probe.status import StatusBoard, TargetStatus
from exporter.runtime.families import CounterSpec, GaugeSpec, HistogramSpec

PUBLISH_RESULTS = ("success", "failure")
PROBE_RESULTS = ("success", *(reason.value for reason in Reason))

PROBE_SUCCESS = GaugeSpec("probe_success", "1 if the last probe of the target completed every phase.", ("target",))
PROBE_PHASE_SECONDS = GaugeSpec(
    "probe_phase_seconds",
    "Time the last probe spent in each phase (dns, tcp, connect, rtt, pubsub); absent if not reached.",
    ("target", "phase"),
)
PROBE_DURATION_SECONDS = GaugeSpec("probe_duration_seconds", "Total time of the last probe.", ("target",))
PROBE_LAST_SUCCESS = GaugeSpec(
    "probe_last_success_timestamp_seconds", "When the target last passed a probe (Unix time).", ("target",)
)
DNS_ADDRESSES = GaugeSpec(
    "dns_addresses",
    "Addresses the target's name resolved to in the last probe (0: did not resolve).",
    ("target",),
)
TARGET_INFO = GaugeSpec(
    "target_info",
    "A configured target: its URL (credentials redacted) and host kind.",
    ("target", "url", "host_kind"),
)
SERVER_INFO = GaugeSpec(
    "server_info",
    "The NATS server that answered the target's last probe.",
    ("target", "server_name", "version", "cluster"),
)
SESSION_CONNECTED = GaugeSpec(
    "session_connected", "1 while the target's long-lived session connection is connected.", ("target",)
)
LATEST_RESULT_SPECS = (
    PROBE_SUCCESS,
    PROBE_PHASE_SECONDS,
    PROBE_DURATION_SECONDS,
    PROBE_LAST_SUCCESS,
    DNS_ADDRESSES,
    TARGET_INFO,
    SERVER_INFO,
    SESSION_CONNECTED,
)


PROBES = CounterSpec("probes", "Probes run, by result: success or the failure reason.", ("target", "result"))
PROBE_LATENCY = HistogramSpec("probe_latency_seconds", "Distribution of probe phase times.", ("target", "phase"))
SESSION_DISCONNECTS = CounterSpec("session_disconnects", "Times the target's session connection was lost.", ("target",))
SESSION_RECONNECTS = CounterSpec(
    "session_reconnects", "Times the target's session connection was re-established after a loss.", ("target",)
)
PUBLISH = CounterSpec(
    "publish",
    "Heartbeat publishes on the session connection, by whether the message came back.",
    ("target", "result"),
)
FAMILIES = (*LATEST_RESULT_SPECS, PROBES, PROBE_LATENCY, SESSION_DISCONNECTS, SESSION_RECONNECTS, PUBLISH)


class TargetMetrics:
    """One target's series, in a registry of its own; `version` counts changes so renders can be cached."""

    def __init__(self, name: str, board: StatusBoard, on_change: Callable[[str], None] | None = None) -> None:
        self.name = name
        self.version = 0
        self._on_change = on_change
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(LatestResultsCollector(board, name))
        self._probes = PROBES.create(self.registry)
        self._latency = PROBE_LATENCY.create(self.registry)
        self._disconnects = SESSION_DISCONNECTS.create(self.registry).labels(name)
        self._reconnects = SESSION_RECONNECTS.create(self.registry).labels(name)
        self._publish = PUBLISH.create(self.registry)
        # Every result exists from the start at 0, so rate() and alerts work from the first failure on.
        for result in PROBE_RESULTS:
            self._probes.labels(name, result)
        for result in PUBLISH_RESULTS:
            self._publish.labels(name, result)

    def record_probe(self, result: ProbeResult) -> None:
        self._probes.labels(self.name, result.reason.value if result.reason else "success").inc()
        for phase, seconds in result.phases.items():
            self._latency.labels(self.name, phase.value).observe(seconds)
        self._changed()

    def record_session(self, event: SessionEvent) -> None:
        if event is SessionEvent.DISCONNECTED:
            self._disconnects.inc()
        elif event is SessionEvent.RECONNECTED:
            self._reconnects.inc()
        elif event is SessionEvent.HEARTBEAT_ECHOED:
            self._publish.labels(self.name, "success").inc()
        elif event is SessionEvent.HEARTBEAT_LOST:
            self._publish.labels(self.name, "failure").inc()
        else:
            return
        self._changed()

    def _changed(self) -> None:
        self.version += 1
        if self._on_change is not None:
            self._on_change(self.name)


class LatestResultsCollector(Collector):
    """Builds one target's "last probe" gauges from the probe status board when its registry is collected."""

    def __init__(self, board: StatusBoard, name: str) -> None:
        self._board = board
        self._name = name

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {spec: spec.family() for spec in LATEST_RESULT_SPECS}
        status = self._board.get(self._name)
        if status is not None:
            _add_latest(families, status)
        yield from families.values()

    def describe(self) -> Iterable[GaugeMetricFamily]:
        # Names only, so the registry can detect collisions without running a collection.
        return [spec.family() for spec in LATEST_RESULT_SPECS]


def _add_latest(families: dict[GaugeSpec, GaugeMetricFamily], status: TargetStatus) -> None:
    name = status.target.name
    kinds = sorted({server.host_kind.value for server in status.target.servers})
    families[TARGET_INFO].add_metric([name, status.target.redacted_url, ",".join(kinds)], 1)
    if status.session_connected is not None and SESSION_CONNECTED in families:
        families[SESSION_CONNECTED].add_metric([name], 1 if status.session_connected else 0)
    if status.last_success_at is not None:
        families[PROBE_LAST_SUCCESS].add_metric([name], status.last_success_at)
    result = status.last
    if result is None:
        return
    families[PROBE_SUCCESS].add_metric([name], 1 if result.ok else 0)
    families[PROBE_DURATION_SECONDS].add_metric([name], result.duration)
    families[DNS_ADDRESSES].add_metric([name], len(result.addresses))
    for phase, seconds in result.phases.items():
        families[PROBE_PHASE_SECONDS].add_metric([name, phase.value], seconds)
    if result.server is not None:
        server = result.server
        families[SERVER_INFO].add_metric([name, server.server_name, server.version, server.cluster], 1)


def probe_registry(status: TargetStatus) -> CollectorRegistry:
    """The metrics of one probe run on demand by `/probe`: the latest-result families for that probe only."""
    registry = CollectorRegistry(auto_describe=True)

    class _OneProbe(Collector):
        def collect(self) -> Iterator[GaugeMetricFamily]:
            families = {spec: spec.family() for spec in LATEST_RESULT_SPECS if spec is not SESSION_CONNECTED}
            _add_latest(families, status)
            yield from families.values()

    registry.register(_OneProbe())
    return registry
