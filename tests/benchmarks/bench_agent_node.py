"""Agent on a busy node: 200 containers at 10 lines/s each for 30 s, with rotations; counts exact, CPU <= 5% of a core.

The node is simulated (tests/agent/kubelet_sim.py: CRI lines, kubelet's rotation with gzip); the agent's
`NodeLogs` runs in a child process with its real pacing (one pass a second) and a pod source that lists the 200
pods, so its CPU time is its own. The CPU share is the child's CPU seconds over the wall seconds of the load.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._support import print_figure

CONTAINERS = 200
LINES_PER_SECOND = 10
SECONDS = 30.0
START_TIMEOUT = 60.0  # seconds for the agent to follow every container
TICK = 0.1
GOAL_CPU = 0.05
NS = "bench"
EVENTS = ("Connected to NATS server", "Failed to connect to NATS", "NATS connection lost")


def child(log_dir: str, state_dir: str, pods_file: str) -> None:
    """The agent side: NodeLogs over the node until its stdin closes; then the last passes and the counts."""
    from exporter.agent.service import NodeLogs
    from exporter.agent.settings import AgentLogSettings
    from exporter.kube.pods import PodInfo, PodSink
    from exporter.logwatch.tally import LogTally

    pods = [
        PodInfo(p["namespace"], p["name"], p["uid"], p["app"], (), ()) for p in json.loads(Path(pods_file).read_text())
    ]

    async def source(sink: PodSink, stopping: asyncio.Event) -> None:
        sink.replace_all(None, pods)
        await stopping.wait()

    async def run() -> None:
        service = NodeLogs(
            AgentLogSettings(state_dir=Path(state_dir), log_dir=Path(log_dir)), LogTally(per_pod=False), source
        )
        stopping = asyncio.Event()
        task = asyncio.create_task(service.run(stopping))
        deadline = time.monotonic() + START_TIMEOUT
        while service.stats.containers < len(pods):  # polled: the service has no event for this
            if time.monotonic() > deadline:  # exits before "ready": the parent's readline ends, it reports
                raise RuntimeError(f"{service.stats.containers} of {len(pods)} containers followed")
            await asyncio.sleep(0.05)
        print("ready", flush=True)
        cpu_start, wall_start = time.process_time(), time.monotonic()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # the parent closes it to stop us
        cpu, wall = time.process_time() - cpu_start, time.monotonic() - wall_start
        stopping.set()
        await task
        while True:  # catch up on what was written in the last second
            before = service.stats.bytes_read
            await service.read_once()
            if service.stats.bytes_read == before:
                break
        await service.close()
        tally = service.tally
        print(
            json.dumps(
                {
                    "cpu": cpu,
                    "wall": wall,
                    "lines": {"/".join(key): n for key, n in tally.lines.items()},
                    "events": {"/".join(key): n for key, n in tally.events.items()},
                    "malformed": sum(service.stats.malformed.values()),
                }
            ),
            flush=True,
        )

    asyncio.run(run())


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.agent.kubelet_sim import SimNode

    rng = random.Random(20261130)
    with tempfile.TemporaryDirectory(prefix="nce-bench-") as tmp:
        node = SimNode(Path(tmp) / "pods")
        names = [f"app-{i:03d}" for i in range(CONTAINERS)]
        for name in names:
            node.add_pod(NS, name, f"app{int(name[-3:]) % 20}")
            node.write(name, "before the agent", count=False)
        pods_file = Path(tmp) / "pods.json"
        pods_file.write_text(
            json.dumps(
                [{"namespace": p.namespace, "name": p.name, "uid": p.uid, "app": p.app} for p in node.pods.values()]
            )
        )
        arguments = ", ".join(repr(str(path)) for path in (node.root, Path(tmp) / "state", pods_file))
        code = f"from tests.benchmarks.bench_agent_node import child; child({arguments})"
        environ = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        agent = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environ
        )
        try:
            assert agent.stdout is not None
            if agent.stdout.readline().strip() != "ready":
                raise RuntimeError("the agent did not start")
            rotate_at = {name: rng.uniform(2, SECONDS - 2) for name in names}  # each container rotates once
            started = time.monotonic()
            written = 0
            next_tick = started
            while (now := time.monotonic()) - started < SECONDS:
                for name in names:
                    for _ in range(int(LINES_PER_SECOND * TICK)):
                        message = rng.choice(EVENTS) if rng.randrange(100) == 0 else f"handled request {written}"
                        node.write(name, message, stream="stderr" if written % 7 == 0 else "stdout")
                        written += 1
                    if rotate_at[name] <= now - started:
                        node.rotate(name)
                        rotate_at[name] = float("inf")
                next_tick += TICK
                time.sleep(max(0.0, next_tick - time.monotonic()))
            out, _ = agent.communicate(timeout=120)  # closes its stdin: the agent stops
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
            node.close()
        report = json.loads(out.strip().splitlines()[-1])
        expected_lines = {f"{ns}/{app}": n for (ns, app, what), n in node.truth.items() if what == "lines"}
        expected_events = {f"{ns}/{app}/{what}": n for (ns, app, what), n in node.truth.items() if what != "lines"}
        lines_ok = report["lines"] == expected_lines
        events_ok = report["events"] == expected_events
        share = report["cpu"] / report["wall"]
        print(f"  {CONTAINERS} containers, {written:,} lines in {SECONDS:g} s, {CONTAINERS} rotations")
        print("result:")
        print_figure("lines counted == written", f"{sum(report['lines'].values()):,.0f}", f"{written:,}", lines_ok)
        print_figure("events counted == written", f"{sum(report['events'].values()):,.0f}", "exact", events_ok)
        print_figure("agent CPU, share of one core", f"{share:.1%}", f"<= {GOAL_CPU:.0%}", share <= GOAL_CPU)
        assert lines_ok, "the agent's line counts differ from the ground truth"
        assert events_ok, "the agent's event counts differ from the ground truth"
        assert report["malformed"] == 0
