"""The shipped Grafana dashboards: their panels, their queries, and template variables expanded to real values."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.alerts.rules import NOT_SERVED_BY_SERVE, REPO, declared_families, metric_names

DASHBOARDS = sorted((REPO / "dashboards").glob("*.json"))
Json = dict[str, Any]

# Values a user would pick: for the lint (single values) and for a live Prometheus (the dashboards' "All").
LINT_VALUES = {
    "job": "nats-connectivity-exporter",
    "instance": "10.1.2.3:10025",
    "target": "default",
    "namespace": "petrosa-apps",
    "app": "binance-data-extractor",
    "phase": "rtt",
    "node": "worker-1",
}
ALL_VALUES = {
    "job": "nats-connectivity-exporter",
    "instance": ".+",
    "target": ".+",
    "namespace": ".*",
    "app": ".*",
    "phase": "rtt",
    "node": ".+",
}
GLOBALS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*(\w+)\s*\)\s*$", re.DOTALL)


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref: str
    expr: str

    @property
    def label(self) -> str:
        return f"{self.dashboard}: {self.panel} [{self.ref}]"


def load(path: Path) -> Json:
    document: Json = json.loads(path.read_text(encoding="utf-8"))
    return document


def panels(dashboard: Json) -> Iterator[Json]:
    """Every panel, rows included, and the panels inside collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: Json) -> list[Query]:
    title = dashboard["title"]
    return [
        Query(title, panel["title"], target.get("refId", "?"), target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def variables(dashboard: Json) -> list[Json]:
    found: list[Json] = dashboard.get("templating", {}).get("list", [])
    return found


def variable_query(variable: Json) -> str:
    query = variable.get("query", "")
    return str(query.get("query", "") if isinstance(query, dict) else query)


def label_values_selector(variable: Json) -> str | None:
    """The PromQL inside a `label_values(<selector>, label)` variable query, or None for another form."""
    match = _LABEL_VALUES.match(variable_query(variable))
    return match.group(1) if match else None


def expand(expr: str, values: Mapping[str, str]) -> str:
    """`expr` with Grafana's variables (`$x`, `${x}`, `${x:regex}`, `[[x]]`) replaced; unknown ones raise KeyError."""

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name in GLOBALS:
            return GLOBALS[name]
        return values[name]

    return _VARIABLE.sub(replace, expr)


def all_queries() -> list[Query]:
    return [query for path in DASHBOARDS for query in queries(load(path))]


# Metrics that only an exporter with Kubernetes access exposes (diagnostics, the audit, pods followed through the
# API): their panels are checked against the fake API server, the others against a plain exporter.
KUBERNETES_METRICS = frozenset(
    "nats_connectivity_" + name
    for name in (
        "check_success",
        "service_endpoints",
        "endpoint_probe_success",
        "endpoint_rtt_seconds",
        "config_url_info",
        "config_violations",
        "kubernetes_errors_total",
        "app_pods",
    )
)


def not_served_metrics() -> frozenset[str]:
    """Sample names of the families `serve` does not expose (see NOT_SERVED_BY_SERVE)."""
    return frozenset(name for name, declared in declared_families().items() if declared.package in NOT_SERVED_BY_SERVE)


def needs_connected_apps() -> frozenset[str]:
    """Sample names of the servers' view: they have data only when application pods connect to NATS, which the
    dashboard scenarios do not stage (tests/servers/test_view_through_the_exporter.py proves they fill /metrics)."""
    return frozenset(name for name, declared in declared_families().items() if declared.package == "servers")


def served_by_one_exporter(expr: str) -> bool:
    """Whether a plain `serve` exporter scraped by a plain Prometheus can give `expr` data: not when it uses a family
    `serve` does not expose or the servers' view (no application connects in the scenarios), nor when it selects by
    `node`, which only the agent's PodMonitor relabelling adds."""
    used = metric_names(expr)
    return not (used & not_served_metrics()) and not (used & needs_connected_apps()) and "$node" not in expr


def live_expressions(*, kubernetes: bool) -> dict[str, str]:
    """Every dashboard query that needs (or, with `kubernetes=False`, does not need) Kubernetes, as Grafana sends it
    with every variable on "All"; only those one `serve` exporter can fill (see `served_by_one_exporter`)."""
    return {
        query.label: expand(query.expr, ALL_VALUES)
        for query in all_queries()
        if bool(metric_names(query.expr) & KUBERNETES_METRICS) == kubernetes and served_by_one_exporter(query.expr)
    }
