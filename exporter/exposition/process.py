"""The process-wide metrics: build info, Kubernetes API errors, readiness and reload state, process metrics; and
the per-target probe registries by name (the scrape path joins them, see `scrape.py`)."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Gauge,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from exporter.probe.metrics import TargetMetrics
from exporter.probe.status import StatusBoard
from exporter.runtime.families import CounterSpec, GaugeSpec

BUILD_INFO = GaugeSpec(
    "build_info",
    "Versions of the exporter and its NATS client; always 1.",
    ("version", "python_version", "nats_py_version"),
)
KUBERNETES_ERRORS = CounterSpec(
    "kubernetes_errors", "Errors from the Kubernetes API, by operation and HTTP status code.", ("operation", "code")
)
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


FAMILIES = (BUILD_INFO, KUBERNETES_ERRORS, *EXPORTER_STATE_SPECS)


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
        build_info = Gauge(BUILD_INFO.full_name, BUILD_INFO.help, list(BUILD_INFO.labels), registry=registry)
        build_info.labels(_version("nats-connectivity-exporter"), platform.python_version(), _version("nats-py")).set(1)
        self.kubernetes_errors = KUBERNETES_ERRORS.create(registry)

    def count_kubernetes_error(self, operation: str, code: str) -> None:
        self.kubernetes_errors.labels(operation, code).inc()

    def add_target(self, name: str) -> TargetMetrics:
        if name not in self.targets:
            self.targets[name] = TargetMetrics(name, self._board, self.on_change)
        return self.targets[name]

    def remove_target(self, name: str) -> None:
        """Drop every series of a target that is no longer configured."""
        self.targets.pop(name, None)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
