"""The status page's sections for the servers' view and the cluster, from a running exporter, in HTML and in Chromium.

A real three-server cluster with JetStream, cluster probes turned on in the config file, application pods in the
fake API server connected from their own loopback addresses (one pod never connects). The page must show the
applications as the servers see them (the pod not connected, with its verdict), each server, the route matrix and
JetStream; and in a browser it must render without console errors and fit a 390 px phone.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
import yaml
from nats.aio.client import Client

from tests.cdp import launch_chromium
from tests.cluster.conftest import PROBE_PASSWORD, PROBE_USER, Cluster, close_cluster, start_cluster
from tests.conftest import ExporterFactory, RunningExporter, wait_for
from tests.fake_kube import FakeKube
from tests.fake_kube.objects import make_pod
from tests.servers.cluster import Relay, pod_ip
from tests.web.test_status_page_in_browser import DESKTOP, OUTPUT, PHONE, chromium_binary, load, problems, screenshot

pytestmark = pytest.mark.slow

NS = "shop"
TARGET = "main"


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    started = await start_cluster(3, jetstream=True)
    yield started
    await close_cluster(started)


@contextlib.asynccontextmanager
async def app_client(cluster: Cluster, ip: str) -> AsyncIterator[Client]:
    """A client whose connection comes from `ip`, in the probe user's account (the one the view can list)."""
    server = cluster.servers[0]
    relay = Relay(ip, (server.host, server.port))
    port = await relay.start()

    async def quiet(_: Exception) -> None:
        return None

    client = await nats.connect(
        f"nats://{PROBE_USER}:{PROBE_PASSWORD}@{ip}:{port}", name="orders", error_cb=quiet, allow_reconnect=False
    )
    await client.subscribe("orders.in")
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await client.close()
        await relay.close()


async def start(start_exporter: ExporterFactory, cluster: Cluster, kube: FakeKube, tmp_path: Path) -> RunningExporter:
    target = {
        "name": TARGET,
        "url": [f"nats://{server.host}:{server.port}" for server in cluster.servers],
        "interval": "2s",
        "timeout": "2s",
        "credentials": {"user": PROBE_USER, "password_env": "PROBE_PASSWORD"},
        "cluster": {"enabled": True, "monitor_port": cluster.monitor_port},
        "jetstream": {"enabled": True, "replicas": 1},
    }
    document = {
        "targets": [target],
        "server_view": {"interval": "1s", "timeout": "1s"},
        "apps": {"selector": "tier=app", "namespaces": [NS], "grace": "1ms"},
    }
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(document))
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    return await start_exporter(
        "--config", str(config), "--kubeconfig", str(kubeconfig), environ={"PROBE_PASSWORD": PROBE_PASSWORD}
    )


async def test_servers_view_and_cluster_sections(
    start_exporter: ExporterFactory, cluster: Cluster, kube: FakeKube, tmp_path: Path
) -> None:
    for index in range(2):
        kube.add_object(make_pod(NS, f"orders-{index}", labels={"tier": "app", "app": "orders"}, pod_ip=pod_ip(index)))
    async with app_client(cluster, pod_ip(0)):  # orders-1 never connects
        running = await start(start_exporter, cluster, kube, tmp_path)

        async def page_with_everything() -> str | None:
            _, _, html = await running.get("/")
            wanted = ("orders-1", "not_connected", "JetStream", "ms</td>")
            return html if all(text in html for text in wanted) and "waiting for the first" not in html else None

        html = await wait_for(page_with_everything, timeout=30, message="both sections filled on the page")
        assert "<h2>Applications as the NATS servers see them</h2>" in html
        assert "<h2>Cluster</h2>" in html
        assert f'id="cluster-{TARGET}"' in html
        server_view = html[html.index('id="server-view"') : html.index("<h2>Cluster</h2>")]
        assert "shop/orders-1" in server_view
        assert "shop/orders-0" not in server_view  # connected pods are not listed as problems
        for name in cluster.names:
            assert f"<code>{name}</code>" in html
        assert html.count("background:#dcf5e3") >= 6  # every ordered pair of three servers delivered

        chromium = chromium_binary()
        async with launch_chromium(chromium, user_data_dir=tmp_path / "profile") as browser, browser.page() as page:
            for domain in ("Runtime", "Log", "Network", "Page"):
                await page.send(f"{domain}.enable")
            await page.send("Emulation.setDeviceMetricsOverride", **PHONE)
            await load(page, running.base_url + "/")
            text = await page.evaluate("document.body.innerText")
            assert "Applications as the NATS servers see them" in text
            assert "Cluster" in text
            scroll_width = await page.evaluate("document.documentElement.scrollWidth")
            await screenshot(page, PHONE, OUTPUT / "status-page-sections.png")
            await screenshot(page, DESKTOP, OUTPUT / "status-page-sections-desktop.png")
            assert scroll_width <= PHONE["width"], f"{scroll_width} px wide on a {PHONE['width']} px phone"
            reported = problems(page)
            assert not reported, reported
