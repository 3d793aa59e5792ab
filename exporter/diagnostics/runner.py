"""Running the checks: once for the `check` command, every `--diagnostics.interval` inside the exporter."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from exporter.config import Target
from exporter.config.diagnostics import DiagnosticsSettings
from exporter.diagnostics.checks import CHECKS, Check, CheckContext, CheckResult, CheckState, EndpointProbe
from exporter.kube.client import KubeApi
from exporter.probe.result import ProbeResult
from exporter.runtime.waiting import wait_any, wait_or_stop

log = logging.getLogger(__name__)

INCIDENT_MIN_GAP = 10.0  # seconds: a target is diagnosed for an incident at most this often


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Every check's result for one target, and the facts the metrics show beside them."""

    target: str
    at: float
    results: tuple[CheckResult, ...]
    endpoints: tuple[EndpointProbe, ...] = ()
    ready_endpoints: int | None = None
    not_ready_endpoints: int | None = None

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(result for result in self.results if result.state is CheckState.FAIL)


async def diagnose(
    target: Target,
    settings: DiagnosticsSettings,
    api: KubeApi | None,
    checks: Sequence[Check] = CHECKS,
    *,
    latest: ProbeResult | None = None,
) -> Diagnosis:
    """Run every check for `target`; `latest` is the exporter's own probe result, which the NATS checks reuse."""
    context = CheckContext(target=target, settings=settings, api=api, latest=latest)
    results = []
    for check in checks:
        results.append(await check(context))
    return Diagnosis(
        target=target.name,
        at=time.time(),
        results=tuple(results),
        endpoints=tuple(context.endpoints),
        ready_endpoints=context.ready_endpoints,
        not_ready_endpoints=context.not_ready_endpoints,
    )


class DiagnosticsBoard:
    """The latest diagnosis per target; the metrics and the page read them."""

    def __init__(self) -> None:
        self.latest: dict[str, Diagnosis] = {}
        self._failing: dict[str, frozenset[str]] = {}

    def record(self, diagnosis: Diagnosis) -> None:
        self.latest[diagnosis.target] = diagnosis
        failing = frozenset(result.name for result in diagnosis.failed)
        if failing != self._failing.get(diagnosis.target, frozenset()):
            fields = {"target": diagnosis.target, "failing": ",".join(sorted(failing)) or "none"}
            (log.warning if failing else log.info)("diagnostics changed", extra=fields)
        self._failing[diagnosis.target] = failing

    def forget(self, name: str) -> None:
        self.latest.pop(name, None)
        self._failing.pop(name, None)


class Incidents:
    """Targets whose state just changed, to be diagnosed at once: at most once per `min_gap` seconds each, so a
    flapping target cannot keep the Kubernetes API busy."""

    def __init__(self, min_gap: float = INCIDENT_MIN_GAP, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_gap = min_gap
        self._clock = clock
        self._pending: set[str] = set()
        self._last: dict[str, float] = {}
        self.arrived = asyncio.Event()

    def changed(self, target: str) -> None:
        """A target went up or down (the state's transition); wakes the diagnostics worker."""
        self._pending.add(target)
        self.arrived.set()

    def diagnosed(self, target: str) -> None:
        self._last[target] = self._clock()

    def take_due(self) -> list[str]:
        """The pending targets whose last diagnosis is at least `min_gap` old; they leave the pending set."""
        now = self._clock()
        due = sorted(t for t in self._pending if now - self._last.get(t, -math.inf) >= self.min_gap)
        self._pending.difference_update(due)
        if not self._pending:
            self.arrived.clear()
        return due

    def next_due_in(self) -> float:
        """Seconds until the earliest pending target may run (inf when none waits)."""
        now = self._clock()
        waits = [self._last.get(t, -math.inf) + self.min_gap - now for t in self._pending]
        return max(0.0, min(waits)) if waits else math.inf


async def diagnose_forever(
    targets: Sequence[Target],
    settings: DiagnosticsSettings,
    api: KubeApi | None,
    record: Callable[[Diagnosis], None],
    stopping: asyncio.Event,
    *,
    latest: Callable[[str], ProbeResult | None] | None = None,
    incidents: Incidents | None = None,
) -> None:
    """Every target each `settings.interval`, and a target whose state changed at once (see `Incidents`).

    `latest` gives the exporter's latest probe of a target, so the checks that need NATS reuse it.
    """
    loop = asyncio.get_running_loop()
    by_name = {target.name: target for target in targets}
    incidents = incidents or Incidents()

    async def run(target: Target) -> None:
        incidents.diagnosed(target.name)
        record(await diagnose(target, settings, api, latest=latest(target.name) if latest else None))

    next_round = loop.time()
    while not stopping.is_set():
        if loop.time() >= next_round:
            next_round = loop.time() + settings.interval
            for target in targets:
                await run(target)
        for name in incidents.take_due():
            if name in by_name:
                await run(by_name[name])
        wait = min(next_round - loop.time(), incidents.next_due_in())
        if incidents.next_due_in() == math.inf:
            await wait_any((stopping, incidents.arrived), wait)
        else:
            await wait_or_stop(stopping, wait)
