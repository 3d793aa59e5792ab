"""The node agent through the running exporter: this node's pods from the (fake) API server, their log files from a
simulated `/var/log/pods`, counted on the exporter's own /metrics; another node's pods are never read.

The exporter is built as `nats-connectivity-exporter agent` builds it (`Exporter(config, agent=AgentSettings(...))`)
from the `agent` command's own parser, so these tests fail if the wiring in `exporter/app.py` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from exporter.agent import cadence
from exporter.app import Exporter
from exporter.cli import build_parser
from exporter.config import load_config
from exporter.config.agent import load_agent_settings
from exporter.demo.nats_server import NatsServer
from tests.agent.kubelet_sim import SimNode
from tests.conftest import Exporters, RunningExporter, wait_for
from tests.fake_kube import FakeKube

NS = "shop"
NODE = "node-a"
CONNECTED, FAILED = "Connected to NATS server", "Failed to connect to NATS"

StartAgent = Callable[..., Awaitable[RunningExporter]]


@pytest.fixture
async def start_agent(kube: FakeKube, nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[StartAgent]:
    """`agent` exporters in this loop on a free port, from the agent command's own arguments; stopped at the end."""
    exporters = Exporters()
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")

    async def start(log_dir: Path, *extra: str) -> RunningExporter:
        args = build_parser().parse_args(
            [
                "agent", "--web.listen-address", "127.0.0.1:0", "--nats-url", nats_server.url,
                "--kubeconfig", str(kubeconfig), "--logs.selector", "tier=app",
                "--agent.log-dir", str(log_dir), "--agent.state-dir", str(tmp_path / "state"), *extra,
            ]
        )  # fmt: skip
        environ = {"NODE_NAME": NODE}
        return await exporters.run(Exporter(load_config(args, environ), agent=load_agent_settings(args, environ)))

    yield start
    await exporters.close()


def add_pod(kube: FakeKube, node: SimNode, name: str, app: str, *, node_name: str = NODE) -> None:
    """The pod in the API server and its log directory on the simulated node, with the same uid."""
    obj = kube.add_pod(NS, name, labels={"tier": "app", "app": app}, node_name=node_name)
    node.add_pod(NS, name, app, uid=obj["metadata"]["uid"])


@pytest.mark.slow
async def test_agent_counts_this_nodes_lines_and_never_reads_another_nodes(
    start_agent: StartAgent, kube: FakeKube, tmp_path: Path
) -> None:
    node = SimNode(tmp_path / "pods")
    add_pod(kube, node, "api-0", "api")
    # Scheduled elsewhere: its files are put here too, so that reading them would show on /metrics.
    add_pod(kube, node, "billing-0", "billing", node_name="node-b")
    running = await start_agent(node.root)
    await wait_for(
        running.metric_is("nats_connectivity_agent_log_containers", 1),
        message="the agent following the one container of node-a",
    )

    lines = [CONNECTED, *(f"request {i}" for i in range(20)), FAILED, FAILED]
    for line in lines:
        node.write("api-0", line)
    for line in lines:
        node.write("billing-0", line)
    add_pod(kube, node, "api-1", "api")  # a pod that appears later is read from its first line
    node.write("api-1", CONNECTED)
    written = node.truth[(NS, "api", "lines")]
    assert written == len(lines) + 1

    samples = await wait_for(
        running.metric_is("nats_connectivity_log_lines_total", written, namespace=NS, app="api"),
        message="every line written on node-a counted",
    )
    labels = {"namespace": NS, "app": "api"}
    assert samples[("nats_connectivity_log_events_total", frozenset({**labels, "event": "failed"}.items()))] == 2
    assert samples[("nats_connectivity_log_events_total", frozenset({**labels, "event": "connected"}.items()))] == 2
    assert not [key for key in samples if ("app", "billing") in key[1]], "node-b's pod must not be read"
    assert samples[("nats_connectivity_agent_log_containers", frozenset())] == 2
    # The watch asked the API server for this node's pods only.
    watched = [r for r in kube.requests if r.path.endswith("/pods") and "fieldSelector" in r.query]
    assert watched
    assert all(r.query["fieldSelector"] == f"spec.nodeName={NODE}" for r in watched)


async def test_a_cordoned_node_pauses_probing_and_uncordoning_resumes_it(
    start_agent: StartAgent, kube: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cadence, "CHECK_EVERY", 0.2)
    node_object = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NODE},
        "spec": {},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    kube.add_object(node_object)
    node = SimNode(tmp_path / "pods")
    running = await start_agent(node.root, "--probe.interval", "1s")
    exporter = running.exporter
    await wait_for(running.metric_is("nats_connectivity_probe_success", 1, target="default"), message="a probe")
    kube.patch_object("v1", "Node", "", NODE, {"spec": {"unschedulable": True}})
    await wait_for(lambda: exporter.cadence.paused == "cordoned", message="probing paused on the cordoned node")
    probes = await running.metric("nats_connectivity_probes_total", target="default", result="success")
    supervisor = exporter._supervisor
    assert supervisor is not None
    assert not supervisor.running("probe:default")
    kube.patch_object("v1", "Node", "", NODE, {"spec": {"unschedulable": None}})
    await wait_for(lambda: exporter.cadence.paused is None, message="probing back on")
    assert probes is not None
    await wait_for(
        running.metric_is("nats_connectivity_probes_total", probes + 1, op=">=", target="default", result="success"),
        message="probes again after uncordoning",
    )


def test_agent_without_node_name_exits_2_naming_it(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "NODE_NAME"}
    completed = subprocess.run(
        [sys.executable, "-m", "exporter", "agent", "--nats-url", "nats://127.0.0.1:4222",
         "--agent.log-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=30, env=environ,
    )  # fmt: skip
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert "NODE_NAME" in lines[0]
    assert completed.stdout == ""
