"""Scrape: time to serve /metrics with 100 targets configured, against /-/healthy on the same server (the floor).

Goal: median /metrics < 10 ms. The real exporter runs with every target probed each second (and its session
open), so scrapes compete with probing as they do in production; the client alternates /metrics and /-/healthy on
one keep-alive connection so both see the same load.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp

from exporter.app import Exporter
from exporter.cli import build_parser
from exporter.config import Config, load_config

from ._support import HOST, TimeBudget, median, ms, nats_server, percentile, print_figure, print_stats

TARGETS = 100
REQUESTS = 300  # of each path
IDENTITY_EVERY = 3  # one request in three also asks for /metrics uncompressed, to show what gzip costs
WARM_UP = 20
GOAL = 0.010
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
BUDGET = 45.0  # seconds for the measured requests; fewer are made if the machine is slow


def write_config(directory: Path, nats_url: str) -> Path:
    lines = ["targets:"]
    for index in range(TARGETS):
        lines += [f"  - name: t{index}", f"    url: {nats_url}"]
    path = directory / "exporter.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def wait_ready(exporter: Exporter, task: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not (exporter.board.ready and exporter.bound_addresses):
        if task.done():
            task.result()  # re-raise why the exporter stopped
            raise RuntimeError("the exporter stopped before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the exporter was not ready (every target probed once) within {READY_TIMEOUT:g}s")
        await asyncio.sleep(0.05)


async def get(session: aiohttp.ClientSession, url: str, *, gzip: bool = True) -> tuple[float, bytes]:
    """One timed GET, body read; with `gzip` as Prometheus asks for it (aiohttp's default Accept-Encoding)."""
    headers = {} if gzip else {"Accept-Encoding": "identity"}
    started = time.perf_counter()
    async with session.get(url, headers=headers) as response:
        body = await response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"GET {url}: HTTP {response.status}")
    return elapsed, body


async def measure(config: Config) -> None:
    exporter = Exporter(config)
    task = asyncio.create_task(exporter.run(), name="exporter")
    try:
        started = time.perf_counter()
        await wait_ready(exporter, task)
        print(f"  exporter ready: {TARGETS} targets probed once, {time.perf_counter() - started:.2f} s after start")
        base = f"http://{HOST}:{exporter.bound_addresses[0][1]}"
        metrics_times: list[float] = []
        healthy_times: list[float] = []
        identity_times: list[float] = []
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for _ in range(WARM_UP):
                await get(session, f"{base}/metrics")
                await get(session, f"{base}/-/healthy")
            budget = TimeBudget(BUDGET)
            body = b""
            for done in range(REQUESTS):
                if budget.exhausted:
                    print(f"  (time budget of {budget.seconds:g}s spent: stopped after {done} of {REQUESTS} pairs)")
                    break
                elapsed, body = await get(session, f"{base}/metrics")
                metrics_times.append(elapsed)
                elapsed, _ = await get(session, f"{base}/-/healthy")
                healthy_times.append(elapsed)
                if done % IDENTITY_EVERY == 0:
                    elapsed, _ = await get(session, f"{base}/metrics", gzip=False)
                    identity_times.append(elapsed)
        samples = [line for line in body.splitlines() if line and not line.startswith(b"#")]
        print(f"  /metrics body: {len(body) / 1024:.1f} KiB, {len(samples)} samples")
        print_stats("GET /-/healthy (HTTP floor)", healthy_times)
        print_stats("GET /metrics", metrics_times)
        print_stats("GET /metrics, not compressed", identity_times)
        print("result:")
        scrape = median(metrics_times)
        print_figure("median /metrics", ms(scrape), f"< {ms(GOAL)}", scrape < GOAL)
        print_figure("p99 /metrics", ms(percentile(metrics_times, 0.99)))
        print_figure("median /metrics - /-/healthy", ms(scrape - median(healthy_times)))
        per_sample = (scrape - median(healthy_times)) / max(1, len(samples))
        print_figure("... per sample line", f"{per_sample * 1e6:.2f} us")
    finally:
        exporter.stop()
        async with asyncio.timeout(STOP_TIMEOUT):
            await task


def main() -> None:
    with nats_server() as server, tempfile.TemporaryDirectory(prefix="nce-bench-") as tmp:
        path = write_config(Path(tmp), server.url)
        argv = ["--config", str(path), "--web.listen-address", f"{HOST}:0", "--probe.interval", "1s"]
        asyncio.run(measure(load_config(build_parser().parse_args(["serve", *argv]), {})))
