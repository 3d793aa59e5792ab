"""Probe cost: CPU seconds per 1,000 complete probes, in-process and as a whole exporter against blackbox_exporter.

In-process: `run_probe` against bare nats.connect()+close() cycles (goal < 2 s of CPU per 1,000 probes); CPU is
`time.process_time()`, every thread of this process and nothing of nats-server's. The two sides alternate in rounds.

Whole process: the exporter serving 20 targets probed every second, sessions on, scraped every 15 s, against
blackbox_exporter (Debian `prometheus-blackbox-exporter`) driven at the same rate, each target on its own offset as
Prometheus scrapes them, with a tcp module doing the NATS handshake (INFO, CONNECT, PING, PONG). Each side's CPU is
read from /proc for its own process over the same window length; goal: the exporter's CPU per 1,000 probes <= 1.0x
blackbox's.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import nats

from exporter.cli import build_parser
from exporter.config import Target, load_config
from exporter.probe.phases import run_probe

from ._support import HOST, TimeBudget, nats_server, print_figure

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


TARGETS = 20
WINDOW = 45.0  # seconds of steady state measured for each side
SCRAPE_EVERY = 15.0
WHOLE_GOAL = 1.0  # exporter CPU per probe / blackbox CPU per probe
BLACKBOX = "prometheus-blackbox-exporter"
BLACKBOX_MODULE = """modules:
  nats:
    prober: tcp
    timeout: 5s
    tcp:
      query_response:
        - expect: "^INFO "
        - send: "CONNECT {\\"verbose\\":false,\\"pedantic\\":false}\\r\\nPING\\r"
        - expect: "^PONG"
"""


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def _wait_http(http: aiohttp.ClientSession, url: str) -> None:
    async with asyncio.timeout(20):
        while True:
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)


async def _wait_warm(http: aiohttp.ClientSession, metrics: str) -> None:
    """Every target past its first probe and its session connected: the window measures steady state only."""
    async with asyncio.timeout(30):
        while True:
            async with http.get(metrics) as response:
                text = await response.text()
            sessions = sum(
                1
                for line in text.splitlines()
                if line.startswith("nats_connectivity_session_connected{") and line.endswith(" 1.0")
            )
            if sessions == TARGETS and _successes(text) >= TARGETS:
                return
            await asyncio.sleep(0.2)


def _successes(text: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("nats_connectivity_probes_total{") and 'result="success"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


async def exporter_side(url: str, workdir: Path) -> tuple[float, float]:
    """(CPU seconds, complete probes) of the exporter over WINDOW, scraped every SCRAPE_EVERY like Prometheus."""
    config = workdir / "exporter.yaml"
    lines = ["probe: {interval: 1s, timeout: 1s}", "log: {level: warning}", "targets:"]
    lines += [f"  - {{name: t{index}, url: '{url}', session: true}}" for index in range(TARGETS)]
    config.write_text("\n".join(lines) + "\n")
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("NATS_")}
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, returns at once
        [sys.executable, "-m", "exporter", "serve", "--config", str(config), "--web.listen-address", f"{HOST}:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http:
            metrics = f"http://{HOST}:{port}/metrics"
            await _wait_http(http, f"http://{HOST}:{port}/-/ready")
            await _wait_warm(http, metrics)
            async with http.get(metrics) as response:
                before = _successes(await response.text())
            cpu = _cpu_seconds(process.pid)
            end = time.monotonic() + WINDOW
            while (left := end - time.monotonic()) > 0:
                await asyncio.sleep(min(SCRAPE_EVERY, left))
                async with http.get(metrics) as response:
                    after = _successes(await response.text())
            return _cpu_seconds(process.pid) - cpu, after - before
    finally:
        process.terminate()
        process.wait(timeout=10)


async def blackbox_side(address: str, workdir: Path) -> tuple[float, float]:
    """(CPU seconds, successful probes) of blackbox_exporter over WINDOW, each of TARGETS probed every second.

    As Prometheus drives it: every target (a scrape of `/probe`) on its own offset within the interval, spread
    evenly, not all at once. The exporter spreads its targets the same way; a burst of 20 at once lets the Go
    runtime serve them while hot and halves blackbox's cost per probe (0.68 against 1.12 ms here), which would
    compare its best case with our ordinary one.
    """
    config = workdir / "blackbox.yml"
    config.write_text(BLACKBOX_MODULE)
    port = _free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, returns at once
        [BLACKBOX, f"--config.file={config}", f"--web.listen-address={HOST}:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    successes = 0
    try:
        async with aiohttp.ClientSession() as http:
            await _wait_http(http, f"http://{HOST}:{port}/-/healthy")
            probe = f"http://{HOST}:{port}/probe?module=nats&target={address}"

            async def one() -> int:
                async with http.get(probe) as response:
                    return 1 if "\nprobe_success 1" in await response.text() else 0

            await asyncio.gather(*(one() for _ in range(TARGETS)))  # warm-up
            cpu = _cpu_seconds(process.pid)
            started = time.monotonic()

            async def scrape_target(index: int) -> None:
                nonlocal successes
                tick = 0
                while (due := started + index / TARGETS + tick) < started + WINDOW:
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    successes += await one()
                    tick += 1

            await asyncio.gather(*(scrape_target(index) for index in range(TARGETS)))
            return _cpu_seconds(process.pid) - cpu, float(successes)
    finally:
        process.terminate()
        process.wait(timeout=10)


# The floor for any probe built on nats-py: a process that only connects and closes, TARGETS times a second on the
# same spread offsets, measured like the other two. It prints "<cpu seconds> <connections>" for the window.
BARE_NATS_PY = """
import asyncio, sys, time
import nats

