"""What the application logs said, counted: per app (and pod, when asked), per event; the metrics are its view.

Every series exists at 0 from the moment its pod (or file) is known, so `increase()` sees the first event. With
per-pod series, a pod that goes away takes its series with it: they are dropped, never folded into another series
(a fold would make `sum by (namespace, app) (increase(...))` jump on every deletion; a vanished series does not).
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


# Every reason a stream is reopened (the `reason` of log_stream_restarts_total), each at 0 from the start: the pod
# follower's ends (ended, silence, lifetime, error), and a file's rotation or truncation (log files, the agent).
RESTART_REASONS = ("ended", "silence", "lifetime", "error", "rotated", "truncated")


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
        self.stream_restarts: dict[str, float] = dict.fromkeys(RESTART_REASONS, 0.0)  # by reason, all from 0
        self.unplaceable: dict[str, float] = defaultdict(float)  # lines that could not be placed, by reason
        self.gaps: dict[str, float] = defaultdict(float)  # detected runs of lines that could not be read, by reason
        self._sources: dict[tuple[str, ...], int] = defaultdict(int)  # series -> pods (or files) that feed it
        self._pod_instances: dict[tuple[str, str, str], int] = defaultdict(int)  # (ns, app, pod) -> live UIDs
        # When each pod's latest event was logged, and its latest lost/failed one: what the servers' view needs to
        # date a reconnect gap from the application's side.
        self.pod_event_at: dict[tuple[str, str, str], float] = {}
        self.pod_lost_at: dict[tuple[str, str, str], float] = {}

    def _series(self, source: LogSource) -> tuple[str, ...]:
        return (source.namespace, source.app, source.pod) if self.per_pod else (source.namespace, source.app)

    def add_source(self, source: LogSource) -> None:
        """A pod or file is known: its series exist from now on, at 0 until lines come."""
        series = self._series(source)
        self._sources[series] += 1
        self.lines[series] += 0
        for event in Event:
            self.events[(*series, event.value)] += 0

    def add_pod(self, source: LogSource) -> None:
        """A pod (one UID) is known. A pod re-created under the same name starts `unknown`: its predecessor's
        events say nothing about it."""
        key = (source.namespace, source.app, source.pod)
        self.pod_states[key] = PodState.UNKNOWN
        self.pod_event_at.pop(key, None)
        self.pod_lost_at.pop(key, None)
        self._pod_instances[key] += 1
        self.add_source(source)

    def count(self, source: LogSource, lines: int, events: Iterable[tuple[Event, float]]) -> None:
        """`lines` whole lines were read from `source`, with these (event, unix time) among them, in order."""
        series = self._series(source)
        self.lines[series] += lines
        latest: Event | None = None
        latest_at = 0.0
        lost_at: float | None = None
        for event, at in events:
            key = (*series, event.value)
            self.events[key] += 1
            if at >= self.last_event_at.get(key, 0.0):
                self.last_event_at[key] = at
            latest, latest_at = event, at
            if STATE_AFTER[event] is PodState.DISCONNECTED:
                lost_at = at
        if latest is not None and source.pod:
            pod = (source.namespace, source.app, source.pod)
            self.pod_states[pod] = STATE_AFTER[latest]
            self.pod_event_at[pod] = latest_at
            if lost_at is not None:
                self.pod_lost_at[pod] = lost_at

    def remove_pod(self, source: LogSource) -> None:
        """The pod is gone and its streams are done: with per-pod series, its series go too (once no pod of the
        same name, re-created meanwhile, still feeds them)."""
        key = (source.namespace, source.app, source.pod)
        self._pod_instances[key] -= 1
        if self._pod_instances[key] <= 0:  # the last instance of that name: its state goes
            del self._pod_instances[key]
            self.pod_states.pop(key, None)
            self.pod_event_at.pop(key, None)
            self.pod_lost_at.pop(key, None)
        series = self._series(source)
        self._sources[series] -= 1
        if self._sources[series] > 0 or not self.per_pod:
            return
        del self._sources[series]
        self.lines.pop(series, None)
        for event in Event:
            self.events.pop((*series, event.value), None)
            self.last_event_at.pop((*series, event.value), None)

    def unplaceable_line(self, reason: str) -> None:
        self.unplaceable[reason] += 1

    def gap(self, reason: str) -> None:
        self.gaps[reason] += 1

    def set_stream(self, stream: object, state: StreamState | None) -> None:
        if state is None:
            self.streams.pop(stream, None)
        else:
            self.streams[stream] = state

    def stream_restarted(self, reason: str) -> None:
        self.stream_restarts[reason] = self.stream_restarts.get(reason, 0.0) + 1

    def followed_apps(self) -> set[tuple[str, str]]:
        """(namespace, app) of every followed application, from pods or files (namespace "")."""
        apps = {(key[0], key[1]) for key, sources in self._sources.items() if sources > 0}
        return apps | {(namespace, app) for namespace, app, _pod in self.pod_states}

    def app_pod_counts(self) -> dict[tuple[str, str, PodState], int]:
        counts: dict[tuple[str, str, PodState], int] = defaultdict(int)
        for (namespace, app, _pod), state in self.pod_states.items():
            counts[(namespace, app, state)] += 1
        return counts
