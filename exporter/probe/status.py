"""The exporter's memory of what it has seen: the latest result per target and the recent state changes.

Probe workers and sessions write here; the metrics collector, the landing page and the logs read from here.
Deciding "did the state change?" happens once, in `StatusBoard.record`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from exporter.config import Target
from exporter.probe.result import Phase, ProbeResult, Reason

HISTORY_SIZE = 100
TIMELINE_SPAN = 3600.0  # seconds of recent history kept per target for its timeline
TIMELINE_SLOT = 10.0  # seconds per point: an hour is 360 points whatever the probe interval
TIMELINE_POINTS = int(TIMELINE_SPAN / TIMELINE_SLOT)


class State(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Transition:
    """A target's state change, or a new failure reason while it stays down."""

    at: float
    target: str
    previous: State
    current: State
    reason: Reason | None
    detail: str


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """One slot of a target's recent history: down if any probe in it failed; each phase's longest time."""

    slot: int  # start of the slot, in TIMELINE_SLOTs since the epoch
    ok: bool
    phases: tuple[float | None, ...]  # seconds per Phase, in Phase order; None where no probe reached it
    probes: int = 1

    @property
    def at(self) -> float:
        return self.slot * TIMELINE_SLOT

    @classmethod
    def of(cls, result: ProbeResult) -> TimelinePoint:
        return cls(int(result.started_at // TIMELINE_SLOT), result.ok, tuple(result.phases.get(p) for p in Phase))

    def merged(self, other: TimelinePoint) -> TimelinePoint:
        phases = tuple(
            a if b is None else b if a is None else max(a, b) for a, b in zip(self.phases, other.phases, strict=True)
        )
        return TimelinePoint(self.slot, self.ok and other.ok, phases, self.probes + other.probes)


@dataclass(slots=True)
class TargetStatus:
    target: Target
    last: ProbeResult | None = None
    last_failure: ProbeResult | None = None
    last_success_at: float | None = None
    state_since: float | None = None
    session_connected: bool | None = None
    version: int = 0  # bumped on every change, so views can cache what they render
    # The last hour, one point per slot: a bounded ring, whatever the interval.
    timeline: deque[TimelinePoint] = field(default_factory=lambda: deque(maxlen=TIMELINE_POINTS))

    def add_to_timeline(self, result: ProbeResult) -> None:
        point = TimelinePoint.of(result)
        if self.timeline and self.timeline[-1].slot == point.slot:
            self.timeline[-1] = self.timeline[-1].merged(point)
        elif not self.timeline or point.slot > self.timeline[-1].slot:
            self.timeline.append(point)
        while self.timeline and self.timeline[0].slot <= point.slot - TIMELINE_POINTS:
            self.timeline.popleft()  # older than the span (after a pause in probing)

    @property
    def state(self) -> State:
        if self.last is None:
            return State.UNKNOWN
        return State.UP if self.last.ok else State.DOWN


class StatusBoard:
    def __init__(self, targets: Iterable[Target] = (), on_change: Callable[[str], None] | None = None) -> None:
        self._targets: dict[str, TargetStatus] = {}
        self.history: deque[Transition] = deque(maxlen=HISTORY_SIZE)
        self.on_change = on_change  # told the target's name after each change (the metrics pre-render it)
        for target in targets:
            self.add_target(target)

    def add_target(self, target: Target) -> None:
        existing = self._targets.get(target.name)
        if existing is not None:
            existing.target = target  # a reload changed its settings; what was seen still holds
            self._changed(existing)
        else:
            self._targets[target.name] = TargetStatus(target=target)

    def remove_target(self, name: str) -> None:
        self._targets.pop(name, None)

    def targets(self) -> list[TargetStatus]:
        return list(self._targets.values())

    def get(self, name: str) -> TargetStatus | None:
        return self._targets.get(name)

    @property
    def ready(self) -> bool:
        """Every target has been probed at least once."""
        return all(status.last is not None for status in self._targets.values())

    def record(self, result: ProbeResult) -> Transition | None:
        """Store a probe result; return the transition it causes, if any."""
        status = self._targets.get(result.target)
        if status is None:
            return None  # the target was removed while its probe ran
        previous_state = status.state
        previous_reason = status.last.reason if status.last is not None else None
        status.last = result
        status.add_to_timeline(result)
        self._changed(status)
        if result.ok:
            status.last_success_at = result.started_at
        else:
            status.last_failure = result
        current_state = status.state
        if current_state is previous_state and result.reason is previous_reason:
            return None
        if current_state is not previous_state:
            status.state_since = result.started_at
        transition = Transition(
            at=result.started_at,
            target=result.target,
            previous=previous_state,
            current=current_state,
            reason=result.reason,
            detail=result.detail,
        )
        self.history.append(transition)
        return transition

    def set_session_connected(self, name: str, connected: bool | None) -> None:
        status = self._targets.get(name)
        if status is not None and status.session_connected is not connected:
            status.session_connected = connected
            self._changed(status)

    def _changed(self, status: TargetStatus) -> None:
        status.version += 1
        if self.on_change is not None:
            self.on_change(status.target.name)