async def main(url, targets, window):
    async def one():
        client = await nats.connect(url, allow_reconnect=False)
        await client.close()
    await asyncio.gather(*(one() for _ in range(targets)))  # warm-up
    cpu, started, done = time.process_time(), time.monotonic(), 0

    async def target(index):
        nonlocal done
        tick = 0
        while (due := started + index / targets + tick) < started + window:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await one()
            done += 1
            tick += 1

    await asyncio.gather(*(target(index) for index in range(targets)))
    print(time.process_time() - cpu, done)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
"""


async def bare_nats_py_side(url: str) -> tuple[float, float]:
    """(CPU seconds, connections) of a process doing nothing but nats-py connect+close at the exporter's rate."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BARE_NATS_PY, url, str(TARGETS), str(WINDOW), stdout=asyncio.subprocess.PIPE
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the nats-py floor process failed with code {process.returncode}")
    cpu, connections = output.split()
    return float(cpu), float(connections)


async def whole_processes(url: str, address: str) -> None:
    if shutil.which(BLACKBOX) is None:
        print(f"  ({BLACKBOX} not installed: `apt-get install {BLACKBOX}`; whole-process comparison skipped)")
        return
    with tempfile.TemporaryDirectory(prefix="nce-cost-") as tmp:
        ours_cpu, ours_probes = await exporter_side(url, Path(tmp))
        theirs_cpu, theirs_probes = await blackbox_side(address, Path(tmp))
        floor_cpu, floor_connections = await bare_nats_py_side(url)
    ours = ours_cpu / ours_probes * 1000
    theirs = theirs_cpu / theirs_probes * 1000
    floor = floor_cpu / floor_connections * 1000
    print(f"whole processes, {TARGETS} targets every second for {WINDOW:g} s, each target on its own offset:")
    print_figure("exporter, sessions on", f"{ours:.3f} s CPU / 1k   ({ours_probes:.0f} probes)")
    print_figure("blackbox_exporter, tcp NATS handshake", f"{theirs:.3f} s CPU / 1k   ({theirs_probes:.0f} probes)")
    print_figure("nats-py connect+close only (floor)", f"{floor:.3f} s CPU / 1k   ({floor_connections:.0f})")
    print("result:")
    ratio = ours / theirs
    print_figure("exporter / blackbox (CPU per probe)", f"{ratio:.2f}x", f"<= {WHOLE_GOAL}", ratio <= WHOLE_GOAL)
    print_figure("nats-py floor / blackbox", f"{floor / theirs:.2f}x")
    print_figure("exporter / nats-py floor", f"{ours / floor:.2f}x")


def main() -> None:
    with nats_server() as server:
        config = load_config(build_parser().parse_args(["serve", "--nats-url", server.url]), {})
        asyncio.run(measure(config.targets[0], server.url))
        asyncio.run(whole_processes(server.url, f"{server.host}:{server.port}"))
