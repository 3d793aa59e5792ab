"""The diagnostics' metric families, declared once, and the collector that builds them from the latest diagnoses."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from exporter.diagnostics.runner import DiagnosticsBoard
from exporter.probe.result import Phase
from exporter.runtime.families import GaugeSpec

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
FAMILIES = (
    CHECK_SUCCESS,
    SERVICE_ENDPOINTS,
    ENDPOINT_PROBE_SUCCESS,
    ENDPOINT_RTT_SECONDS,
)


class DiagnosticsCollector(Collector):
    """The latest diagnosis of each target, as metrics."""

    def __init__(self, board: DiagnosticsBoard) -> None:
        self._board = board

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {spec: spec.family() for spec in FAMILIES}
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
        yield from families.values()

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [spec.family() for spec in FAMILIES]
