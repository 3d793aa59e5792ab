"""No drift between the exporter and what is built on it: every metric the dashboards and the rules use is in the
real /metrics output, and every metric of the contract is used by a dashboard or a rule.

The exporter runs with everything on (tests/dashboards/scenarios.py): a NATS target, a followed log file and pods
followed through the fake Kubernetes API, diagnostics and the configuration audit, a 403 from the API.

Families `serve` does not expose yet (the servers' view and the cluster data path, not yet wired into app.py) or at
all (the node agent's log reading, from `agent` only) cannot be found in that output. For those, the reference is the
feature's own metrics.py (the specs the collectors build the families from): a name used must be a sample of a
family such a package declares (else the live check wants it, and a typo fails there), and every label the
dashboards and rules select or aggregate by must be one the family declares (or one Prometheus adds). When `serve`
starts exposing such a family, the live check fails and says to take it over.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.alerts.rules import (
    CONTRACT,
    PROMETHEUS_METRICS,
    SCRAPE_LABELS,
    declared_families,
    family,
    load_rules,
    metric_names,
    recorded_names,
    selectors,
)
from tests.conftest import ExporterFactory, RunningExporter, wait_for
from tests.dashboards import scenarios
from tests.dashboards.grafana import all_queries, not_served_metrics


def used_by_dashboards() -> dict[str, set[str]]:
    """Metric name -> the panels using it."""
    used: dict[str, set[str]] = {}
    for query in all_queries():
        for name in metric_names(query.expr):
            used.setdefault(name, set()).add(query.label)
    return used


def used_by_rules() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for rule in load_rules():
        in_templates = set(re.findall(r"\bnats_connectivity_\w+", " ".join(rule.annotations.values())))
        for name in metric_names(rule.expr) | in_templates:
            used.setdefault(name, set()).add(f"rule {rule.name}")
    return used


def exported_names(used: set[str]) -> set[str]:
    """The names the exporter must expose: not Prometheus's own (`up`) nor the rules' recorded series."""
    return used - PROMETHEUS_METRICS - recorded_names()


async def sample_names(running: RunningExporter, *, empty_gauges: bool = False) -> set[str]:
    """Every sample name; with `empty_gauges`, also each gauge family shown without samples yet (the servers' view
    lists its families before any application connects: `app_clients` has a series per client version only then)."""
    status, _, text = await running.get("/metrics")
    assert status == 200
    families = list(text_string_to_metric_families(text))
    gauges = {metrics.name for metrics in families if metrics.type == "gauge"} if empty_gauges else set()
    return gauges | {sample.name for metrics in families for sample in metrics.samples}


async def test_every_metric_used_is_exposed_by_the_exporter(start_exporter: ExporterFactory, tmp_path: Path) -> None:
    usage = used_by_dashboards()
    for name, users in used_by_rules().items():
        usage.setdefault(name, set()).update(users)
    not_served = not_served_metrics()
    wanted = exported_names(set(usage)) - not_served
    app_log = tmp_path / "legacy-app.log"
    app_log.write_text("", encoding="utf-8")

    async with scenarios.cluster(tmp_path) as cluster:
        running = await start_exporter(*cluster.exporter_args(), "--logs.file", f"legacy-app={app_log}")
        await scenarios.write_application_log(running, app_log, "legacy-app")
        missing = set(wanted)

        async def all_exposed() -> bool:
            missing.intersection_update(wanted - await sample_names(running, empty_gauges=True))
            return not missing

        with contextlib.suppress(AssertionError):  # the deadline: the assertion below names what is missing
            await wait_for(all_exposed, timeout=20, message="every metric used to appear")
    assert not missing, "used but not exposed:\n" + "\n".join(
        f"{name} (used by {', '.join(sorted(usage[name]))})" for name in sorted(missing)
    )
    served_now = await sample_names(running) & not_served
    assert not served_now, (
        f"serve now exposes {sorted(served_now)}: remove its package from NOT_SERVED_BY_SERVE (tests/alerts/rules.py) "
        "so the dashboards and rules are checked against /metrics for it"
    )


def _used_with_expressions() -> dict[str, list[tuple[str, str]]]:
    """Metric name -> (who, expression) for every dashboard query and rule (annotation templates included)."""
    used: dict[str, list[tuple[str, str]]] = {}
    for query in all_queries():
        for name in metric_names(query.expr):
            used.setdefault(name, []).append((query.label, query.expr))
    for rule in load_rules():
        texts = [rule.expr, *re.findall(r"`([^`]*)`", " ".join(rule.annotations.values()))]
        for text in texts:
            for name in metric_names(text):
                used.setdefault(name, []).append((f"rule {rule.name}", text))
    return used


_BY = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_LABEL = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")


def test_labels_used_are_labels_the_families_declare() -> None:
    """Every label a selector matches on, or an expression aggregates or joins by, is declared by one of the families
    the expression uses (or added by Prometheus: job, instance; by the agent's PodMonitor: node, namespace, pod;
    `le` for histogram buckets; those a label_replace() creates). Checked for the families `serve` does not expose,
    whose labels no live scrape confirms."""
    declared = declared_families()
    unconfirmed = not_served_metrics()
    problems = []
    for name, users in _used_with_expressions().items():
        if name not in unconfirmed:
            continue
        for who, expr in users:
            families = [declared[n] for n in metric_names(expr) if n in declared]
            allowed = set(SCRAPE_LABELS) | {"le"} | {label for d in families for label in d.labels}
            allowed |= set(re.findall(r'label_replace\([^"]*"(\w+)"', expr))
            matched = {label for s in selectors(expr) if s.name == name for label in _LABEL.findall(s.matchers)}
            grouped = {label.strip() for group in _BY.findall(expr) for label in group.split(",") if label.strip()}
            for label in sorted((matched | grouped) - allowed):
                problems.append(f"{who}: {label} ({name} declares {declared[name].labels})")
    assert not problems, "\n".join(problems)


def test_every_contract_metric_is_used_by_a_dashboard_or_a_rule() -> None:
    used = {family(name) for name in set(used_by_dashboards()) | set(used_by_rules())}
    assert not CONTRACT - used, f"contract metrics nothing uses: {sorted(CONTRACT - used)}"


def test_the_dashboards_use_only_contract_metrics_and_recorded_series() -> None:
    used = {family(name) for name in used_by_dashboards()}
    assert not used - CONTRACT - PROMETHEUS_METRICS - recorded_names()
