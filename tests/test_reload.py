"""Reloading the configuration (POST /-/reload, SIGHUP): targets come and go, a broken file changes nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from exporter.demo.nats_server import NatsServer, free_port
from tests.conftest import ExporterFactory, parse_samples, value, wait_for


def write_targets(path: Path, targets: dict[str, str]) -> None:
    lines = ["probe: {interval: 1s}", "targets:"]
    lines += [f"  - {{name: {name}, url: '{url}'}}" for name, url in targets.items()]
    path.write_text("\n".join(lines) + "\n")


def target_names(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], metric: str) -> set[str]:
    return {dict(labels)["target"] for name, labels in samples if name == metric}


async def test_post_reload_adds_and_removes_targets_and_their_series(
    nats_server: NatsServer, start_exporter: ExporterFactory, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    write_targets(config, {"first": nats_server.url, "second": nats_server.url})
    running = await start_exporter("--config", str(config))
    await wait_for(lambda: running.exporter.board.ready, message="both targets probed")

    write_targets(config, {"first": nats_server.url, "third": nats_server.url})
    status, _, text = await running.request("POST", "/-/reload")

    assert status == 200, text
    assert "third" in text
    samples = await wait_for(
        running.metric_is("nats_connectivity_probe_success", 1, target="third"), message="the new target probed"
    )
    for metric in (
        "nats_connectivity_probe_success",
        "nats_connectivity_probes_total",
        "nats_connectivity_target_info",
    ):
        assert target_names(samples, metric) == {"first", "third"}, metric
    assert value(samples, "nats_connectivity_config_last_reload_successful") == 1
    # A target that stays keeps its counters: reloading is not a restart.
    assert (value(samples, "nats_connectivity_probes_total", target="first", result="success") or 0) >= 1


async def test_invalid_new_config_leaves_the_running_one_untouched(
    nats_server: NatsServer, start_exporter: ExporterFactory, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    write_targets(config, {"first": nats_server.url})
    running = await start_exporter("--config", str(config))
    await wait_for(lambda: running.exporter.board.ready, message="first probe")
    before = (await running.samples())[("nats_connectivity_config_last_reload_success_timestamp_seconds", frozenset())]

    config.write_text("targets: [{name: first, url: 'http://wrong'}]\n")
    status, _, text = await running.request("POST", "/-/reload")

    assert status == 500
    assert "running configuration kept" in text
    samples = await running.samples()
    assert value(samples, "nats_connectivity_config_last_reload_successful") == 0
    assert value(samples, "nats_connectivity_config_last_reload_success_timestamp_seconds") == before
    assert target_names(samples, "nats_connectivity_probe_success") == {"first"}
    assert running.exporter.config.targets[0].servers[0].port == nats_server.port


async def test_reload_accepts_only_post(nats_server: NatsServer, start_exporter: ExporterFactory) -> None:
    running = await start_exporter("--nats-url", nats_server.url)
    for method in ("GET", "PUT", "DELETE"):
        status, _, _ = await running.request(method, "/-/reload")
        assert status == 405, method


async def test_sighup_reloads_a_running_process(nats_server: NatsServer, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    write_targets(config, {"first": nats_server.url})
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "exporter", "--config", str(config), "--web.listen-address", f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={key: val for key, val in os.environ.items() if not key.startswith("NATS_")},
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http:

            async def targets_are(expected: set[str]) -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                        samples = parse_samples(await response.text())
                except aiohttp.ClientError:
                    return False
                return target_names(samples, "nats_connectivity_probe_success") == expected

            await wait_for(lambda: targets_are({"first"}), message="the first target probed")
            write_targets(config, {"renamed": nats_server.url})
            process.send_signal(signal.SIGHUP)
            await wait_for(lambda: targets_are({"renamed"}), message="the reloaded target")
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=10)
    assert process.returncode == 0
    assert b"configuration reloaded" in output
