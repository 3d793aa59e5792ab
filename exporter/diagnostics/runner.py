"""Running the checks: once for the `check` command, every `--diagnostics.interval` inside the exporter."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from exporter.config import Target
from exporter.config.diagnostics import DiagnosticsSettings
from exporter.diagnostics.checks import CHECKS, Check, CheckContext, CheckResult, CheckState, EndpointProbe
from exporter.kube.client import KubeApi
from exporter.runtime.waiting import wait_or_stop

log = logging.getLogger(__name__)


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
    target: Target, settings: DiagnosticsSettings, api: KubeApi | None, checks: Sequence[Check] = CHECKS
) -> Diagnosis:
    context = CheckContext(target=target, settings=settings, api=api)
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


async def diagnose_forever(
    targets: Sequence[Target],
    settings: DiagnosticsSettings,
    api: KubeApi | None,
    record: Callable[[Diagnosis], None],
    stopping: asyncio.Event,
) -> None:
    while True:
        for target in targets:
            record(await diagnose(target, settings, api))
        if await wait_or_stop(stopping, settings.interval):
            return
