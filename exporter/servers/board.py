"""The latest result of the servers' view and what accumulated: read by the collector, `/apps` and the page."""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.servers.model import ServerView, Unmatched
from exporter.servers.tracker import Tracker
from exporter.servers.verdicts import PodVerdict


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One poll's outcome: the view, every listed pod's verdict and the connections no pod owns."""

    target: str
    view: ServerView
    pods: tuple[PodVerdict, ...]
    unmatched: tuple[Unmatched, ...]
    join_seconds: float  # CPU time of the join and the verdicts


@dataclass(slots=True)
class ServerViewBoard:
    """Written by the server-view loop only; replaced whole, so readers never see half a poll."""

    target: str
    per_pod: bool = False  # a `pod` label on the per-app gauges (--logs.per-pod)
    snapshot: Snapshot | None = None
    tracker: Tracker = field(default_factory=Tracker)
    polls: int = 0
