"""Running the checks: once for the `check` command, every `--diagnostics.interval` inside the exporter."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from exporter.audit import AuditResult, audit_cluster
from exporter.audit.model import DEFAULT_OPTIONS
from exporter.config import Target
from exporter.config.diagnostics import DiagnosticsSettings
from exporter.diagnostics.checks import CHECKS, Check, CheckContext, CheckResult, CheckState, EndpointProbe
from exporter.kube.client import KubeApi, KubeError
from exporter.runtime.supervisor import wait_or_stop

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
    """The latest diagnosis per target and the latest configuration audit; the metrics and the page read them."""

    def __init__(self) -> None:
        self.latest: dict[str, Diagnosis] = {}
        self.audit: AuditResult | None = None
        self._failing: dict[str, frozenset[str]] = {}

    def record(self, diagnosis: Diagnosis) -> None:
        self.latest[diagnosis.target] = diagnosis
        failing = frozenset(result.name for result in diagnosis.failed)
        if failing != self._failing.get(diagnosis.target, frozenset()):
            fields = {"target": diagnosis.target, "failing": ",".join(sorted(failing)) or "none"}
            (log.warning if failing else log.info)("diagnostics changed", extra=fields)
        self._failing[diagnosis.target] = failing

    def forget(self, names: set[str]) -> None:
        for name in list(self.latest):
            if name not in names:
                del self.latest[name]
                self._failing.pop(name, None)


async def audit_forever(
    api: KubeApi,
    settings: DiagnosticsSettings,
    board: DiagnosticsBoard,
    stopping: asyncio.Event,
    namespaces: Sequence[str] = (),
) -> None:
    """The configuration audit of the live cluster, every interval: IP-address NATS URLs and the other rules.

    `namespaces` limits it to those (per-namespace Roles suffice); empty: the whole cluster.
    """
    options = replace(DEFAULT_OPTIONS, cluster_domain=settings.cluster_domain, default_namespace=settings.namespace)
    previous: int | None = None
    while True:
        try:
            board.audit = await audit_cluster(api, options, namespaces)
        except KubeError:
            board.audit = None  # nothing readable: counted and logged by the client; no stale figures
        findings = len(board.audit.findings) if board.audit is not None else None
        if findings != previous and findings is not None:
            (log.warning if findings else log.info)("configuration audit", extra={"findings": findings})
        previous = findings
        if await wait_or_stop(stopping, settings.interval):
            return


async def diagnose_forever(
    targets: Sequence[Target],
    settings: DiagnosticsSettings,
    api: KubeApi | None,
    board: DiagnosticsBoard,
    stopping: asyncio.Event,
) -> None:
    while True:
        for target in targets:
            board.record(await diagnose(target, settings, api))
        board.forget({target.name for target in targets})
        if await wait_or_stop(stopping, settings.interval):
            return
