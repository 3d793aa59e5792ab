"""The agent's log reading end to end: this node's pods from the (fake) API server, their files from a simulated
node, counts in the same metric families as `serve`, equal to the ground truth; an agent restart resumes exactly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from exporter.agent.service import NodeLogs
from exporter.agent.settings import AgentLogSettings
from exporter.kube.client import KubeApi
from exporter.kube.pods import PodSink, watch_pods
from exporter.logwatch.metrics import LogCollector
from exporter.logwatch.tally import LogTally
from tests.agent.kubelet_sim import SimNode
from tests.conftest import Samples, parse_samples, value, wait_for
from tests.fake_kube import FakeKube

NS = "shop"
CONNECTED, FAILED, LOST = "Connected to NATS server", "Failed to connect to NATS", "NATS connection lost"


class Agent:
    """A NodeLogs service running in the test's loop, with its metrics."""

    def __init__(self, service: NodeLogs, task: asyncio.Task[None], stopping: asyncio.Event) -> None:
        self.service, self.task, self.stopping = service, task, stopping
        self.registry = CollectorRegistry()
        self.registry.register(LogCollector(service.tally))
        self.registry.register(service.collector())

    def samples(self) -> Samples:
        return parse_samples(generate_latest(self.registry).decode())

    def count(self, name: str, **labels: str) -> float:
        return value(self.samples(), f"nats_connectivity_{name}", **labels) or 0.0

    async def stop(self) -> None:
        self.stopping.set()
        await asyncio.wait_for(self.task, timeout=10)
        await self.service.close()


StartAgent = Callable[..., Awaitable[Agent]]


@pytest.fixture
async def start_agent(kube: FakeKube, tmp_path: Path) -> AsyncIterator[StartAgent]:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    api = KubeApi(str(kubeconfig))
    agents: list[Agent] = []

    async def start(node: SimNode, *, from_start: bool = False) -> Agent:
        settings = AgentLogSettings(state_dir=tmp_path / "state", log_dir=node.root, from_start=from_start, pace=0.05)

        def pods(sink: PodSink, stopping: asyncio.Event) -> Awaitable[None]:
            # The agent's source is this watch with fieldSelector=spec.nodeName=NODE_NAME added (see the report).
            return watch_pods(api, None, "tier=app", ("app",), sink, stopping)

        service = NodeLogs(settings, LogTally(per_pod=False), pods)
        stopping = asyncio.Event()
        agent = Agent(service, asyncio.create_task(service.run(stopping)), stopping)
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        if not agent.task.done():
            await agent.stop()
    await api.close()


def add_pod(kube: FakeKube, node: SimNode, name: str, app: str) -> None:
    obj = kube.add_pod(NS, name, labels={"tier": "app", "app": app})
    node.add_pod(NS, name, app, uid=obj["metadata"]["uid"])


def truth(node: SimNode, app: str, what: str) -> int:
    return node.truth[(NS, app, what)]


