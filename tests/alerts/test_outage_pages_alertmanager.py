"""NATS goes down: the page reaches the pager through real Prometheus and Alertmanager; NATS comes back: resolved.

The exporter probes a real nats-server every second and follows an application's log file. Prometheus loads the
shipped rules with every `for:` shortened from minutes to seconds, and sends to Alertmanager, which pages critical
alerts to the webhook's /pager and files the rest under /tickets. Then every dashboard query that needs no
Kubernetes runs against that Prometheus and must return data (the Kubernetes ones: tests/dashboards).
"""

from __future__ import annotations

from pathlib import Path

from exporter.demo.nats_server import NatsServer
from tests.alerts.rules import write_rules_with_short_for
from tests.alerts.stack import alertmanager, prometheus, wait_for_data, webhook
from tests.conftest import ExporterFactory, wait_for
from tests.dashboards.grafana import live_expressions
from tests.dashboards.scenarios import write_application_log

RUNBOOK_BASE = "https://github.com/example/nats-connectivity-exporter/blob/v0.1.0"
ALERT = "NATSConnectivityUnreachable"


async def test_nats_outage_pages_then_resolves(
    nats_server: NatsServer, start_exporter: ExporterFactory, tmp_path: Path
) -> None:
    app_log = tmp_path / "app.log"
    app_log.write_text("starting\n", encoding="utf-8")
    running = await start_exporter(
        "--nats-url", nats_server.url, "--probe.interval", "1s", "--probe.timeout", "800ms",
        "--logs.file", f"demo-app={app_log}",
    )  # fmt: skip
    await write_application_log(running, app_log, "demo-app")
    host, port = running.exporter.bound_addresses[0]
    instance = f"{host}:{port}"
    rules = write_rules_with_short_for(tmp_path / "rules.yaml", scale=1 / 60)  # 2m -> 2s

    async with (
        webhook() as hook,
        alertmanager(tmp_path / "alertmanager", receiver_url=hook.url) as am_address,
        prometheus(
            tmp_path / "prometheus",
            scrape=[instance],
            rules=rules,
            alertmanager=am_address,
            external_labels={"runbook_base_url": RUNBOOK_BASE},
        ) as prom,
    ):
        await wait_for(
            lambda: prom.query('nats_connectivity_probe_success{job="nats-connectivity-exporter"} == 1'),
            timeout=20,
            message="Prometheus to scrape a successful probe",
        )

        await nats_server.stop()
        await wait_for(lambda: hook.received(ALERT, "firing"), timeout=30, message=f"{ALERT} at the webhook")
        page = hook.received(ALERT, "firing")[0]
        assert page.receiver == "pager"
        assert page.alert["labels"] == {
            "alertname": ALERT,
            "severity": "critical",
            "job": "nats-connectivity-exporter",
            "instance": instance,
            "target": "default",
            "runbook_base_url": RUNBOOK_BASE,
        }
        annotations = page.alert["annotations"]
        assert annotations["summary"] == "NATS is unreachable from the cluster (target default)."
        assert annotations["description"].startswith(f"Every probe of target default from {instance} has failed")
        assert annotations["description"].endswith("Most frequent failure in the last 5 minutes: connection_refused.")
        assert annotations["runbook_url"] == f"{RUNBOOK_BASE}/alerts/runbook.md#natsconnectivityunreachable"

        await nats_server.start()
        await wait_for(lambda: hook.received(ALERT, "resolved", "pager"), timeout=30, message=f"{ALERT} resolved")
        resolved = hook.received(ALERT, "resolved", "pager")[0]
        assert resolved.alert["labels"] == page.alert["labels"]
        assert resolved.alert["startsAt"] == page.alert["startsAt"]
        # Nothing else paged: the warnings the outage caused (heartbeats, application log events) are tickets.
        assert {n.alert["labels"]["alertname"] for n in hook.notifications if n.receiver == "pager"} == {ALERT}
        assert all(n.alert["labels"]["severity"] == "warning" for n in hook.notifications if n.receiver == "tickets")

        empty = await wait_for_data(prom, live_expressions(kubernetes=False), timeout=20)
        assert not empty, f"dashboard queries without data (Prometheus log: {prom.log}):\n" + "\n".join(
            f"{label}: {expr}" for label, expr in empty.items()
        )
