"""Probe cost: CPU seconds of this process per 1,000 complete probes, against bare nats.connect()+close() cycles.

Goal: < 2 s of CPU per 1,000 probes. CPU is `time.process_time()`: every thread of this process (the resolver's
executor included) and nothing of nats-server's, so it is what the exporter's pod pays. The two sides alternate in
rounds so that the machine's noise falls on both alike.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import nats

from exporter.cli import build_parser
from exporter.config import Target, load_config
from exporter.probe.phases import run_probe

from ._support import TimeBudget, nats_server, print_figure

ROUNDS = 5
CYCLES_PER_ROUND = 200  # 1,000 of each in all
GOAL = 2.0  # CPU seconds per 1,000 probes
BUDGET = 60.0  # seconds for the measured rounds; fewer rounds run if the machine is slow


@dataclass
class Tally:
    """CPU and wall time spent on a number of cycles."""

    cycles: int = 0
    cpu: float = 0.0
    wall: float = 0.0

    def per_thousand(self) -> float:
        return self.cpu / self.cycles * 1000

    def line(self) -> str:
        return f"{self.per_thousand():.3f} s CPU / 1k   ({self.wall / self.cycles * 1e3:.3f} ms wall each)"


async def probes(target: Target, count: int, tally: Tally) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        result = await run_probe(target)
        assert result.ok, f"probe failed: {result.reason} {result.detail}"
    tally.cpu += time.process_time() - cpu
    tally.wall += time.perf_counter() - wall
    tally.cycles += count


async def bare_connects(url: str, count: int, tally: Tally) -> None:
    """The baseline: what any NATS client pays to connect and say goodbye (nats-py defaults, no probe around it)."""

    async def error_cb(exc: Exception) -> None:
        raise RuntimeError(f"baseline connection failed: {exc!r}")

    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        async with asyncio.timeout(5):
            client = await nats.connect(url, error_cb=error_cb)
            await client.close()
    tally.cpu += time.process_time() - cpu
    tally.wall += time.perf_counter() - wall
    tally.cycles += count


async def measure(target: Target, url: str) -> None:
    probe_tally, bare_tally = Tally(), Tally()
    await probes(target, 20, Tally())  # warm-up: imports, caches, the resolver's threads
    await bare_connects(url, 20, Tally())
    budget = TimeBudget(BUDGET)
    for done in range(ROUNDS):
        if budget.exhausted:
            print(f"  (time budget of {budget.seconds:g}s spent: stopped after {done} of {ROUNDS} rounds)")
            break
        await probes(target, CYCLES_PER_ROUND, probe_tally)
        await bare_connects(url, CYCLES_PER_ROUND, bare_tally)
    print_figure("bare connect+close (baseline)", bare_tally.line())
    print_figure("complete probe", probe_tally.line())
    cost = probe_tally.per_thousand()
    print("result:")
    print_figure("CPU per 1,000 probes", f"{cost:.3f} s", f"< {GOAL:g} s", cost < GOAL)
    print_figure("probe / bare connect (CPU)", f"{cost / bare_tally.per_thousand():.2f}x")


def main() -> None:
    with nats_server() as server:
        config = load_config(build_parser().parse_args(["--nats-url", server.url]), {})
        asyncio.run(measure(config.targets[0], server.url))
