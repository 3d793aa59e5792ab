"""The configuration audit's metric families, declared once, and the collector that builds them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from exporter.audit.model import AuditResult, Rule
from exporter.audit.runner import AuditBoard
from exporter.runtime.families import GaugeSpec

CONFIG_URL_INFO = GaugeSpec(
    "config_url_info",
    "A NATS URL in the cluster's configuration (ConfigMap key or workload env), with its host kind; always 1.",
    ("namespace", "kind", "name", "key", "host_kind", "service"),
)
CONFIG_VIOLATIONS = GaugeSpec(
    "config_violations",
    "Configuration audit findings by rule (ip_address, hardcoded_in_workload, short_name_cross_namespace, ...).",
    ("namespace", "rule"),
)
FAMILIES = (CONFIG_URL_INFO, CONFIG_VIOLATIONS)


class AuditCollector(Collector):
    """The latest audit of the live cluster, as metrics."""

    def __init__(self, board: AuditBoard) -> None:
        self._board = board

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {spec: spec.family() for spec in FAMILIES}
        if self._board.latest is not None:
            _add_audit(families, self._board.latest)
        yield from families.values()

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [spec.family() for spec in FAMILIES]


def _add_audit(families: dict[GaugeSpec, GaugeMetricFamily], audit: AuditResult) -> None:
    seen: set[tuple[str, ...]] = set()
    for entry in audit.inventory:
        labels = (
            entry.namespace,
            entry.kind,
            entry.name,
            entry.key,
            entry.host_kind.value if entry.host_kind else "invalid",
            entry.service,
        )
        if labels not in seen:  # one series per URL place, however many servers its list names
            seen.add(labels)
            families[CONFIG_URL_INFO].add_metric(list(labels), 1)
    counts = {(v.namespace, v.rule.value): v.count for v in audit.violations}
    # Every rule of every namespace with NATS URLs, at 0 when clean: an alert can tell "clean" from "not audited".
    for namespace in sorted({entry.namespace for entry in audit.inventory} | {ns for ns, _ in counts}):
        for rule in Rule:
            families[CONFIG_VIOLATIONS].add_metric([namespace, rule.value], counts.get((namespace, rule.value), 0))
