"""The agent's own log-reading families, beside the shared log families that `LogCollector` builds from the tally."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from exporter.agent.cri import Malformed
from exporter.runtime.families import CounterSpec, GaugeSpec

MALFORMED_LINES = CounterSpec(
    "agent_log_malformed_lines", "CRI log lines that could not be read, by why (skipped, never fatal).", ("reason",)
)
BYTES_READ = CounterSpec("agent_log_bytes_read", "Bytes of container log files read on this node.", ())
FILES_OPEN = GaugeSpec("agent_log_files_open", "Container log files held open on this node.", ())
CONTAINERS = GaugeSpec("agent_log_containers", "Container log directories followed on this node.", ())
FAMILIES = (MALFORMED_LINES, BYTES_READ, FILES_OPEN, CONTAINERS)


@dataclass(slots=True)
class ReadingStats:
    """Kept on the event loop by the service; read at scrape time."""

    malformed: Counter[Malformed] = field(default_factory=Counter)
    bytes_read: int = 0
    files_open: int = 0
    containers: int = 0


class AgentLogCollector(Collector):
    def __init__(self, stats: ReadingStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        stats = self._stats
        malformed = MALFORMED_LINES.family()
        for reason in Malformed:
            malformed.add_metric([reason.value], stats.malformed.get(reason, 0))
        read = BYTES_READ.family()
        read.add_metric([], stats.bytes_read)
        files = FILES_OPEN.family()
        files.add_metric([], stats.files_open)
        containers = CONTAINERS.family()
        containers.add_metric([], stats.containers)
        yield from (malformed, read, files, containers)

    def describe(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        return [spec.family() for spec in (MALFORMED_LINES, BYTES_READ, FILES_OPEN, CONTAINERS)]
