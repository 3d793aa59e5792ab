"""A simulated node and a reader of one container directory, counting what the agent would count."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.agent.cri import CriCounter
from exporter.agent.follower import ContainerLog, PollResult, Start
from exporter.agent.pods import pod_source
from exporter.agent.positions import PositionStore
from exporter.config.logs import Patterns
from tests.agent.kubelet_sim import SimNode


@pytest.fixture
def node(tmp_path: Path) -> Iterator[SimNode]:
    sim = SimNode(tmp_path / "pods")
    yield sim
    sim.close()


class Reader:
    """One container's follower, polled by hand (no event loop), with its counts."""

    def __init__(self, node: SimNode, state_dir: Path, pod: str, *, start: Start, container: str = "app") -> None:
        sim = node.pods[pod]
        self.key = (sim.namespace, sim.app)
        self.store = PositionStore(state_dir)
        self.log = ContainerLog(
            sim.directory / container,
            pod_source(sim.info(), container),
            sim.uid,
            CriCounter(Patterns.defaults()),
            self.store,
            start=start,
        )
        self.counts: Counter[str] = Counter()
        self.last: PollResult | None = None

    def poll(self, budget: int = 1 << 30) -> PollResult:
        result = self.log.poll(budget)
        self.store.flush()  # as each pass of the agent does
        self.counts["lines"] += result.counted.lines
        for event, _ in result.counted.events:
            self.counts[event.value] += 1
        self.counts["rotations"] += result.rotations
        self.counts["restarts"] += result.restarts
        self.last = result
        return result

    def drain(self, budget: int = 1 << 30) -> None:
        """Poll until a poll reads nothing and moves nowhere."""
        for _ in range(10_000):
            result = self.poll(budget)
            if not result.bytes_read and not result.rotations and not result.restarts:
                return
        raise AssertionError("the follower never caught up")

    def matches(self, node: SimNode, *, minus: Counter[str] | None = None) -> bool:
        expected = Counter({what: n for (ns, app, what), n in node.truth.items() if (ns, app) == self.key})
        expected.subtract(minus or Counter())
        ours = Counter({k: v for k, v in self.counts.items() if k not in ("rotations", "restarts")})
        return +ours == +expected

    def close(self) -> None:
        self.log.close()
