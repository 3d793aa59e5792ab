"""The configuration audit of the live cluster, run periodically inside the exporter."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from exporter.audit.cluster import audit_cluster
from exporter.audit.model import DEFAULT_OPTIONS, AuditResult
from exporter.config.diagnostics import DiagnosticsSettings
from exporter.kube.client import KubeApi, KubeError
from exporter.runtime.waiting import wait_or_stop

log = logging.getLogger(__name__)


AuditRecorder = Callable[[AuditResult | None], None]


class AuditBoard:
    """The latest audit of the live cluster; None while nothing could be read (no stale figures)."""

    def __init__(self) -> None:
        self.latest: AuditResult | None = None


async def audit_forever(
    api: KubeApi,
    settings: DiagnosticsSettings,
    record: AuditRecorder,
    stopping: asyncio.Event,
    namespaces: Sequence[str] = (),
) -> None:
    """IP-address NATS URLs and the other rules, every `audit_interval` (10 minutes by default: it lists every
    workload of the cluster, pages of PAGE_SIZE, and configurations change rarely).

    `namespaces` limits it to those (per-namespace Roles suffice); empty: the whole cluster.
    """
    options = replace(DEFAULT_OPTIONS, cluster_domain=settings.cluster_domain, default_namespace=settings.namespace)
    previous: int | None = None
    while True:
        audit: AuditResult | None
        try:
            audit = await audit_cluster(api, options, namespaces)
        except KubeError:
            audit = None  # nothing readable: counted and logged by the client; no stale figures
        record(audit)
        findings = len(audit.findings) if audit is not None else None
        if findings != previous and findings is not None:
            (log.warning if findings else log.info)("configuration audit", extra={"findings": findings})
        previous = findings
        if await wait_or_stop(stopping, settings.audit_interval):
            return
