"""The Kubernetes panels show data, and the Kubernetes warnings fire, against real Prometheus and the fake API server.

The cluster (tests/dashboards/scenarios.py) has one NATS pod down behind its Service, a short Service name whose
full name does not resolve, an IP address in the applications' ConfigMap, an application failing and losing its
connection, and NetworkPolicies the exporter may not list. Prometheus loads the shipped rules with every `for:`
shortened from minutes to seconds.
"""

from __future__ import annotations

from pathlib import Path

from tests.alerts.rules import write_rules_with_short_for
from tests.alerts.stack import prometheus, wait_for_data
from tests.conftest import ExporterFactory, wait_for
from tests.dashboards import scenarios
from tests.dashboards.grafana import live_expressions

WARNINGS = {
    "NATSConnectivityEndpointDown": {"target": "default", "pod": "nats-1"},
    "NATSConnectivityDNSNameMismatch": {"target": "default"},
    "NATSConnectivityIPAddressConfigured": {"namespace": scenarios.APPS},
    "NATSConnectivityKubernetesForbidden": {"operation": "list networkpolicies"},
    "NATSConnectivityApplicationConnectFailures": {"namespace": scenarios.APPS, "app": scenarios.APP},
    "NATSConnectivityApplicationConnectionsLost": {"namespace": scenarios.APPS, "app": scenarios.APP},
}


async def test_kubernetes_panels_show_data_and_warnings_fire(start_exporter: ExporterFactory, tmp_path: Path) -> None:
    rules = write_rules_with_short_for(tmp_path / "rules.yaml", scale=1 / 60)
    async with scenarios.cluster(tmp_path) as cluster:
        running = await start_exporter(*cluster.exporter_args())
        host, port = running.exporter.bound_addresses[0]
        async with prometheus(tmp_path / "prometheus", scrape=[f"{host}:{port}"], rules=rules) as prom:
            await wait_for(
                lambda: prom.query("nats_connectivity_app_pods"), timeout=20, message="Prometheus to scrape the pods"
            )
            # The failing application goes on failing while Prometheus watches: its counters move.
            cluster.application_logs(*scenarios.GUIDE_LINES[1:])

            empty = await wait_for_data(prom, live_expressions(kubernetes=True), timeout=20)
            assert not empty, f"Kubernetes panels without data (Prometheus log: {prom.log}):\n" + "\n".join(
                f"{label}: {expr}" for label, expr in empty.items()
            )

            async def all_fired() -> bool:
                return all([await prom.firing(name) for name in WARNINGS])

            await wait_for(all_fired, timeout=30, message="the Kubernetes warnings to fire")
            for name, labels in WARNINGS.items():
                (alert,) = await prom.firing(name)
                assert alert["labels"]["severity"] == "warning"
                assert labels.items() <= alert["labels"].items(), (name, alert["labels"])
                assert alert["annotations"]["runbook_url"] == f"alerts/runbook.md#{name.lower()}"
            paging = [a["labels"]["alertname"] for a in await prom.alerts() if a["labels"]["severity"] == "critical"]
            assert paging == []
