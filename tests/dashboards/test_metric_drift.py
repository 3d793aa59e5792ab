"""No drift between the exporter and what is built on it: every metric the dashboards and the rules use is in the
real /metrics output, and every metric of the contract is used by a dashboard or a rule.

The exporter runs with everything on (tests/dashboards/scenarios.py): a NATS target, a followed log file and pods
followed through the fake Kubernetes API, diagnostics and the configuration audit, a 403 from the API.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.alerts.rules import CONTRACT, PROMETHEUS_METRICS, family, load_rules, metric_names, recorded_names
from tests.conftest import ExporterFactory, RunningExporter, wait_for
from tests.dashboards import scenarios
from tests.dashboards.grafana import all_queries


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


async def sample_names(running: RunningExporter) -> set[str]:
    status, _, text = await running.get("/metrics")
    assert status == 200
    return {sample.name for metrics in text_string_to_metric_families(text) for sample in metrics.samples}


async def test_every_metric_used_is_exposed_by_the_exporter(start_exporter: ExporterFactory, tmp_path: Path) -> None:
    usage = used_by_dashboards()
    for name, users in used_by_rules().items():
        usage.setdefault(name, set()).update(users)
    wanted = exported_names(set(usage))
    app_log = tmp_path / "legacy-app.log"
    app_log.write_text("", encoding="utf-8")

    async with scenarios.cluster(tmp_path) as cluster:
        running = await start_exporter(*cluster.exporter_args(), "--logs.file", f"legacy-app={app_log}")
        await scenarios.write_application_log(running, app_log, "legacy-app")
        missing = set(wanted)

        async def all_exposed() -> bool:
            missing.intersection_update(wanted - await sample_names(running))
            return not missing

        with contextlib.suppress(AssertionError):  # the deadline: the assertion below names what is missing
            await wait_for(all_exposed, timeout=20, message="every metric used to appear")
    assert not missing, "used but not exposed:\n" + "\n".join(
        f"{name} (used by {', '.join(sorted(usage[name]))})" for name in sorted(missing)
    )


def test_every_contract_metric_is_used_by_a_dashboard_or_a_rule() -> None:
    used = {family(name) for name in set(used_by_dashboards()) | set(used_by_rules())}
    assert not CONTRACT - used, f"contract metrics nothing uses: {sorted(CONTRACT - used)}"


def test_the_dashboards_use_only_contract_metrics_and_recorded_series() -> None:
    used = {family(name) for name in used_by_dashboards()}
    assert not used - CONTRACT - PROMETHEUS_METRICS - recorded_names()
