"""What the exporter watches in the dashboard and drift tests: an application's log file, and a small cluster.

The cluster lives on the fake Kubernetes API server (tests/fake_kube) with a real nats-server. No cluster DNS runs
here, so the target is the short Service name `localhost` (namespace `default`): it resolves as a short name does
inside a cluster, while its full name `localhost.default.svc.cluster.local` does not, which is exactly the DNS
mismatch a dashboard and an alert must show. Besides it:

- its EndpointSlice lists two ready NATS pods: nats-0 (the real server on 127.0.0.1) and nats-1 (127.0.0.2, where
  nothing listens): one endpoint down behind a healthy Service;
- application pods in `petrosa-apps` log the guide's three lines; the exporter follows them through the API;
- their ConfigMap holds the guide's classic mistake, `NATS_URL: nats://192.168.194.253:4222`;
- listing NetworkPolicies is forbidden (403), as with missing RBAC.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporter.demo.nats_server import NatsServer
from tests.conftest import RunningExporter, wait_for
from tests.fake_kube import FakeKube
from tests.kube_objects import endpoint_slice, nats_service

SERVICE = "localhost"
APPS = "petrosa-apps"
APP = "binance-data-extractor"
GUIDE_LINES = ("Connected to NATS server", "Failed to connect to NATS", "NATS connection lost")


@dataclass
class Cluster:
    kube: FakeKube
    kubeconfig: Path
    nats: NatsServer

    def exporter_args(self) -> list[str]:
        return [
            "--nats-url", f"nats://{SERVICE}:{self.nats.port}",
            "--kubeconfig", str(self.kubeconfig),
            "--diagnostics.interval", "1s",
            "--probe.interval", "1s", "--probe.timeout", "800ms",
            "--logs.selector", "tier=app", "--logs.namespaces", APPS, "--logs.from-start",
        ]  # fmt: skip

    def application_logs(self, *lines: str) -> None:
        """The failing pod logs `lines` now (the log metrics move while Prometheus watches)."""
        self.kube.append_lines(APPS, "extractor-1", list(lines))


@contextlib.asynccontextmanager
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    nats = NatsServer(host="127.0.0.1")
    await nats.start()
    try:
        async with FakeKube(bookmark_interval=0.2) as kube:
            pods = {"nats-0": "127.0.0.1", "nats-1": "127.0.0.2"}
            service = nats_service(SERVICE, "default", nats.port)
            for obj in (service, endpoint_slice(SERVICE, "default", nats.port, pods), _configmap()):
                kube.add_object(obj)
            kube.add_pod("default", "nats-0", labels={"app": "nats"})
            kube.add_pod(APPS, "extractor-0", labels={"app": APP, "tier": "app"})
            kube.add_pod(APPS, "extractor-1", labels={"app": APP, "tier": "app"})
            kube.append_lines(APPS, "extractor-0", [GUIDE_LINES[0]])
            kube.append_lines(APPS, "extractor-1", [GUIDE_LINES[1], GUIDE_LINES[0], GUIDE_LINES[2]])
            kube.forbid("networkpolicies")
            yield Cluster(kube, kube.write_kubeconfig(tmp_path / "kubeconfig"), nats)
    finally:
        await nats.close()


def _configmap() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "petrosa-common-config", "namespace": APPS},
        "data": {"NATS_URL": "nats://192.168.194.253:4222", "NATS_ENABLED": "true"},
    }


async def write_application_log(running: RunningExporter, path: Path, app: str) -> None:
    """The guide's three lines into a followed file, then a truncation (logrotate's copytruncate)."""
    _append(path, [f"2026-11-24T10:00:0{i}Z INFO {line}" for i, line in enumerate(GUIDE_LINES)])
    for event in ("connected", "failed", "lost"):
        await wait_for(
            running.metric_is("nats_connectivity_log_events_total", 1, namespace="", app=app, event=event),
            message=f"the {event} line to be counted",
        )
    _truncate(path, GUIDE_LINES[0])
    await wait_for(
        running.metric_is("nats_connectivity_log_stream_restarts_total", 1, reason="truncated"),
        message="the truncation to be noticed",
    )


def _append(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="utf-8") as log:
        log.writelines(f"{line}\n" for line in lines)


def _truncate(path: Path, line: str) -> None:
    """Shorter than before, so the follower sees a truncation and reads from the start."""
    path.write_text(f"{line}\n", encoding="utf-8")
