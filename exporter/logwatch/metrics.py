"""The log-following metric families, declared once, and the collector that builds them from the tally."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from exporter.logwatch.lines import Gap, Unplaceable
from exporter.logwatch.tally import LogTally, PodState, StreamState
from exporter.runtime.families import CounterSpec, GaugeSpec

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
LOG_LINES_UNPLACEABLE = CounterSpec(
    "log_lines_unplaceable",
    "Application log lines whose place in their stream could not be established (no readable timestamp): "
    "bad_timestamp = counted, stamped with the time read; replay_bad_timestamp = skipped on a resume.",
    ("reason",),
)
LOG_GAPS = CounterSpec(
    "log_gaps",
    "Runs of application log lines detected as unreadable: rotated = kubelet rotated them away while the stream "
    "was down (the API serves only the live file; the node agent reads rotated files).",
    ("reason",),
)


FAMILIES = (
    LOG_EVENTS,
    LOG_LAST_EVENT,
    LOG_LINES,
    APP_PODS,
    LOG_STREAMS,
    LOG_STREAM_RESTARTS,
    LOG_LINES_UNPLACEABLE,
    LOG_GAPS,
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
        unplaceable = LOG_LINES_UNPLACEABLE.family()
        for reason in Unplaceable:
            unplaceable.add_metric([reason.value], tally.unplaceable.get(reason.value, 0.0))
        gaps = LOG_GAPS.family()
        for gap in Gap:
            gaps.add_metric([gap.value], tally.gaps.get(gap.value, 0.0))
        yield from (events, last_event, lines, pods, streams, restarts, unplaceable, gaps)

    def describe(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        return [spec.family() for spec in FAMILIES]
