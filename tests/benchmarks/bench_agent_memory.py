"""Idle agent with one target: resident memory and CPU against `serve` with the same target (goal: agent <= 50 MB).

Each command runs as its own process (`python -m exporter serve|agent`), one after the other so they do not share
the cores, against the same real nats-server, with no Kubernetes access (no kubeconfig: explicit access only), and
the agent over an empty node (an empty log directory). Once a process has answered /metrics with its first probe
done, its resident memory (VmRSS in /proc/PID/status, sampled every second; VmHWM for the peak) and its CPU time
(utime + stime in /proc/PID/stat) are read over WINDOW seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from exporter.demo.nats_server import NatsServer, free_port

from ._support import print_figure, stop_process

WINDOW = 20.0  # seconds of idle running measured
START_TIMEOUT = 60.0  # start-up on a loaded 2-core machine, first probe included
GOAL_MB = 50.0
PROBE_INTERVAL = "5s"
NODE = "bench-node"
TICKS = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Footprint:
    """One idle process over the window: resident memory (median and peak) and its CPU share of one core."""

    rss_bytes: float
    peak_bytes: float
    cpu_seconds: float
    wall_seconds: float

    @property
    def cpu_share(self) -> float:
        return self.cpu_seconds / self.wall_seconds


def status_kb(pid: int, field: str) -> int:
    """A `VmXXX:  1234 kB` line of /proc/PID/status, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid: int) -> float:
    """utime + stime of /proc/PID/stat (fields 14 and 15; the command name in parentheses may hold spaces)."""
    after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(after_name[11]) + int(after_name[12])) / TICKS


def child_environment(home: Path) -> dict[str, str]:
    """The caller's environment without any way to the Kubernetes API, and the agent's node name."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("KUBECONFIG", "KUBERNETES_"))}
    environ |= {"HOME": str(home), "NODE_NAME": NODE}
    environ.pop("NATS_URL", None)
    return environ


@contextlib.contextmanager
def running(args: list[str], environ: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environ,
    )
    try:
        yield process
    finally:
        stop_process(process, 10)


def wait_probed(process: subprocess.Popen[bytes], port: int) -> None:
    """Until /metrics shows the target's first successful probe: the process is then as it stays, idle."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"exited with code {process.returncode}: {error.strip()[-800:]}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response,
        ):
            if 'nats_connectivity_probe_success{target="default"} 1.0' in response.read().decode():
                return
        time.sleep(0.25)
    raise RuntimeError(f"no successful probe on /metrics within {START_TIMEOUT:g}s")


def measure(args: list[str], port: int, environ: dict[str, str]) -> Footprint:
    with running(args, environ) as process:
        wait_probed(process, port)
        samples = []
        cpu_start, wall_start = cpu_seconds(process.pid), time.monotonic()
        while time.monotonic() - wall_start < WINDOW:
            samples.append(status_kb(process.pid, "VmRSS") * 1024)
            time.sleep(1.0)
        cpu, wall = cpu_seconds(process.pid) - cpu_start, time.monotonic() - wall_start
        peak = status_kb(process.pid, "VmHWM") * 1024
        if process.poll() is not None:
            raise RuntimeError(f"exited during the measurement with code {process.returncode}")
    return Footprint(rss_bytes=statistics.median(samples), peak_bytes=peak, cpu_seconds=cpu, wall_seconds=wall)


def report(label: str, footprint: Footprint) -> None:
    print_figure(f"{label} resident (median)", f"{footprint.rss_bytes / MB:.1f} MB")
    print_figure(f"{label} resident (peak)", f"{footprint.peak_bytes / MB:.1f} MB")
    print_figure(f"{label} CPU", f"{footprint.cpu_share * 100:.2f} % core")


def common_args(url: str, port: int) -> list[str]:
    return [
        f"--nats-url={url}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--probe.interval={PROBE_INTERVAL}",
        "--log.level=warning",
    ]


def measure_both(url: str) -> None:
    """`serve`, then `agent`, each alone against the target at `url`; figures and the ratio."""
    with tempfile.TemporaryDirectory(prefix="nce-bench-memory-") as tmp:
        root = Path(tmp)
        (root / "pods").mkdir()
        (root / "state").mkdir()
        environ = child_environment(root)
        print(f"  one target {url}, probe every {PROBE_INTERVAL}, {WINDOW:g} s idle each", flush=True)
        port = free_port()
        serve = measure(["serve", *common_args(url, port)], port, environ)
        report("serve", serve)
        port = free_port()
        agent_args = [
            "agent",
            *common_args(url, port),
            f"--agent.log-dir={root / 'pods'}",
            f"--agent.state-dir={root / 'state'}",
        ]
        agent = measure(agent_args, port, environ)
        report("agent", agent)
        print_figure("agent / serve resident", f"{agent.rss_bytes / serve.rss_bytes:.2f}x")
        print_figure(
            "agent resident (median)",
            f"{agent.rss_bytes / MB:.1f} MB",
            goal=f"<= {GOAL_MB:g} MB",
            met=agent.rss_bytes <= GOAL_MB * MB,
        )


async def run() -> None:
    """The nats-server lives on this loop; the measurements block, so they run in a thread beside it."""
    server = NatsServer()
    await server.start()
    try:
        await asyncio.to_thread(measure_both, server.url)
    finally:
        await server.close()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
