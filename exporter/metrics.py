"""Every metric family the exporter exposes, declared once: names, help, labels and buckets.

Each target's series live in a registry of their own (`TargetMetrics`): the families that accumulate
(counters, histograms) as prometheus_client objects, and the "latest result" gauges built from the status board
by `LatestResultsCollector`. A target's block is rendered when it changes, not at every scrape (see
`exposition.py`), and a removed target's series go with its registry: no stale label set is ever left behind.
Process-wide families live in `ExporterMetrics.registry`. Nothing else in the package creates metrics.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterable, Iterator
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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from exporter.audit.model import Rule
from exporter.logwatch.tally import LogTally, PodState, StreamState
from exporter.probe.result import Phase, ProbeResult, Reason

if TYPE_CHECKING:
    from exporter.audit.model import AuditResult
    from exporter.diagnostics.runner import DiagnosticsBoard
    from exporter.probe.status import StatusBoard, TargetStatus

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

    def family(self, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(PREFIX + self.name, self.help, labels=_with_extra(self.labels, extra))


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """A counter built at scrape time from state kept elsewhere (the log tally)."""

    name: str
    help: str
    labels: tuple[str, ...]

    def family(self, extra: tuple[str, ...] = ()) -> CounterMetricFamily:
        return CounterMetricFamily(PREFIX + self.name, self.help, labels=_with_extra(self.labels, extra))


def _with_extra(labels: tuple[str, ...], extra: tuple[str, ...]) -> list[str]:
    """`extra` labels (the optional `pod`) go after namespace and app, before the rest."""
    return [*labels[:2], *extra, *labels[2:]] if extra else list(labels)


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


class TargetMetrics:
    """One target's series, in a registry of its own; `version` counts changes so renders can be cached."""

    def __init__(self, name: str, board: StatusBoard, on_change: Callable[[str], None] | None = None) -> None:
        self.name = name
        self.version = 0
        self._on_change = on_change
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(LatestResultsCollector(board, name))
        registry = self.registry
        self._probes = Counter(
            PREFIX + "probes",
            "Probes run, by result: success or the failure reason.",
            ["target", "result"],
            registry=registry,
        )
        self._latency = Histogram(
            PREFIX + "probe_latency_seconds",
            "Distribution of probe phase times.",
            ["target", "phase"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._disconnects = Counter(
            PREFIX + "session_disconnects",
            "Times the target's session connection was lost.",
            ["target"],
            registry=registry,
        ).labels(name)
        self._reconnects = Counter(
            PREFIX + "session_reconnects",
            "Times the target's session connection was re-established after a loss.",
            ["target"],
            registry=registry,
        ).labels(name)
        self._publish = Counter(
            PREFIX + "publish",
            "Heartbeat publishes on the session connection, by whether the message came back.",
            ["target", "result"],
            registry=registry,
        )
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

    def session_disconnected(self) -> None:
        self._disconnects.inc()
        self._changed()

    def session_reconnected(self) -> None:
        self._reconnects.inc()
        self._changed()

    def heartbeat(self, *, echoed: bool) -> None:
        self._publish.labels(self.name, "success" if echoed else "failure").inc()
        self._changed()

    def _changed(self) -> None:
        self.version += 1
        if self._on_change is not None:
            self._on_change(self.name)


class ExporterMetrics:
    """Process-wide families, and the per-target registries by target name."""

    def __init__(
        self, board: StatusBoard, *, process_metrics: bool = True, on_change: Callable[[str], None] | None = None
    ) -> None:
        self._board = board
        self.on_change = on_change  # told the target's name after each change (the exposition pre-renders it)
        self.targets: dict[str, TargetMetrics] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        if process_metrics:
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                self.registry.register(collector)
        self.reload_state = ReloadState(last_success_at=time.time())
        self.registry.register(ExporterStateCollector(board, self.reload_state))
        registry = self.registry
        build_info = Gauge(
            PREFIX + "build_info",
            "Versions of the exporter and its NATS client; always 1.",
            ["version", "python_version", "nats_py_version"],
            registry=registry,
        )
        build_info.labels(_version("nats-connectivity-exporter"), platform.python_version(), _version("nats-py")).set(1)
        self.kubernetes_errors = Counter(
            PREFIX + "kubernetes_errors",
            "Errors from the Kubernetes API, by operation and HTTP status code.",
            ["operation", "code"],
            registry=registry,
        )

    def count_kubernetes_error(self, operation: str, code: str) -> None:
        self.kubernetes_errors.labels(operation, code).inc()

    def add_target(self, name: str) -> TargetMetrics:
        if name not in self.targets:
            self.targets[name] = TargetMetrics(name, self._board, self.on_change)
        return self.targets[name]

    def remove_target(self, name: str) -> None:
        """Drop every series of a target that is no longer configured."""
        self.targets.pop(name, None)

    def target(self, name: str) -> TargetMetrics:
        return self.targets[name]


class LatestResultsCollector(Collector):
    """Builds one target's "last probe" gauges from the status board when its registry is collected."""

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


CONFIG_LAST_RELOAD_SUCCESSFUL = GaugeSpec(
    "config_last_reload_successful", "1 if the last configuration reload succeeded.", ()
)
CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP = GaugeSpec(
    "config_last_reload_success_timestamp_seconds", "When the configuration was last loaded successfully.", ()
)
WEB_CONFIG_LAST_RELOAD_SUCCESSFUL = GaugeSpec(
    "web_config_last_reload_successful",
    "1 if the web config file (TLS, basic auth) was accepted when last re-read; 0: the previous one is in force.",
    (),
)
READY = GaugeSpec("ready", "1 once every target has been probed at least once.", ())
EXPORTER_STATE_SPECS = (
    READY,
    CONFIG_LAST_RELOAD_SUCCESSFUL,
    CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP,
    WEB_CONFIG_LAST_RELOAD_SUCCESSFUL,
)


@dataclass(slots=True)
class ReloadState:
    successful: bool = True
    last_success_at: float = 0.0
    web_config_successful: bool = True


class ExporterStateCollector(Collector):
    """Readiness and configuration reload state, read at scrape time."""

    def __init__(self, board: StatusBoard, reload: ReloadState) -> None:
        self._board = board
        self._reload = reload

    def collect(self) -> Iterator[GaugeMetricFamily]:
        values = (
            (READY, 1 if self._board.ready else 0),
            (CONFIG_LAST_RELOAD_SUCCESSFUL, 1 if self._reload.successful else 0),
            (CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP, self._reload.last_success_at),
            (WEB_CONFIG_LAST_RELOAD_SUCCESSFUL, 1 if self._reload.web_config_successful else 0),
        )
        for spec, number in values:
            family = spec.family()
            family.add_metric([], number)
            yield family

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [spec.family() for spec in EXPORTER_STATE_SPECS]


LOG_EVENTS = CounterSpec(
    "log_events", "Application log lines that are NATS connection events.", ("namespace", "app", "event")
)
LOG_LAST_EVENT = GaugeSpec(
    "log_last_event_timestamp_seconds", "When the application last logged the event.", ("namespace", "app", "event")
)
LOG_LINES = CounterSpec("log_lines", "Application log lines read.", ("namespace", "app"))
APP_PODS = GaugeSpec(
    "app_pods",
    "Application pods by their latest NATS event: connected, disconnected or unknown.",
    ("namespace", "app", "state"),
)
LOG_STREAMS = GaugeSpec("log_streams", "Log streams being followed, or waiting to be reopened.", ("state",))
LOG_STREAM_RESTARTS = CounterSpec(
    "log_stream_restarts", "Log streams reopened, by why (ended, error, silence, lifetime, ...).", ("reason",)
)


class LogCollector(Collector):
    """The log metrics, built from the tally at each scrape."""

    def __init__(self, tally: LogTally) -> None:
        self._tally = tally

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        tally = self._tally
        extra = ("pod",) if tally.per_pod else ()
        events, last_event, lines = LOG_EVENTS.family(extra), LOG_LAST_EVENT.family(extra), LOG_LINES.family(extra)
        for key, number in tally.events.items():
            events.add_metric(list(key), number)
        for key, at in tally.last_event_at.items():
            last_event.add_metric(list(key), at)
        for key, number in tally.lines.items():
            lines.add_metric(list(key), number)
        pods = APP_PODS.family()
        counts = tally.app_pod_counts()
        for namespace, app in sorted({(ns, app) for ns, app, _ in counts}):
            for state in PodState:
                pods.add_metric([namespace, app, state.value], counts.get((namespace, app, state), 0))
        streams = LOG_STREAMS.family()
        states = list(tally.streams.values())
        for stream_state in StreamState:
            streams.add_metric([stream_state.value], states.count(stream_state))
        restarts = LOG_STREAM_RESTARTS.family()
        for reason, number in tally.stream_restarts.items():
            restarts.add_metric([reason], number)
        yield from (events, last_event, lines, pods, streams, restarts)

    def describe(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        return [
            spec.family()
            for spec in (LOG_EVENTS, LOG_LAST_EVENT, LOG_LINES, APP_PODS, LOG_STREAMS, LOG_STREAM_RESTARTS)
        ]


CHECK_SUCCESS = GaugeSpec(
    "check_success",
    "1 if the diagnostic check passed, 0 if it failed; absent while it cannot tell (no access, RBAC) or skipped.",
    ("target", "check"),
)
SERVICE_ENDPOINTS = GaugeSpec(
    "service_endpoints", "Endpoints of the target's Service, by readiness.", ("target", "state")
)
ENDPOINT_PROBE_SUCCESS = GaugeSpec(
    "endpoint_probe_success", "1 if the NATS pod answered a probe made to it directly.", ("target", "pod")
)
ENDPOINT_RTT_SECONDS = GaugeSpec(
    "endpoint_rtt_seconds", "PING/PONG round trip to the NATS pod, probed directly.", ("target", "pod")
)
CONFIG_URL_INFO = GaugeSpec(
    "config_url_info",
    "A NATS URL in the cluster's configuration (ConfigMap key or workload env), with its host kind; always 1.",
    ("namespace", "kind", "name", "key", "host_kind", "service"),
)
CONFIG_VIOLATIONS = GaugeSpec(
    "config_violations",
    "Configuration audit findings by rule (ip_address, hardcoded_in_workload, short_name_cross_namespace, ...).",
    ("namespace", "rule"),
)
DIAGNOSTICS_SPECS = (
    CHECK_SUCCESS,
    SERVICE_ENDPOINTS,
    ENDPOINT_PROBE_SUCCESS,
    ENDPOINT_RTT_SECONDS,
    CONFIG_URL_INFO,
    CONFIG_VIOLATIONS,
)


class DiagnosticsCollector(Collector):
    """The latest diagnosis of each target, as metrics."""

    def __init__(self, board: DiagnosticsBoard) -> None:
        self._board = board

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {spec: spec.family() for spec in DIAGNOSTICS_SPECS}
        for diagnosis in self._board.latest.values():
            target = diagnosis.target
            for result in diagnosis.results:
                if result.state.value in ("pass", "fail"):
                    families[CHECK_SUCCESS].add_metric([target, result.name], 1 if result.state.value == "pass" else 0)
            if diagnosis.ready_endpoints is not None and diagnosis.not_ready_endpoints is not None:
                families[SERVICE_ENDPOINTS].add_metric([target, "ready"], diagnosis.ready_endpoints)
                families[SERVICE_ENDPOINTS].add_metric([target, "not_ready"], diagnosis.not_ready_endpoints)
            for endpoint in diagnosis.endpoints:
                families[ENDPOINT_PROBE_SUCCESS].add_metric([target, endpoint.pod], 1 if endpoint.result.ok else 0)
                rtt = endpoint.result.phases.get(Phase.RTT)
                if rtt is not None:
                    families[ENDPOINT_RTT_SECONDS].add_metric([target, endpoint.pod], rtt)
        audit = self._board.audit
        if audit is not None:
            _add_audit(families, audit)
        yield from families.values()

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [spec.family() for spec in DIAGNOSTICS_SPECS]


def _add_audit(families: dict[GaugeSpec, GaugeMetricFamily], audit: AuditResult) -> None:
    seen: set[tuple[str, ...]] = set()
    for entry in audit.inventory:
        labels = (
            entry.namespace,
            entry.kind,
            entry.name,
            entry.key,
            entry.host_kind.value if entry.host_kind else "invalid",
            entry.service,
        )
        if labels not in seen:  # one series per URL place, however many servers its list names
            seen.add(labels)
            families[CONFIG_URL_INFO].add_metric(list(labels), 1)
    counts = {(v.namespace, v.rule.value): v.count for v in audit.violations}
    # Every rule of every namespace with NATS URLs, at 0 when clean: an alert can tell "clean" from "not audited".
    for namespace in sorted({entry.namespace for entry in audit.inventory} | {ns for ns, _ in counts}):
        for rule in Rule:
            families[CONFIG_VIOLATIONS].add_metric([namespace, rule.value], counts.get((namespace, rule.value), 0))


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
