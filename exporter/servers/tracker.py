"""What accumulates across polls: closes per reason, recent slow-consumer closes, reconnect gaps, known servers.

Kept apart from the pure join and verdicts so that those stay functions of one poll. One `Tracker` per target;
only the server-view loop calls `update`, so no locking is needed (one event loop).

Closes: a closed connection is counted once, by `(server_id, cid)`. The closed connections listed at the very first
poll are history from before the exporter started and are not counted; a server first seen later (restarted, new
id) has all its closes counted. Closes are attributed to the pods listed now; a deleted pod's closes are lost.

Reconnect gaps: a pod that had connections, then has connections none of which it had before, was without one in
between. The gap runs from the disconnect to the earliest new connection's start. The disconnect is dated by the
old connection's `stop` when a server still lists it closed, else by the pod's latest `lost`/`failed` log event when
it falls in the window, else by the last poll that saw the old connection: then the gap is an upper bound (at most
one interval too long), and `bounded` says so.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from exporter.servers.model import CloseReason, Connection, JoinResult, LogEntry, PodKey, ServerView

RECONNECT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
WAVE_SECONDS = 600.0  # gaps closer together than this belong to one restart or rollout
SERVER_MEMORY_SECONDS = 600.0  # a server seen this recently is still expected to answer

AppKey = tuple[str, str]  # (namespace, app)


@dataclass(slots=True)
class Histogram:
    """Cumulative bucket counts, sum and count: rendered as a Prometheus histogram at scrape time."""

    buckets: list[int] = field(default_factory=lambda: [0] * len(RECONNECT_BUCKETS))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        index = bisect.bisect_left(RECONNECT_BUCKETS, value)
        for position in range(index, len(self.buckets)):
            self.buckets[position] += 1
        self.total += value
        self.count += 1


@dataclass(frozen=True, slots=True)
class Gap:
    pod: str
    seconds: float
    at: float  # when the pod connected again
    bounded: bool  # True: an upper bound, the disconnect could not be dated better than by the last poll


@dataclass(slots=True)
class _PodMemory:
    keys: frozenset[tuple[str, int]]
    seen_at: float


@dataclass(slots=True)
class Tracker:
    closes: dict[AppKey, dict[CloseReason, int]] = field(default_factory=dict)
    reconnects: dict[AppKey, Histogram] = field(default_factory=dict)
    last_wave: dict[AppKey, list[Gap]] = field(default_factory=dict)
    slow_closed_at: dict[PodKey, float] = field(default_factory=dict)
    _seen_closed: set[tuple[str, int]] = field(default_factory=set)
    _baselined: bool = False
    _pods: dict[PodKey, _PodMemory] = field(default_factory=dict)
    _servers: dict[str, float] = field(default_factory=dict)  # server name -> last answered

    def know_apps(self, apps: Iterable[AppKey]) -> None:
        """Every app's counters exist (at 0) from the moment the app is known."""
        for app in apps:
            self.closes.setdefault(app, dict.fromkeys(CloseReason, 0))
            self.reconnects.setdefault(app, Histogram())

    def expected_servers(self, now: float, configured: int = 0) -> int:
        recent = sum(1 for at in self._servers.values() if now - at <= SERVER_MEMORY_SECONDS)
        return max(configured, recent)

    def update(
        self,
        view: ServerView,
        joined: JoinResult,
        apps: Mapping[PodKey, AppKey],
        logs: Mapping[PodKey, LogEntry],
    ) -> None:
        """Take in one poll. `apps` maps every listed pod to its (namespace, app)."""
        self.know_apps(set(apps.values()))
        if not view.ok:
            return
        for server in view.servers:
            self._servers[server.name] = view.collected_at
        self._count_closes(view, joined, apps)
        self._track_gaps(view, joined, apps, logs)
        live = set(apps)
        for gone in [key for key in self._pods if key not in live]:
            del self._pods[gone]
        for gone in [key for key in self.slow_closed_at if key not in live]:
            del self.slow_closed_at[gone]

    def _count_closes(self, view: ServerView, joined: JoinResult, apps: Mapping[PodKey, AppKey]) -> None:
        listed = {c.key for c in view.closed()}
        new = listed - self._seen_closed
        answered = {server.server_id for server in view.servers}
        # A close that left a server's newest page never comes back; a silent server's are kept for its return.
        self._seen_closed = listed | {key for key in self._seen_closed if key[0] not in answered}
        if not self._baselined:
            self._baselined = True
            new = set()
        for pod, closed in joined.closed_by_pod.items():
            app = apps.get(pod)
            for connection in closed:
                if connection.reason is CloseReason.SLOW_CONSUMER and connection.stop is not None:
                    self.slow_closed_at[pod] = max(self.slow_closed_at.get(pod, 0.0), connection.stop)
                if app is None or connection.key not in new or connection.reason is None:
                    continue
                self.closes[app][connection.reason] += 1

    def _track_gaps(
        self,
        view: ServerView,
        joined: JoinResult,
        apps: Mapping[PodKey, AppKey],
        logs: Mapping[PodKey, LogEntry],
    ) -> None:
        stops = {c.key: c.stop for c in view.closed() if c.stop is not None}
        for pod, connections in joined.by_pod.items():
            keys = frozenset(c.key for c in connections)
            before = self._pods.get(pod)
            self._pods[pod] = _PodMemory(keys, view.collected_at)
            if before is None or not before.keys or keys & before.keys:
                continue
            app = apps.get(pod)
            if app is None:
                continue
            back = min(c.start for c in connections)
            gap = self._gap(before, back, stops, logs.get(pod))
            if gap is None:
                continue
            seconds, bounded = gap
            self.reconnects[app].observe(seconds)
            wave = self.last_wave.setdefault(app, [])
            if wave and back - wave[-1].at > WAVE_SECONDS:
                wave.clear()
            wave.append(Gap(pod[1], seconds, back, bounded))

    @staticmethod
    def _gap(
        before: _PodMemory, back: float, stops: Mapping[tuple[str, int], float], log: LogEntry | None
    ) -> tuple[float, bool] | None:
        if back < before.seen_at - 1.0:
            # The new connection existed at the last poll already but was not seen (a server did not answer):
            # no gap can be dated.
            return None
        known = [stops[key] for key in before.keys if key in stops]
        if known:
            return max(0.0, back - max(known)), False
        lost = log.disconnected_at if log is not None else None
        if lost is not None and before.seen_at <= lost <= back:
            return back - lost, False
        return max(0.0, back - before.seen_at), True

    def worst(self, app: AppKey) -> Gap | None:
        wave = self.last_wave.get(app)
        return max(wave, key=lambda gap: gap.seconds) if wave else None


def app_keys(pods: Sequence[tuple[PodKey, str]]) -> dict[PodKey, AppKey]:
    return {key: (key[0], app) for key, app in pods}


__all__ = ["RECONNECT_BUCKETS", "Connection", "Gap", "Histogram", "Tracker", "app_keys"]
