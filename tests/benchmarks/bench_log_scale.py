"""Log scale: 1,000 pods logging 10 lines/s each through the fake API server, every line counted by the exporter.

Goal: <= 25% of one core and <= 200 MB peak RSS for the exporter, and exact counts. The fake API server runs in
this process (its own event loop, HTTPS as a real one) and the exporter in its own (`python -m exporter`), so its
CPU (/proc/PID/stat) and peak RSS (VmHWM) are its alone. Baselines from the same run: the exporter idle with every
stream open and no lines, and the fake server's own CPU (what serving the lines costs this process). The NATS URL
is refused on purpose: this benchmark is about logs, and one probe a minute costs nothing worth measuring.
BENCH_SCALE_PODS and BENCH_SCALE_SECONDS shrink the run (defaults 1,000 and 60). If the exporter stops opening
streams short of one per pod, the reason is printed and the run repeated at the largest scale it reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from exporter.config.logs import DEFAULT_SUBSTRINGS
from exporter.demo.nats_server import free_port
from tests.fake_kube import FakeKube, LogKey

from ._support import HOST, print_figure, stop_process

DEFAULT_PODS = 1000
DEFAULT_SECONDS = 60.0
LINES_PER_SECOND = 10.0  # per pod
NAMESPACE = "load"
APPS = 20
SELECTOR = "tier=app"
GOAL_CPU = 0.25  # of one core
GOAL_RSS_MB = 200.0
IDLE_SECONDS = 5.0
SAMPLE_EVERY = 5.0  # seconds between progress scrapes during the generator phase
OPEN_TIMEOUT = 120.0  # for the exporter to open a log stream per pod
STALL_SECONDS = 35.0  # no new stream this long (beyond the client's 30 s connect timeout): the exporter is stuck
DRAIN_TIMEOUT = 60.0  # for the exporter to count the last lines once the generator stopped
STOP_TIMEOUT = 10.0
SCRAPE_TIMEOUT = 10.0
RATE_SHORTFALL = 0.95  # below this share of the asked rate, the generator could not keep up

_EVENT_LINES = [text for texts in DEFAULT_SUBSTRINGS.values() for text in texts]
# Sixty lines cycled per pod, three of them events (5%); `{n}` and `{pod}` are filled in by the generator.
TEMPLATES = [
    f"{_EVENT_LINES[index // 20]} nats://nats-server.nats.svc.cluster.local:4222 pod={{pod}}"
    if index % 20 == 0
    else f"INFO handled request {{n}} method=GET path=/api/v1/items/{index} status=200 ms={index % 37} pod={{pod}}"
    for index in range(60)
]
EVENT_INDEXES = tuple(index for index, line in enumerate(TEMPLATES) if any(e in line for e in _EVENT_LINES))


def from_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    return float(raw) if raw else default


def expected_events(lines: int) -> int:
    """Events among a container's first `lines` generated lines (the generator cycles TEMPLATES from n=0)."""
    cycles, rest = divmod(lines, len(TEMPLATES))
    return cycles * len(EVENT_INDEXES) + sum(1 for index in EVENT_INDEXES if index < rest)


