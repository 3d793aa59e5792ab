"""The `diagnostics` part of the configuration: how often, and what the checks need to know about the cluster.

```yaml
diagnostics:
  interval: 60s                  # --diagnostics.interval; how often the exporter runs the checks
  audit_interval: 10m            # --diagnostics.audit-interval; how often it audits the cluster (lists every
                                 #   workload: heavier than the checks, and configurations change rarely)
  cluster_domain: cluster.local  # --diagnostics.cluster-domain
  app_selector: tier=app         # --diagnostics.app-selector; the application pods (default: logs.selector)
  namespace: petrosa-apps        # where short service names are resolved (default: POD_NAMESPACE, else default)
```
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exporter.config.durations import format_duration
from exporter.config.validate import duration, reject_unknown, text

DEFAULT_INTERVAL = 60.0
DEFAULT_AUDIT_INTERVAL = 600.0
DEFAULT_CLUSTER_DOMAIN = "cluster.local"


@dataclass(frozen=True, slots=True)
class DiagnosticsSettings:
    interval: float = DEFAULT_INTERVAL
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN
    app_selector: str | None = None
    namespace: str = "default"
    app_namespaces: tuple[str, ...] = ()  # where the applications run (logs.namespaces); empty: anywhere
    audit_interval: float = DEFAULT_AUDIT_INTERVAL


def add_diagnostics_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--diagnostics.interval", dest="diagnostics_interval", metavar="DURATION", help="default 60s")
    parser.add_argument(
        "--diagnostics.audit-interval", dest="diagnostics_audit_interval", metavar="DURATION", help="default 10m"
    )
    parser.add_argument("--diagnostics.cluster-domain", dest="diagnostics_cluster_domain", metavar="DOMAIN")
    parser.add_argument("--diagnostics.app-selector", dest="diagnostics_app_selector", metavar="SELECTOR")


def load_diagnostics_settings(
    args: argparse.Namespace,
    raw: Mapping[str, Any],
    environ: Mapping[str, str],
    logs_selector: str | None,
    logs_namespaces: tuple[str, ...] = (),
) -> DiagnosticsSettings:
    reject_unknown(
        raw, ("interval", "audit_interval", "cluster_domain", "app_selector", "namespace"), prefix="diagnostics."
    )
    flag_interval = getattr(args, "diagnostics_interval", None)
    interval = duration(
        "--diagnostics.interval" if flag_interval else "diagnostics.interval",
        flag_interval or raw.get("interval", format_duration(DEFAULT_INTERVAL)),
    )
    flag_audit = getattr(args, "diagnostics_audit_interval", None)
    audit_interval = duration(
        "--diagnostics.audit-interval" if flag_audit else "diagnostics.audit_interval",
        flag_audit or raw.get("audit_interval", format_duration(DEFAULT_AUDIT_INTERVAL)),
    )
    domain = getattr(args, "diagnostics_cluster_domain", None) or text(
        "diagnostics.cluster_domain", raw.get("cluster_domain")
    )
    selector = getattr(args, "diagnostics_app_selector", None) or text(
        "diagnostics.app_selector", raw.get("app_selector")
    )
    namespace = text("diagnostics.namespace", raw.get("namespace")) or environ.get("POD_NAMESPACE") or "default"
    return DiagnosticsSettings(
        interval=interval,
        cluster_domain=(domain or DEFAULT_CLUSTER_DOMAIN).strip("."),
        app_selector=selector or logs_selector,
        namespace=namespace,
        app_namespaces=logs_namespaces,
        audit_interval=audit_interval,
    )
