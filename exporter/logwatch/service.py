"""Log following as one part of the exporter: the tally, its metrics, and a worker per followed source."""

from __future__ import annotations

import asyncio

from ..metrics import ExporterMetrics, LogCollector
from ..supervisor import Supervisor, WorkerFactory
from .file_source import follow_file
from .lines import LineCounter
from .matcher import Matcher
from .settings import LogSettings
from .tally import LogSource, LogTally


class LogWatch:
    def __init__(self, settings: LogSettings, metrics: ExporterMetrics) -> None:
        self.settings = settings
        self.tally = LogTally(per_pod=settings.per_pod)
        self.matcher = Matcher(settings.patterns)
        metrics.registry.register(LogCollector(self.tally))

    def start(self, supervisor: Supervisor, stopping: asyncio.Event) -> None:
        for app, path in self.settings.files:
            counter = LineCounter(LogSource(namespace="", app=app), self.matcher, self.tally, timestamps=False)
            supervisor.start(f"logfile:{app}:{path}", self._file_worker(path, counter, stopping))

    def _file_worker(self, path: str, counter: LineCounter, stopping: asyncio.Event) -> WorkerFactory:
        return lambda: follow_file(path, counter, stopping, from_start=self.settings.from_start)
