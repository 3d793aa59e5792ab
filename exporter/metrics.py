"""Every metric family the exporter exposes, declared once: names, help, labels and buckets.

Two kinds live here. Families that accumulate (counters, histograms) are prometheus_client objects updated as
events happen. Families that describe "the latest result" are built at scrape time from the status board by
`LatestResultsCollector`, so a removed target's series vanish with it and no stale label set is ever left behind.
Nothing else in the package creates metrics.
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .probe.result import Phase, ProbeResult, Reason

if TYPE_CHECKING:
    from .status import StatusBoard

PREFIX = "nats_connectivity_"
LATENCY_BUCKETS = (
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
PUBLISH_RESULTS = ("success", "failure")
PROBE_RESULTS = ("success", *(reason.value for reason in Reason))


@dataclass(frozen=True, slots=True)
class GaugeSpec:
    """A gauge built at scrape time: declared here like every other family."""

    name: str
    help: str
    labels: tuple[str, ...]

    def family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(PREFIX + self.name, self.help, labels=list(self.labels))


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
READY = GaugeSpec("ready", "1 once every target has been probed at least once.", ())
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


class ExporterMetrics:
    """The registry of one exporter instance and the families that accumulate."""

    def __init__(self, board: StatusBoard, *, process_metrics: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        if process_metrics:
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                self.registry.register(collector)
        self.registry.register(LatestResultsCollector(board))
        registry = self.registry

        self.build_info = Gauge(
            PREFIX + "build_info",
            "Versions of the exporter and its NATS client; always 1.",
            ["version", "python_version", "nats_py_version"],
            registry=registry,
        )
        self.build_info.labels(
            _version("nats-connectivity-exporter"), platform.python_version(), _version("nats-py")
        ).set(1)
        self.probe_latency = Histogram(
            PREFIX + "probe_latency_seconds",
            "Distribution of probe phase times.",
            ["target", "phase"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.probes = Counter(
            PREFIX + "probes",
            "Probes run, by result: success or the failure reason.",
            ["target", "result"],
            registry=registry,
        )
        self.session_disconnects = Counter(
            PREFIX + "session_disconnects",
            "Times the target's session connection was lost.",
            ["target"],
            registry=registry,
        )
        self.session_reconnects = Counter(
            PREFIX + "session_reconnects",
            "Times the target's session connection was re-established after a loss.",
            ["target"],
            registry=registry,
        )
        self.publish = Counter(
            PREFIX + "publish",
            "Heartbeat publishes on the session connection, by whether the message came back.",
            ["target", "result"],
            registry=registry,
        )
        self.kubernetes_errors = Counter(
            PREFIX + "kubernetes_errors",
            "Errors from the Kubernetes API, by operation and HTTP status code.",
            ["operation", "code"],
            registry=registry,
        )

    def add_target(self, target: str) -> None:
        """Create a target's counters at zero, so rate() works from its first failure on."""
        for result in PROBE_RESULTS:
            self.probes.labels(target, result)
        for result in PUBLISH_RESULTS:
            self.publish.labels(target, result)
        self.session_disconnects.labels(target)
        self.session_reconnects.labels(target)

    def remove_target(self, target: str) -> None:
        """Drop every series of a target that is no longer configured."""
        for result in PROBE_RESULTS:
            _remove(self.probes, target, result)
        for result in PUBLISH_RESULTS:
            _remove(self.publish, target, result)
        for phase in Phase:
            _remove(self.probe_latency, target, phase.value)
        _remove(self.session_disconnects, target)
        _remove(self.session_reconnects, target)

    def record_probe(self, result: ProbeResult) -> None:
        self.probes.labels(result.target, result.reason.value if result.reason else "success").inc()
        for phase, seconds in result.phases.items():
            self.probe_latency.labels(result.target, phase.value).observe(seconds)


class LatestResultsCollector(Collector):
    """Builds the "last probe" gauges from the status board at each scrape."""

    def __init__(self, board: StatusBoard) -> None:
        self._board = board

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {spec: spec.family() for spec in LATEST_RESULT_SPECS}
        for status in self._board.targets():
            name = status.target.name
            kinds = sorted({server.host_kind.value for server in status.target.servers})
            families[TARGET_INFO].add_metric([name, status.target.redacted_url, ",".join(kinds)], 1)
            if status.session_connected is not None:
                families[SESSION_CONNECTED].add_metric([name], 1 if status.session_connected else 0)
            if status.last_success_at is not None:
                families[PROBE_LAST_SUCCESS].add_metric([name], status.last_success_at)
            result = status.last
            if result is None:
                continue
            families[PROBE_SUCCESS].add_metric([name], 1 if result.ok else 0)
            families[PROBE_DURATION_SECONDS].add_metric([name], result.duration)
            families[DNS_ADDRESSES].add_metric([name], len(result.addresses))
            for phase, seconds in result.phases.items():
                families[PROBE_PHASE_SECONDS].add_metric([name, phase.value], seconds)
            if result.server is not None:
                server = result.server
                families[SERVER_INFO].add_metric([name, server.server_name, server.version, server.cluster], 1)
        ready = READY.family()
        ready.add_metric([], 1 if self._board.ready else 0)
        yield from families.values()
        yield ready

    def describe(self) -> Iterable[GaugeMetricFamily]:
        # Names only, so the registry can detect collisions without running a collection.
        return [spec.family() for spec in (*LATEST_RESULT_SPECS, READY)]


def _remove(metric: Counter | Histogram, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # never created: nothing to remove
        metric.remove(*labels)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
