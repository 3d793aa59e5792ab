"""HTTP load: /metrics under 200 concurrent keep-alive clients while every probe hangs, against /-/healthy (the floor).

Goal: p99 /metrics < 100 ms. Ten targets point at a listener that accepts and never speaks, probed every 2 s with a
2 s timeout, so probes (and the sessions' reconnect attempts) are always in flight while the scrapes arrive. The
exporter runs in its own process (`python -m exporter`), so the load generator does not share its event loop;
`wrk` generates the load when installed (it costs least CPU on a small machine), else aiohttp in this process.
Both ask for gzip, as Prometheus does. BENCH_HTTP_SECONDS shortens each measured phase (default 30);
BENCH_HTTP_GENERATOR=aiohttp uses aiohttp even when wrk is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from exporter.demo.nats_server import free_port
from tests.conftest import silent_listener

from ._support import HOST, ms, percentile, print_figure, stop_process

TARGETS = 10
PROBE_INTERVAL = 2.0  # and the timeout: a probe of a silent target lasts its whole interval
CLIENTS = 200
GOAL_P99 = 0.100
DEFAULT_SECONDS = 30.0
WARM_UP_SECONDS = 2.0
READY_TIMEOUT = 30.0  # the first probes of silent targets take their whole 2 s timeout
STOP_TIMEOUT = 10.0
REQUEST_TIMEOUT = 10.0
# One wrk thread drives 200 connections far faster than one Python process can answer them, and leaves the other
# cores to the exporter.
WRK_THREADS = 1


@dataclass(frozen=True, slots=True)
class Load:
    """What one load phase measured."""

    requests: int
    seconds: float
    p50: float
    p99: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass(frozen=True, slots=True)
class Exporter:
    process: subprocess.Popen[bytes]
    base_url: str
    log_file: Path

    def cpu_seconds(self) -> float | None:
        """User + system CPU the exporter has used (Linux /proc), to show whether it was saturated."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured_seconds() -> float:
    raw = os.environ.get("BENCH_HTTP_SECONDS", "")
    return float(raw) if raw else DEFAULT_SECONDS


def write_config(directory: Path, port: int) -> Path:
    lines = [f"probe: {{interval: {PROBE_INTERVAL:g}s, timeout: {PROBE_INTERVAL:g}s}}", "targets:"]
    lines += [f"  - {{name: t{index}, url: 'nats://{HOST}:{port}'}}" for index in range(TARGETS)]
    path = directory / "exporter.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextlib.contextmanager
def exporter_process(config: Path, workdir: Path) -> Iterator[Exporter]:
    """`python -m exporter` on a free port, ready (every target probed once); SIGTERM on exit, kill if it lingers."""
    port = free_port(HOST)
    log_file = workdir / "exporter.log"
    args = [sys.executable, "-m", "exporter", "--config", str(config), "--web.listen-address", f"{HOST}:{port}"]
    with log_file.open("wb") as log:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    exporter = Exporter(process, f"http://{HOST}:{port}", log_file)
    try:
        started = time.monotonic()
        wait_ready(exporter)
        print(f"  exporter ready: {TARGETS} targets probed once, {time.monotonic() - started:.2f} s after start")
        yield exporter
    finally:
        started = time.monotonic()
        code = stop_process(process, STOP_TIMEOUT)
        if code is None:
            print(f"  exporter did not exit within {STOP_TIMEOUT:g}s of SIGTERM: killed")
        else:
            print(f"  exporter exited with code {code}, {time.monotonic() - started:.2f} s after SIGTERM")


def wait_ready(exporter: Exporter) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if exporter.process.poll() is not None:
            log = exporter.log_file.read_text(errors="replace").strip()[-1000:]
            raise RuntimeError(f"the exporter exited with code {exporter.process.returncode}: {log}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(f"{exporter.base_url}/-/ready", timeout=1) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the exporter was not ready within {READY_TIMEOUT:g}s")


