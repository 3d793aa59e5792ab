"""Log-event counters through real Prometheus: `sum by (namespace, app) (increase(...[5m]))` does not move when pods
are deleted (departed pods' series are dropped, not folded into another series), and an application's first event
after its pods became known is seen (its series exist at 0 before it).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from exporter.demo.nats_server import NatsServer
from tests.alerts.stack import Prometheus, prometheus
from tests.conftest import ExporterFactory, RunningExporter, value, wait_for
from tests.fake_kube import FakeKube

NS = "apps"
LOST = "NATS connection lost"
SUM = 'sum by (namespace, app) (increase(nats_connectivity_log_events_total{event="lost"}[5m]))'


async def app_increase(prom: Prometheus) -> float | None:
    result = await prom.query(SUM)
    found = [float(r["value"][1]) for r in result if r["metric"].get("app") == "api"]
    return found[0] if found else None


async def scraped_without(running: RunningExporter, pod: str) -> bool:
    samples = await running.samples()
    return value(samples, "nats_connectivity_log_events_total", namespace=NS, app="api", pod=pod, event="lost") is None


@pytest.mark.slow
async def test_deleting_pods_does_not_move_the_apps_increase(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    pods = ("api-0", "api-1", "api-2")
    for pod in pods:
        kube.add_pod(NS, pod, labels={"tier": "app", "app": "api"})
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    running = await start_exporter(
        "--nats-url", nats_server.url, "--kubeconfig", str(kubeconfig), "--logs.selector", "tier=app",
        "--logs.namespaces", NS, "--logs.per-pod",
    )  # fmt: skip
    host, port = running.exporter.bound_addresses[0]
    rules = tmp_path / "rules.yaml"
    rules.write_text("groups: []\n")
    async with prometheus(tmp_path / "prometheus", scrape=[f"{host}:{port}"], rules=rules) as prom:
        # The series exist at 0 before any line: Prometheus has a 0 to start the increase from.
        await wait_for(lambda: _equals(prom, 0), timeout=30, message="the app's series at 0 in Prometheus")
        await wait_for(lambda: kube.open_streams("log") == 3, message="every pod followed")
        for pod in pods:
            kube.append_lines(NS, pod, [LOST, LOST])
        await wait_for(lambda: _equals(prom, 6), timeout=30, message="the first events seen by increase()")
        # increase() extrapolates by up to half a scrape interval: over 15 scrapes that is a few percent.
        await _scrapes(prom, 15)
        settled = await app_increase(prom)
        assert settled is not None

        for pod in ("api-0", "api-1"):  # one after the other: a fold would make the second one jump by 2
            kube.delete_pod(NS, pod)
            await wait_for(partial(scraped_without, running, pod), timeout=20, message=f"{pod}'s series gone")
            await _scrapes(prom, 3)
            after = await app_increase(prom)
            assert after is not None
            assert abs(after - settled) < 1.0, (pod, settled, after)
        samples = await running.samples()
        assert (
            value(samples, "nats_connectivity_log_events_total", namespace=NS, app="api", pod="", event="lost") is None
        )


async def _equals(prom: Prometheus, expected: int) -> bool:
    found = await app_increase(prom)
    return found is not None and round(found) == expected


async def _scrapes(prom: Prometheus, count: int) -> None:
    """Wait until Prometheus has scraped the exporter `count` more times (it scrapes every second)."""
    query = 'count_over_time(up{job="nats-connectivity-exporter"}[1h])'
    start = float((await prom.query(query))[0]["value"][1])

    async def scraped() -> bool:
        now = await prom.query(query)
        return bool(now) and float(now[0]["value"][1]) >= start + count

    await wait_for(scraped, timeout=count * 3 + 10, message=f"{count} more scrapes")