@dataclass(frozen=True, slots=True)
class Exporter:
    """The exporter subprocess and what /proc tells about it."""

    process: subprocess.Popen[bytes]
    metrics_url: str
    log_file: Path

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_mb(self, key: str) -> float:
        """`VmRSS` (now) or `VmHWM` (peak) from /proc/PID/status, in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024 / 1e6
        raise RuntimeError(f"no {key} in /proc/{self.process.pid}/status")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            log = self.log_file.read_text(errors="replace").strip()[-1500:]
            raise RuntimeError(f"the exporter exited with code {self.process.returncode}: {log}")


@contextlib.contextmanager
def exporter_process(kubeconfig: Path, workdir: Path) -> Iterator[Exporter]:
    """`python -m exporter` following the pods of SELECTOR; SIGTERM on exit, kill if it lingers."""
    port = free_port(HOST)
    log_file = workdir / "exporter.log"
    args = [
        *(sys.executable, "-m", "exporter", "--nats-url", "nats://127.0.0.1:1", "--kubeconfig", str(kubeconfig)),
        *("--logs.selector", SELECTOR, "--web.listen-address", f"{HOST}:{port}", "--probe.interval", "1m"),
    ]
    with log_file.open("wb") as log:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        yield Exporter(process, f"http://{HOST}:{port}/metrics", log_file)
    finally:
        if stop_process(process, STOP_TIMEOUT) is None:
            print(f"  the exporter did not exit within {STOP_TIMEOUT:g}s of SIGTERM: killed")


@dataclass(frozen=True, slots=True)
class Counted:
    lines: int
    events: int


async def scrape(session: aiohttp.ClientSession, url: str) -> Counted:
    """The exporter's own view: log lines and events summed over every series."""
    async with session.get(url) as response:
        text = await response.text()
    sums = {"nats_connectivity_log_lines_total": 0.0, "nats_connectivity_log_events_total": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in sums:
                sums[sample.name] += sample.value
    return Counted(int(sums["nats_connectivity_log_lines_total"]), int(sums["nats_connectivity_log_events_total"]))


class Stalled(Exception):
    """The exporter stopped opening log streams short of one per pod."""

    def __init__(self, opened: int, reason: str) -> None:
        super().__init__(f"{opened} log streams open: {reason}")
        self.opened, self.reason = opened, reason


def last_api_error(log_file: Path) -> str:
    """The exporter's last `Kubernetes API error` log line, as the evidence of why streams do not open."""
    lines = [line for line in log_file.read_text(errors="replace").splitlines() if "Kubernetes API error" in line]
    return lines[-1].split("msg=", 1)[-1] if lines else "no Kubernetes API error logged"


async def wait_for_streams(kube: FakeKube, exporter: Exporter, pods: int) -> float:
    """Seconds until a log stream per pod is open; raises Stalled if the count stops growing or the time is up."""
    started = last_change = time.monotonic()
    last = -1
    while (opened := kube.open_streams("log")) < pods:
        exporter.check_alive()
        now = time.monotonic()
        if opened != last:
            last, last_change = opened, now
        elif now - last_change > STALL_SECONDS:
            raise Stalled(opened, f"no new stream for {STALL_SECONDS:g}s; last: {last_api_error(exporter.log_file)}")
        if now - started > OPEN_TIMEOUT:
            raise Stalled(opened, f"not all open within {OPEN_TIMEOUT:g}s")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def appended(truth: Mapping[LogKey, int]) -> Counted:
    return Counted(sum(truth.values()), sum(expected_events(count) for count in truth.values()))


def minus(after: Counted, before: Counted) -> Counted:
    return Counted(after.lines - before.lines, after.events - before.events)


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU of the exporter and of this process (the fake server) over a stretch of wall time."""

    wall: float
    exporter_cpu: float
    own_cpu: float

    @classmethod
    def now(cls, exporter: Exporter) -> Usage:
        return cls(time.monotonic(), exporter.cpu_seconds(), time.process_time())

    def since(self, start: Usage) -> Usage:
        return Usage(self.wall - start.wall, self.exporter_cpu - start.exporter_cpu, self.own_cpu - start.own_cpu)


async def measure(pods: int, wanted: int, seconds: float, workdir: Path) -> None:
    # Kubernetes as it behaves: timestamps in a zone offset, statuses a second behind kubelet.
    async with FakeKube(log_offset="+01:00", status_lag=1.0) as kube:
        for index in range(pods):
            labels = {"tier": "app", "app": f"svc-{index % APPS}"}
            kube.add_pod(NAMESPACE, f"svc-{index % APPS}-{index}", labels=labels)
        kubeconfig = kube.write_kubeconfig(workdir / "kubeconfig")
        timeout = aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT)
        with exporter_process(kubeconfig, workdir) as exporter:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                await run_phases(kube, exporter, session, pods, wanted, seconds)


async def run_phases(
    kube: FakeKube, exporter: Exporter, session: aiohttp.ClientSession, pods: int, wanted: int, seconds: float
) -> None:
    opened = await wait_for_streams(kube, exporter, pods)
    print(
        f"  {kube.open_streams('log')} log streams open {opened:.1f} s after the exporter started "
        f"(RSS {exporter.memory_mb('VmRSS'):.0f} MB)",
        flush=True,
    )

    idle_start = Usage.now(exporter)
    await asyncio.sleep(IDLE_SECONDS)
    idle = Usage.now(exporter).since(idle_start)

    before = appended(kube.lines_appended())
    if before.lines:
        raise RuntimeError(f"{before.lines} lines were appended before the generator started")
    start = Usage.now(exporter)
    generator = kube.start_log_generator(
        TEMPLATES, lines_per_second=LINES_PER_SECOND, namespace=NAMESPACE, label_selector=SELECTOR
    )
    max_lag = 0
    while (elapsed := time.monotonic() - start.wall) < seconds:
        await asyncio.sleep(min(SAMPLE_EVERY, seconds - elapsed))
        exporter.check_alive()
        truth, counted = minus(appended(kube.lines_appended()), before), await scrape(session, exporter.metrics_url)
        max_lag = max(max_lag, truth.lines - counted.lines)
        print(
            f"  t={time.monotonic() - start.wall:5.1f} s  appended {truth.lines:>9,}  counted {counted.lines:>9,}",
            flush=True,
        )
    kube.stop_log_generator(generator.id)
    await generator.wait()
    phase = Usage.now(exporter).since(start)
    expected = minus(appended(kube.lines_appended()), before)

    drain_started = time.monotonic()
    counted = await scrape(session, exporter.metrics_url)
    while counted.lines < expected.lines and time.monotonic() - drain_started < DRAIN_TIMEOUT:
        exporter.check_alive()
        await asyncio.sleep(0.2)
        counted = await scrape(session, exporter.metrics_url)
    drain = time.monotonic() - drain_started
    await asyncio.sleep(0.5)  # anything beyond the expected count (double counting) shows up now
    counted = await scrape(session, exporter.metrics_url)
    total = Usage.now(exporter).since(start)
    peak_rss = exporter.memory_mb("VmHWM")

    asked = pods * LINES_PER_SECOND
    achieved = expected.lines / phase.wall
    print(
        f"  generator: {generator.emitted} lines per pod in {phase.wall:.1f} s, "
        f"{achieved:,.0f} lines/s of {asked:,.0f} asked ({achieved / asked:.0%})"
    )
    if achieved < RATE_SHORTFALL * asked:
        print("  the generator (fake server, this process) could NOT keep its rate: figures are for the rate achieved")
    print(
        f"  largest backlog seen (appended - counted): {max_lag:,} lines; counts settled {drain:.1f} s after the stop"
    )
    print("result:")
    print_figure("pods (log streams)", f"{pods:,}", f"{wanted:,}", pods >= wanted)
    print_figure("lines/s handled", f"{expected.lines / (phase.wall + drain):,.0f}")
    print_figure("fake server CPU (this process)", f"{phase.own_cpu / phase.wall:.1%}")
    print_figure("exporter CPU, idle (baseline)", f"{idle.exporter_cpu / idle.wall:.1%}")
    share = phase.exporter_cpu / phase.wall
    print_figure("exporter CPU, generator phase", f"{share:.1%}", f"<= {GOAL_CPU:.0%}", share <= GOAL_CPU)
    per_thousand = total.exporter_cpu / max(1, expected.lines) * 1000
    print_figure("exporter CPU per 1,000 lines", f"{per_thousand * 1e3:.1f} ms")
    print_figure("exporter peak RSS (VmHWM)", f"{peak_rss:.0f} MB", f"<= {GOAL_RSS_MB:g} MB", peak_rss <= GOAL_RSS_MB)
    exact = counted == expected
    print_figure("lines expected / counted", f"{expected.lines:,} / {counted.lines:,}", "exact", exact)
    print_figure("events expected / counted", f"{expected.events:,} / {counted.events:,}")
    assert exact, f"the exporter counted {counted}, the fake server appended {expected}"


def main() -> None:
    """At the asked scale; if the exporter cannot open a stream per pod, again at the largest scale it reached."""
    wanted = int(from_env("BENCH_SCALE_PODS", DEFAULT_PODS))
    seconds = from_env("BENCH_SCALE_SECONDS", DEFAULT_SECONDS)
    print(
        f"  {wanted:,} pods x {LINES_PER_SECOND:g} lines/s for {seconds:g} s; {len(EVENT_INDEXES)} lines in "
        f"{len(TEMPLATES)} are events"
    )
    with tempfile.TemporaryDirectory(prefix="nce-bench-") as tmp:
        try:
            asyncio.run(measure(wanted, wanted, seconds, Path(tmp)))
            return
        except Stalled as stall:
            if stall.opened == 0:
                raise
            print(f"  {wanted:,} pods did NOT work: {stall}")
            print(f"  measuring again at {stall.opened:,} pods, the largest scale that worked", flush=True)
            retry = Path(tmp) / "retry"
            retry.mkdir()
            asyncio.run(measure(stall.opened, wanted, seconds, retry))
