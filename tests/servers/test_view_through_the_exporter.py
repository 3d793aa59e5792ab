"""The servers' view through the running exporter: application pods as the NATS servers see them, on /apps and /metrics.

A real three-server cluster (tests/servers/cluster.py), application pods in the fake API server whose podIPs are
loopback addresses, and real nats-py clients connecting from those addresses. The exporter is started as a user
would start it (`--kubeconfig`, a selector, `--apps.grace`, `--server-view.interval`); nothing of the feature is
called directly, so these tests fail if the wiring in `exporter/app.py` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ExporterFactory, RunningExporter, wait_for
from tests.fake_kube import FakeKube
from tests.fake_kube.objects import make_pod
from tests.servers.cluster import AppPod, Cluster, pod_ip, start_app_pod

pytestmark = pytest.mark.slow

NS = "shop"
APP = "orders"
LABELS = {"tier": "app", "app": APP}


def add_app_pod(kube: FakeKube, name: str, ip: str) -> None:
    """A Running, Ready application pod whose podIP is `ip` (created before its client connects, as in life)."""
    kube.add_object(make_pod(NS, name, labels=LABELS, pod_ip=ip))


async def apps(running: RunningExporter) -> dict[str, Any]:
    status, content_type, body = await running.get("/apps")
    assert status == 200
    assert content_type.startswith("application/json")
    document: dict[str, Any] = json.loads(body)
    return document


def verdicts(document: dict[str, Any]) -> dict[str, str | None]:
    return {pod["pod"]: pod["verdict"] for pod in document["pods"]}


async def start_viewing(
    start_exporter: ExporterFactory, kube: FakeKube, cluster: Cluster, tmp_path: Path, *selector: str
) -> RunningExporter:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    # `--server-view.interval 1s` alone is refused: the poll's timeout (default 5s) must fit in the interval.
    config = tmp_path / "config.yaml"
    config.write_text("server_view:\n  timeout: 1s\n")
    return await start_exporter(
        "--config", str(config), "--nats-url", cluster.url(0), "--kubeconfig", str(kubeconfig), *selector,
        "--apps.grace", "1s", "--server-view.interval", "1s", "--probe.interval", "1s",
    )  # fmt: skip


@pytest.mark.parametrize(
    "selector",
    [
        pytest.param(("--logs.selector", "tier=app", "--logs.namespaces", NS), id="shared-with-log-following"),
        pytest.param(("--apps.selector", "tier=app", "--apps.namespaces", NS), id="own-pod-watch"),
    ],
)
async def test_each_pod_connected_then_one_leaves(
    start_exporter: ExporterFactory,
    kube: FakeKube,
    cluster: Cluster,
    app_pods: list[AppPod],
    tmp_path: Path,
    selector: tuple[str, ...],
) -> None:
    for index in range(3):
        add_app_pod(kube, f"orders-{index}", pod_ip(index))
    kube.add_pod(NS, "db-0", labels={"tier": "db", "app": "db"})  # not selected: never expected
    for index in range(3):
        app_pods.append(await start_app_pod(cluster, f"orders-{index}", pod_ip(index), server=index))
    running = await start_viewing(start_exporter, kube, cluster, tmp_path, *selector)

    async def all_connected() -> dict[str, Any] | None:
        document = await apps(running)
        wanted = {f"orders-{i}": "connected" for i in range(3)}
        return document if verdicts(document) == wanted else None

    document = await wait_for(all_connected, timeout=20, message="/apps showing each pod connected")
    assert document["enabled"] is True
    assert document["view"]["servers_answered"] == 3
    assert sorted(document["view"]["servers"]) == ["nats-0", "nats-1", "nats-2"]
    by_pod = {pod["pod"]: pod for pod in document["pods"]}
    assert [by_pod[f"orders-{i}"]["servers"] for i in range(3)] == [["nats-0"], ["nats-1"], ["nats-2"]]
    (row,) = document["apps"]
    assert (row["namespace"], row["app"], row["expected"], row["connected"]) == (NS, APP, 3, 3)
    assert row["verdicts"].get("connected") == 3
    await wait_for(
        running.metric_is("nats_connectivity_app_pods_connected", 3, namespace=NS, app=APP),
        message="app_pods_connected == 3 on /metrics",
    )
    samples = await running.samples()
    assert samples[("nats_connectivity_app_pods_expected", frozenset({("namespace", NS), ("app", APP)}))] == 3

    # A client leaves: after the grace its pod is not_connected, on /apps and on /metrics.
    await app_pods[1].close()

    async def one_gone() -> dict[str, Any] | None:
        document = await apps(running)
        return document if verdicts(document).get("orders-1") == "not_connected" else None

    document = await wait_for(one_gone, timeout=20, message="orders-1 not_connected on /apps")
    assert verdicts(document) == {"orders-0": "connected", "orders-1": "not_connected", "orders-2": "connected"}
    await wait_for(
        running.metric_is("nats_connectivity_app_pods_connected", 2, namespace=NS, app=APP),
        message="app_pods_connected == 2 on /metrics",
    )
    await wait_for(
        running.metric_is("nats_connectivity_app_pod_verdicts", 1, namespace=NS, app=APP, verdict="not_connected"),
        message="one not_connected verdict on /metrics",
    )


async def test_apps_says_why_when_the_view_is_off(start_exporter: ExporterFactory, cluster: Cluster) -> None:
    running = await start_exporter("--nats-url", cluster.url(0))
    document = await apps(running)
    assert document["enabled"] is False
    assert "--apps.selector" in document["why"]
    assert await running.metric("nats_connectivity_app_pods_connected", namespace=NS, app=APP) is None
