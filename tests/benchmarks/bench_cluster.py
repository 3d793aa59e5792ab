"""Cluster data path cost: CPU per interval for a 5-server cluster (every route, the canary on) vs the core probe.

One interval of `run_cluster_probe` probes each of the 5 servers on its own (with both /healthz), all 20 ordered
route pairs in the probe's account and runs the JetStream canary; the baseline is one core `run_probe` of the same
target. CPU is `time.process_time()` of this process (nats-server's CPU is not ours to pay); the two sides
alternate so that the machine's noise falls on both alike.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from exporter.cluster.runner import run_cluster_probe
from exporter.config.cluster import ClusterSettings, JetStreamSettings
from exporter.probe.phases import run_probe
from tests.cluster.conftest import close_cluster, start_cluster

from ._support import TimeBudget, print_figure

SERVERS = 5
ROUNDS = 10
BUDGET = 90.0


async def measure() -> None:
    cluster = await start_cluster(SERVERS, jetstream=True)
    try:
        target = cluster.target(timeout=5.0)
        settings = ClusterSettings(
            enabled=True,
            monitor_port=cluster.monitor_port,
            max_route_pairs=SERVERS * (SERVERS - 1),
            jetstream=JetStreamSettings(enabled=True, replicas=3),
        )
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 60
            while True:  # warm-up, and wait for the JetStream meta leader
                result = await run_cluster_probe(target, settings, cluster.endpoints(True), http=http)
                if result.jetstream is not None and result.jetstream.ok and all(p.ok for p in result.routes):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cluster not green: {result.jetstream}")
            cluster_cpu = core_cpu = 0.0
            rounds = 0
            budget = TimeBudget(BUDGET)
            for _ in range(ROUNDS):
                if budget.exhausted:
                    print(f"  (time budget of {budget.seconds:g}s spent: stopped after {rounds} rounds)")
                    break
                started = time.process_time()
                result = await run_cluster_probe(target, settings, cluster.endpoints(True), http=http)
                cluster_cpu += time.process_time() - started
                assert len(result.routes) == SERVERS * (SERVERS - 1), len(result.routes)
                assert result.jetstream is not None
                started = time.process_time()
                core = await run_probe(target)
                core_cpu += time.process_time() - started
                assert core.ok, core.detail
                rounds += 1
    finally:
        await close_cluster(cluster)
    per_cluster, per_core = cluster_cpu / rounds, core_cpu / rounds
    print_figure("core probe, CPU per interval", f"{per_core * 1e3:.2f} ms")
    print_figure("cluster probe, CPU per interval", f"{per_cluster * 1e3:.2f} ms")
    print("result:")
    print_figure("cluster / core probe (CPU)", f"{per_cluster / per_core:.1f}x")
    print_figure("per route pair + server (CPU)", f"{per_cluster / (SERVERS * (SERVERS - 1) + SERVERS) * 1e3:.2f} ms")


def main() -> None:
    asyncio.run(measure())
