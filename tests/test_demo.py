"""`demo` (what `make run` starts): a newcomer sees a success, an outage with its reason, and the recovery."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import aiohttp

from exporter.demo.nats_server import free_port
from tests.conftest import parse_samples, value, wait_for


async def test_demo_shows_success_outage_and_recovery() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "exporter", "demo", "--web.listen-address", f"127.0.0.1:{port}",
        "--probe.interval", "500ms", "--demo.outage-every", "2s", "--demo.outage-for", "2s",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={key: val for key, val in os.environ.items() if not key.startswith("NATS_")},
    )  # fmt: skip
    seen: list[float] = []
    try:
        async with aiohttp.ClientSession() as http:

            async def probe_success_history() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                        samples = parse_samples(await response.text())
                except aiohttp.ClientError:
                    return False
                current = value(samples, "nats_connectivity_probe_success", target="demo")
                if current is not None and (not seen or seen[-1] != current):
                    seen.append(current)
                return seen[:3] == [1.0, 0.0, 1.0]

            await wait_for(probe_success_history, timeout=20, message="success, then failure, then recovery")

            async def app_logged_every_event() -> bool:
                async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                    samples = parse_samples(await response.text())
                counts = [
                    value(samples, "nats_connectivity_log_events_total", namespace="", app="demo-app", event=event)
                    for event in ("connected", "lost", "failed")
                ]
                return all(count and count >= 1 for count in counts)

            await wait_for(app_logged_every_event, timeout=20, message="the demo app's three log lines counted")
            async with http.get(f"http://127.0.0.1:{port}/") as response:
                assert "<h2>Applications</h2>" in await response.text()
            async with http.get(f"http://127.0.0.1:{port}/") as response:
                page = await response.text()
        assert "connection_refused" in page
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=10)
    text = output.decode()
    assert process.returncode == 0, text
    assert f"Status page: http://127.0.0.1:{port}/" in text
    assert re.search(r'msg="target down" .*reason=connection_refused', text)
