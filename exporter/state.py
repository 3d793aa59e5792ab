"""What the exporter knows now, and the one door through which each kind of result enters it.

Probe results, session events, diagnoses, audits and log tallies each arrive through one method here, which
updates the feature's own memory (the probe's status board, the diagnostics board, ...) and its accumulating
metrics together, and logs a state change once. The views (the /metrics scrape, the status page, /-/ready, /config)
only read what is here, so no view can disagree with another about the same fact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client.registry import Collector

from exporter.audit.metrics import AuditCollector
from exporter.audit.model import AuditResult
from exporter.audit.runner import AuditBoard
from exporter.cluster.metrics import ClusterCollector
from exporter.cluster.runner import ClusterBoard
from exporter.config import Target
from exporter.diagnostics.metrics import DiagnosticsCollector
from exporter.diagnostics.runner import Diagnosis, DiagnosticsBoard
from exporter.exposition.process import ExporterMetrics
from exporter.logwatch.tally import LogTally
from exporter.probe.result import ProbeResult
from exporter.probe.session_events import SessionEvent
from exporter.probe.status import State, StatusBoard, Transition
from exporter.servers.board import ServerViewBoard
from exporter.servers.metrics import ServerViewCollector

log = logging.getLogger(__name__)


class ExporterState:
    def __init__(self, *, process_metrics: bool = True) -> None:
        self.probes = StatusBoard()
        self.metrics = ExporterMetrics(self.probes, process_metrics=process_metrics)
        self.diagnostics = DiagnosticsBoard()
        self.audit = AuditBoard()
        self.logs: LogTally | None = None
        self.cluster = ClusterBoard()
        self.server_view: ServerViewBoard | None = None
        self._server_view_collector: ServerViewCollector | None = None
        self.metrics.registry.register(DiagnosticsCollector(self.diagnostics))
        self.metrics.registry.register(AuditCollector(self.audit))
        self.metrics.registry.register(ClusterCollector(self.cluster))

    def on_change(self, listener: Callable[[str], None]) -> None:
        """`listener` is told a target's name after each change of its probe or session (the scrape pre-renders)."""
        self.probes.on_change = self.metrics.on_change = listener

    @property
    def ready(self) -> bool:
        return self.probes.ready

    def add_target(self, target: Target) -> None:
        self.probes.add_target(target)
        self.metrics.add_target(target.name)

    def remove_target(self, name: str) -> None:
        """Forget a target that is no longer configured: its status and every one of its series."""
        self.probes.remove_target(name)
        self.metrics.remove_target(name)
        self.diagnostics.forget(name)
        self.cluster.remove_target(name)

    def record_probe(self, result: ProbeResult) -> Transition | None:
        """A probe result: counters, the status board, and a log line if the target's state changed."""
        target_metrics = self.metrics.targets.get(result.target)
        if target_metrics is None:
            return None  # the target was removed while its probe ran
        target_metrics.record_probe(result)
        transition = self.probes.record(result)
        if transition is not None:
            fields = {"target": result.target, "previous": transition.previous.value, "state": transition.current.value}
            if transition.current is State.DOWN:
                log.warning("target down", extra={**fields, "reason": transition.reason, "detail": transition.detail})
            else:
                log.info("target up", extra={**fields, "server_url": result.server_url})
        return transition

    def session_recorder(self, target: str) -> Callable[[SessionEvent], None]:
        """The door for one target's session events: counters and the board's connection state together."""

        def record(event: SessionEvent) -> None:
            target_metrics = self.metrics.targets.get(target)
            if target_metrics is not None:
                target_metrics.record_session(event)
            if event is SessionEvent.STOPPED:
                self.probes.set_session_connected(target, None)
            elif event.connected is not None:
                self.probes.set_session_connected(target, event.connected)

        return record

    def record_diagnosis(self, diagnosis: Diagnosis) -> None:
        self.diagnostics.record(diagnosis)

    def record_audit(self, audit: AuditResult | None) -> None:
        self.audit.latest = audit

    def attach_logs(self, tally: LogTally, collector: Collector) -> None:
        """Log following is on: its tally is what the views read, its collector what /metrics shows."""
        self.logs = tally
        self.metrics.registry.register(collector)

    def attach_server_view(self, board: ServerViewBoard) -> None:
        """The servers' view is on (or restarted by a reload): its board is what /apps and the page read, its
        collector what /metrics shows; a previous board's series go with it."""
        self.detach_server_view()
        self.server_view = board
        self._server_view_collector = ServerViewCollector(board)
        self.metrics.registry.register(self._server_view_collector)

    def detach_server_view(self) -> None:
        if self._server_view_collector is not None:
            self.metrics.registry.unregister(self._server_view_collector)
        self.server_view, self._server_view_collector = None, None

    def attach_collector(self, collector: Collector) -> None:
        """A feature's own families (the node agent's reading statistics) join /metrics."""
        self.metrics.registry.register(collector)
