"""/metrics, the health endpoints and the landing page, over real HTTP from a running exporter."""

from __future__ import annotations

import asyncio
import shutil
import time
from asyncio.subprocess import PIPE, STDOUT

import pytest

from exporter.demo.nats_server import NatsServer, free_port
from tests.conftest import ExporterFactory, silent_listener, value, wait_for


async def test_metrics_pass_promtool_check(nats_server: NatsServer, start_exporter: ExporterFactory) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool missing: `make test` installs the Debian package `prometheus`")
    running = await start_exporter(
        "--nats-url", nats_server.url, "--nats-url", f"down=nats://127.0.0.1:{free_port()}", "--probe.interval", "1s"
    )
    await wait_for(lambda: running.exporter.board.ready, message="both targets probed")
    _, _, text = await running.get("/metrics")

    checker = await asyncio.create_subprocess_exec(promtool, "check", "metrics", stdin=PIPE, stdout=PIPE, stderr=STDOUT)
    report, _ = await checker.communicate(text.encode())

    assert checker.returncode == 0, report.decode()
    assert "nats_connectivity_probe_success" in text


async def test_openmetrics_by_content_negotiation(nats_server: NatsServer, start_exporter: ExporterFactory) -> None:
    running = await start_exporter("--nats-url", nats_server.url)

    _, plain_type, plain = await running.get("/metrics")
    _, om_type, openmetrics = await running.get("/metrics", Accept="application/openmetrics-text; version=1.0.0")

    assert plain_type.startswith("text/plain")
    assert om_type.startswith("application/openmetrics-text")
    assert openmetrics.rstrip().endswith("# EOF")
    assert "# EOF" not in plain


async def test_ready_only_after_every_target_was_probed(
    nats_server: NatsServer, start_exporter: ExporterFactory
) -> None:
    with silent_listener() as port:
        running = await start_exporter(
            "--nats-url",
            nats_server.url,
            "--nats-url",
            f"slow=nats://127.0.0.1:{port}",
            "--probe.interval",
            "4s",
            "--probe.timeout",
            "2s",
        )
        status, _, _ = await running.get("/-/ready")
        assert status == 503  # the silent target's first probe cannot have finished yet
        assert (await running.get("/-/healthy"))[0] == 200

        await wait_for(lambda: running.exporter.board.ready, timeout=8, message="both targets probed")
        assert (await running.get("/-/ready"))[0] == 200


async def test_metrics_answer_quickly_while_every_target_times_out(start_exporter: ExporterFactory) -> None:
    with silent_listener() as port:
        urls = [arg for i in range(10) for arg in ("--nats-url", f"t{i}=nats://127.0.0.1:{port}")]
        running = await start_exporter(*urls, "--probe.interval", "3s", "--probe.timeout", "3s")
        await wait_for(lambda: running.exporter.board.get("t0") is not None, message="targets registered")
        durations = []
        for _ in range(20):
            started = time.perf_counter()
            status, _, _ = await running.get("/metrics")
            durations.append(time.perf_counter() - started)
            assert status == 200
            await asyncio.sleep(0.05)  # spread the scrapes over the probes' hanging connects

        assert max(durations) < 0.5, durations
        samples = await wait_for(
            running.metric_is("nats_connectivity_probes_total", 1, op=">=", target="t0", result="timeout"),
            timeout=8,
            message="the timeouts to be counted",
        )
        assert value(samples, "nats_connectivity_probe_success", target="t0") == 0


async def test_nats_enabled_false_serves_without_probing(start_exporter: ExporterFactory) -> None:
    running = await start_exporter(environ={"NATS_ENABLED": "false", "NATS_URL": "nats://nats-server:4222"})

    samples = await running.samples()

    assert (await running.get("/-/ready"))[0] == 200
    assert not [key for key in samples if key[0] == "nats_connectivity_probe_success"]
    assert value(samples, "nats_connectivity_build_info", **_build_labels(samples)) == 1


async def test_landing_page_shows_each_target(nats_server: NatsServer, start_exporter: ExporterFactory) -> None:
    refused = f"nats://app:hunter2@127.0.0.1:{free_port()}"
    running = await start_exporter("--nats-url", nats_server.url, "--nats-url", f"broken={refused}")
    await wait_for(lambda: running.exporter.board.ready, message="both targets probed")

    status, content_type, page = await running.get("/")

    assert status == 200
    assert content_type.startswith("text/html")
    assert 'id="target-default"' in page
    assert 'id="target-broken"' in page
    assert "connection_refused" in page
    assert "nats://app:***@127.0.0.1" in page
    assert "hunter2" not in page
    for phase in ("dns", "tcp", "connect", "rtt", "pubsub"):
        assert f'<td class="phase">{phase}</td>' in page


def _build_labels(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> dict[str, str]:
    for name, labels in samples:
        if name == "nats_connectivity_build_info":
            return dict(labels)
    raise AssertionError("build_info missing")