async def test_counts_equal_the_truth_across_new_pods_rotation_and_deletion(
    kube: FakeKube, tmp_path: Path, start_agent: StartAgent
) -> None:
    node = SimNode(tmp_path / "pods")
    add_pod(kube, node, "api-0", "api")
    node.write("api-0", CONNECTED, count=False)  # before the agent: counted from now, so not at all
    agent = await start_agent(node)
    await wait_for(lambda: agent.count("agent_log_containers") == 1, message="the running pod's container found")

    for i in range(300):
        node.write("api-0", f"request {i}" if i % 50 else FAILED, stream="stderr" if i % 2 else "stdout")
        if i % 100 == 99:
            node.rotate("api-0")
    node.write("api-0", "z" * 40_000 + LOST)  # split into partial lines
    await wait_for(
        lambda: agent.count("log_lines_total", namespace=NS, app="api") == truth(node, "api", "lines"),
        message="every line of api-0 counted",
    )
    assert agent.count("log_events_total", namespace=NS, app="api", event="failed") == 6
    assert agent.count("log_events_total", namespace=NS, app="api", event="connected") == 0
    assert agent.count("app_pods", namespace=NS, app="api", state="disconnected") == 1
    assert agent.count("log_stream_restarts_total", reason="rotated") >= 3

    # A pod that appears later is counted from its first line, written before the agent saw it.
    add_pod(kube, node, "worker-0", "worker")
    node.write("worker-0", CONNECTED)
    node.write_raw("worker-0", b"garbage\n")
    node.write("worker-0", "hi")
    await wait_for(
        lambda: agent.count("log_lines_total", namespace=NS, app="worker") == 2, message="the new pod from its start"
    )
    assert agent.count("app_pods", namespace=NS, app="worker", state="connected") == 1
    assert agent.count("agent_log_malformed_lines_total", reason="no_fields") == 1

    # Deleted while being read: the last lines are read from the held files after the directory is gone.
    for i in range(50):
        node.write("worker-0", f"last {i}")
    node.write("worker-0", LOST)
    worker_uid = node.pods["worker-0"].uid
    node.delete_pod("worker-0")
    kube.delete_pod(NS, "worker-0")
    await wait_for(
        lambda: agent.count("log_lines_total", namespace=NS, app="worker") == truth(node, "worker", "lines"),
        message="the deleted pod's last lines",
    )
    assert agent.count("log_events_total", namespace=NS, app="worker", event="lost") == 1
    await wait_for(
        lambda: agent.count("app_pods", namespace=NS, app="worker", state="disconnected") == 0,
        message="the deleted pod no longer counted among the app's pods",
    )
    saved = (tmp_path / "state" / "positions.json").read_text()
    assert worker_uid not in saved, "a finished pod's position is forgotten"
    assert node.pods["api-0"].uid in saved


async def test_an_agent_restart_resumes_exactly_across_rotations_while_it_was_down(
    kube: FakeKube, tmp_path: Path, start_agent: StartAgent
) -> None:
    node = SimNode(tmp_path / "pods")
    add_pod(kube, node, "api-0", "api")
    first = await start_agent(node, from_start=True)
    for i in range(2000):
        node.write("api-0", f"a{i} {CONNECTED if i % 100 == 0 else ''}", offset_minutes=60)
    node.rotate("api-0")
    node.write("api-0", "x" * 20_000 + " partial before the stop")
    await wait_for(
        lambda: first.count("log_lines_total", namespace=NS, app="api") == truth(node, "api", "lines"),
        message="the first agent caught up",
    )
    before = first.count("log_lines_total", namespace=NS, app="api")
    await first.stop()

    for round_ in range(3):  # while the agent is down: three rotations, two of the files gzipped
        for i in range(100):
            node.write("api-0", f"down {round_}/{i} {LOST if i == 0 else ''}")
        node.rotate("api-0")
    node.write("api-0", FAILED)
    assert sum(path.name.endswith(".gz") for path in node.rotated_files("api-0")) >= 2
    second = await start_agent(node)  # from now, but its position wins
    await wait_for(
        lambda: before + second.count("log_lines_total", namespace=NS, app="api") == truth(node, "api", "lines"),
        message="the second agent read what was written while it was down",
    )
    assert second.count("log_events_total", namespace=NS, app="api", event="lost") == 3
    assert second.count("log_events_total", namespace=NS, app="api", event="failed") == 1
    assert second.count("log_events_total", namespace=NS, app="api", event="connected") == 0
    assert second.count("agent_log_malformed_lines_total", reason="no_fields") == 0


async def test_a_pod_deleted_while_the_agent_was_down_is_read_to_its_end(
    kube: FakeKube, tmp_path: Path, start_agent: StartAgent
) -> None:
    node = SimNode(tmp_path / "pods")
    add_pod(kube, node, "api-0", "api")
    add_pod(kube, node, "gone-0", "gone")
    first = await start_agent(node)
    await wait_for(lambda: first.count("agent_log_containers") == 2, message="both containers found")
    node.write("gone-0", CONNECTED)
    await wait_for(lambda: first.count("log_lines_total", namespace=NS, app="gone") == 1, message="gone-0 read")
    await first.stop()

    node.write("gone-0", "written after the agent stopped " + LOST)  # kubelet has not removed the files yet
    kube.delete_pod(NS, "gone-0")
    second = await start_agent(node)
    await wait_for(
        lambda: second.count("log_events_total", namespace=NS, app="gone", event="lost") == 1,
        message="the orphaned pod's last line, from its saved position",
    )
    assert second.count("log_lines_total", namespace=NS, app="gone") == 1
    await wait_for(lambda: second.count("agent_log_containers") == 1, message="the orphan finished and dropped")
