"""exporter/agent/cadence.py: √N scaling of the agent's probe interval, and pausing on a NotReady or cordoned node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exporter.agent.cadence import Cadence, node_pause_reason, read_cadence
from exporter.kube.client import KubeApi
from tests.fake_kube import FakeKube


def node(name: str, *, ready: str = "True", unschedulable: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"unschedulable": True} if unschedulable else {},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def test_the_interval_grows_with_the_square_root_of_the_nodes_never_below_the_base() -> None:
    assert Cadence(nodes=100).interval(5.0, 1.0) == 10.0
    assert Cadence(nodes=16).interval(5.0, 1.0) == 5.0  # 4 s would be faster than asked
    assert Cadence(nodes=100).interval(5.0, None) == 5.0  # not asked for
    assert Cadence(nodes=None).interval(5.0, 1.0) == 5.0  # the count could not be read


def test_a_cordoned_or_not_ready_node_pauses_and_a_ready_one_does_not() -> None:
    assert node_pause_reason(node("a", unschedulable=True)) == "cordoned"
    assert node_pause_reason(node("a", ready="False")) == "not_ready"
    assert node_pause_reason(node("a", ready="Unknown")) == "not_ready"
    assert node_pause_reason(node("a")) is None
    assert node_pause_reason({}) is None


@pytest.fixture
async def api(kube: FakeKube, tmp_path: Path) -> Any:
    client = KubeApi(str(kube.write_kubeconfig(tmp_path / "kubeconfig")))
    yield client
    await client.close()


async def test_the_cadence_reads_this_node_and_counts_the_nodes_without_listing_them(
    kube: FakeKube, api: KubeApi
) -> None:
    for index in range(7):
        kube.add_object(node(f"node-{index}", unschedulable=index == 3))
    assert await read_cadence(api, "node-1", 1.0) == Cadence(nodes=7, paused=None)
    assert await read_cadence(api, "node-3", 1.0) == Cadence(nodes=7, paused="cordoned")
    counts = [r for r in kube.requests if r.path == "/api/v1/nodes"]
    assert [r.query.get("limit") for r in counts] == ["1", "1"]  # one Node and the remaining count, not every Node
    assert await read_cadence(api, "node-1", None) == Cadence(nodes=None, paused=None)  # no count when not asked


async def test_without_the_right_to_read_nodes_the_agent_probes_as_usual(kube: FakeKube, api: KubeApi) -> None:
    kube.add_object(node("node-1", unschedulable=True))
    kube.forbid("nodes")
    assert await read_cadence(api, "node-1", 1.0) == Cadence(nodes=None, paused=None)
