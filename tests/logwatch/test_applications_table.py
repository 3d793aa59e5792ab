"""The status page's Applications table lists every followed application, from pods or from files."""

from __future__ import annotations

from pathlib import Path

from exporter.demo.nats_server import NatsServer
from tests.conftest import ExporterFactory, wait_for
from tests.fake_kube import FakeKube


async def test_applications_from_files_and_pods_are_listed(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    app_log = tmp_path / "app.log"
    app_log.write_text("")
    kube.add_pod("apps", "api-0", labels={"tier": "app", "app": "api"})
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    running = await start_exporter(
        "--nats-url", nats_server.url, "--kubeconfig", str(kubeconfig), "--logs.selector", "tier=app",
        "--logs.file", f"demo-app={app_log}",
    )  # fmt: skip

    async def table() -> str | None:
        status, _, page = await running.get("/")
        section = page.split("<h2>Applications</h2>", 1)[-1].split("</table>", 1)[0]
        return section if status == 200 and "<td>api</td>" in section else None

    section = await wait_for(table, message="the pod's application on the page")
    assert "<td>(file)</td><td>demo-app</td>" in section
    assert "no application" not in section
