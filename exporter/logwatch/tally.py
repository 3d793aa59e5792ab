"""What the application logs said, counted: per app (and pod, when asked), per event; the metrics are its view.

With per-pod series, a pod that goes away has its counts folded into the app's `pod=""` series before its own
series are removed, so `sum by (app)` of a counter never goes backwards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from exporter.config.logs import Event


class PodState(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    UNKNOWN = "unknown"


STATE_AFTER = {
    Event.CONNECTED: PodState.CONNECTED,
    Event.FAILED: PodState.DISCONNECTED,
    Event.LOST: PodState.DISCONNECTED,
}


@dataclass(frozen=True, slots=True)
class LogSource:
    """Where lines come from: a pod's container, or a local file (namespace and pod empty)."""

    namespace: str
    app: str
    pod: str = ""
    container: str = ""


class StreamState(StrEnum):
    FOLLOWING = "following"
    RETRYING = "retrying"


class LogTally:
    def __init__(self, *, per_pod: bool) -> None:
        self.per_pod = per_pod
        self.events: dict[tuple[str, ...], float] = defaultdict(float)  # (ns, app[, pod], event)
        self.last_event_at: dict[tuple[str, ...], float] = {}  # (ns, app[, pod], event)
        self.lines: dict[tuple[str, ...], float] = defaultdict(float)  # (ns, app[, pod])
        self.pod_states: dict[tuple[str, str, str], PodState] = {}  # (ns, app, pod) -> from its latest event
        self.streams: dict[object, StreamState] = {}
        self.stream_restarts: dict[str, float] = defaultdict(float)  # by reason

    def _series(self, source: LogSource) -> tuple[str, ...]:
        return (source.namespace, source.app, source.pod) if self.per_pod else (source.namespace, source.app)

    def add_pod(self, source: LogSource) -> None:
        self.pod_states.setdefault((source.namespace, source.app, source.pod), PodState.UNKNOWN)

    def count(self, source: LogSource, lines: int, events: Iterable[tuple[Event, float]]) -> None:
        """`lines` whole lines were read from `source`, with these (event, unix time) among them, in order."""
        series = self._series(source)
        self.lines[series] += lines
        latest: Event | None = None
        for event, at in events:
            key = (*series, event.value)
            self.events[key] += 1
            if at >= self.last_event_at.get(key, 0.0):
                self.last_event_at[key] = at
            latest = event
        if latest is not None and source.pod:
            self.pod_states[(source.namespace, source.app, source.pod)] = STATE_AFTER[latest]

    def remove_pod(self, source: LogSource) -> None:
        self.pod_states.pop((source.namespace, source.app, source.pod), None)
        if not self.per_pod:
            return
        departed = (source.namespace, source.app, "")
        own = (source.namespace, source.app, source.pod)
        if own in self.lines:
            self.lines[departed] += self.lines.pop(own)
        for event in Event:
            key = (*own, event.value)
            if key in self.events:
                self.events[(*departed, event.value)] += self.events.pop(key)
            at = self.last_event_at.pop(key, None)
            if at is not None:
                departed_key = (*departed, event.value)
                self.last_event_at[departed_key] = max(at, self.last_event_at.get(departed_key, 0.0))

    def set_stream(self, stream: object, state: StreamState | None) -> None:
        if state is None:
            self.streams.pop(stream, None)
        else:
            self.streams[stream] = state

    def stream_restarted(self, reason: str) -> None:
        self.stream_restarts[reason] += 1

    def app_pod_counts(self) -> dict[tuple[str, str, PodState], int]:
        counts: dict[tuple[str, str, PodState], int] = defaultdict(int)
        for (namespace, app, _pod), state in self.pod_states.items():
            counts[(namespace, app, state)] += 1
        return counts