def run_wrk(wrk: str, url: str, seconds: float) -> Load:
    """A closed loop of CLIENTS keep-alive connections; wrk's own latency percentiles."""
    duration = max(1, round(seconds))
    args = [wrk, f"-t{WRK_THREADS}", f"-c{CLIENTS}", f"-d{duration}s", f"--timeout={REQUEST_TIMEOUT:g}s", "--latency"]
    args += ["-H", "Accept-Encoding: gzip", url]
    report = subprocess.run(args, capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    requests = re.search(r"(\d+) requests in ([\d.]+)(m?s)", report)
    if requests is None:
        raise RuntimeError(f"unexpected wrk report:\n{report}")
    elapsed = float(requests[2]) * (1e-3 if requests[3] == "ms" else 1.0)
    errors = sum(int(found) for found in re.findall(r"(?:connect|read|write|timeout) (\d+)", report))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    return Load(
        requests=int(requests[1]),
        seconds=elapsed,
        p50=_wrk_latency(report, "50%"),
        p99=_wrk_latency(report, "99%"),
        errors=errors + (int(non_2xx[1]) if non_2xx else 0),
    )


def _wrk_latency(report: str, label: str) -> float:
    found = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s|m)\s*$", report, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no {label} latency in the wrk report:\n{report}")
    return float(found[1]) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[found[2]]


async def aiohttp_load(url: str, seconds: float) -> Load:
    """The same closed loop from this process: CLIENTS tasks, each one request at a time on a shared pool."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=CLIENTS, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    headers = {"Accept-Encoding": "gzip"}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while loop.time() < deadline:
            started = time.perf_counter()
            try:
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:
        started = loop.time()
        async with asyncio.timeout(seconds + REQUEST_TIMEOUT + 5):
            await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
        elapsed = loop.time() - started
    if not latencies:
        raise RuntimeError(f"no request to {url} succeeded ({errors} failed)")
    return Load(len(latencies), elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99), errors)


def generate(wrk: str | None, url: str, seconds: float) -> Load:
    return run_wrk(wrk, url, seconds) if wrk else asyncio.run(aiohttp_load(url, seconds))


def measure(wrk: str | None, exporter: Exporter, path: str, seconds: float) -> Load:
    cpu_before = exporter.cpu_seconds()
    load = generate(wrk, exporter.base_url + path, seconds)
    cpu_after = exporter.cpu_seconds()
    cpu = ""
    if cpu_before is not None and cpu_after is not None:
        cpu = f"   exporter CPU {(cpu_after - cpu_before) / load.seconds:.0%}"
    print(
        f"  GET {path:<12} {load.rate:>9.0f} req/s   p50 {ms(load.p50):>11}   p99 {ms(load.p99):>11}"
        f"   n={load.requests} errors={load.errors}{cpu}",
        flush=True,
    )
    return load


def probe_timeouts(exporter: Exporter) -> float:
    """Timed-out probes so far, summed over targets: proof the probes were hanging during the load."""
    with urllib.request.urlopen(f"{exporter.base_url}/metrics", timeout=REQUEST_TIMEOUT) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "nats_connectivity_probes_total" and sample.labels.get("result") == "timeout"
    )


def main() -> None:
    seconds = measured_seconds()
    forced = os.environ.get("BENCH_HTTP_GENERATOR") == "aiohttp"  # to compare the two generators
    wrk = None if forced else shutil.which("wrk")
    why = "BENCH_HTTP_GENERATOR=aiohttp" if forced else "wrk not installed"
    generator = f"wrk ({WRK_THREADS} thread)" if wrk else f"aiohttp in the benchmark process ({why})"
    print(f"  load generator: {generator}; {CLIENTS} keep-alive clients, {seconds:g} s per path, gzip accepted")
    with silent_listener() as port, tempfile.TemporaryDirectory(prefix="nce-bench-") as tmp:
        config = write_config(Path(tmp), port)
        with exporter_process(config, Path(tmp)) as exporter:
            timeouts_before = probe_timeouts(exporter)
            load_started = time.monotonic()
            generate(wrk, f"{exporter.base_url}/metrics", WARM_UP_SECONDS)
            healthy = measure(wrk, exporter, "/-/healthy", seconds)
            metrics = measure(wrk, exporter, "/metrics", seconds)
            timed_out = probe_timeouts(exporter) - timeouts_before
            expected = TARGETS * (time.monotonic() - load_started) / PROBE_INTERVAL
    print(f"  probes timed out during the load: {timed_out:.0f} (one per target and interval would be {expected:.0f})")
    print("result:")
    print_figure("p99 /metrics", ms(metrics.p99), f"< {ms(GOAL_P99)}", metrics.p99 < GOAL_P99)
    print_figure("p50 /metrics", ms(metrics.p50))
    print_figure("/metrics req/s", f"{metrics.rate:.0f}")
    print_figure("p99 /metrics / p99 /-/healthy", f"{metrics.p99 / healthy.p99:.2f}x")
    print_figure("req/s /metrics / req/s /-/healthy", f"{metrics.rate / healthy.rate:.2f}x")
    if metrics.errors or healthy.errors:
        print_figure("failed requests", f"{metrics.errors + healthy.errors}")
