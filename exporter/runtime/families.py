"""How a metric family is declared: name, help, labels (and buckets), once, as a value.

Each feature declares its families in its own `metrics.py` with these specs, beside the code that produces the
values (as blackbox_exporter keeps `probe_http_*` in its HTTP prober); `exporter.exposition.catalogue` lists every
declared family for the README, the dashboards and the drift tests. The specs build both kinds of prometheus_client
objects: families filled at scrape time from a feature's state (`family()`), and live counters and histograms
(`create()`) for values that accumulate.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

# `_created` series would double every counter's and histogram's series for a value nobody queries; off for the
# whole process, here where the library's live counters are built, before any exists.
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated in prometheus_client

PREFIX = "nats_connectivity_"
LATENCY_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _with_extra(labels: tuple[str, ...], extra: tuple[str, ...]) -> list[str]:
    """`extra` labels (the optional `pod`) go after namespace and app, before the rest."""
    return [*labels[:2], *extra, *labels[2:]] if extra else list(labels)


@dataclass(frozen=True, slots=True)
class GaugeSpec:
    name: str
    help: str
    labels: tuple[str, ...]
    kind = "gauge"

    @property
    def full_name(self) -> str:
        return PREFIX + self.name

    def family(self, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(self.full_name, self.help, labels=_with_extra(self.labels, extra))


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """`name` without the `_total` suffix, as prometheus_client wants it."""

    name: str
    help: str
    labels: tuple[str, ...]
    kind = "counter"

    @property
    def full_name(self) -> str:
        return PREFIX + self.name

    def family(self, extra: tuple[str, ...] = ()) -> CounterMetricFamily:
        return CounterMetricFamily(self.full_name, self.help, labels=_with_extra(self.labels, extra))

    def create(self, registry: CollectorRegistry) -> Counter:
        return Counter(self.full_name, self.help, list(self.labels), registry=registry)


@dataclass(frozen=True, slots=True)
class HistogramSpec:
    name: str
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    kind = "histogram"

    @property
    def full_name(self) -> str:
        return PREFIX + self.name

    def family(self, extra: tuple[str, ...] = ()) -> HistogramMetricFamily:
        return HistogramMetricFamily(self.full_name, self.help, labels=_with_extra(self.labels, extra))

    def create(self, registry: CollectorRegistry) -> Histogram:
        return Histogram(self.full_name, self.help, list(self.labels), buckets=self.buckets, registry=registry)


Spec = GaugeSpec | CounterSpec | HistogramSpec
