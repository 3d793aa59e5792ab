"""Reloading the configuration (POST /-/reload, SIGHUP): targets come and go, a broken file changes nothing."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from exporter.demo.nats_server import NatsServer, free_port
from exporter.runtime.process_log import JsonFormatter, configure
from tests.conftest import ExporterFactory, RunningExporter, Samples, parse_samples, value, wait_for
from tests.fake_kube import FakeKube


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

    await wait_for(
        running.metric_is("nats_connectivity_probes_total", 2, target="first", result="success"),
        message="two probes of the first target",
    )
    before = value(await running.samples(), "nats_connectivity_probes_total", target="first", result="success")
    assert before is not None
    assert before >= 2
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
    # A target that stays keeps its counters: reloading is not a restart (a reset would read below `before`).
    assert (value(samples, "nats_connectivity_probes_total", target="first", result="success") or 0) >= before


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


def write_config(path: Path, url: str, **sections: str) -> None:
    """One target probed every second, plus the given top-level sections as YAML flow mappings."""
    lines = [f"{key}: {body}" for key, body in sections.items()]
    lines += ["probe: {interval: 1s}", "targets:", f"  - {{name: first, url: '{url}'}}"]
    path.write_text("\n".join(lines) + "\n")


async def reload_and_expect(running: RunningExporter, status: int, *words: str) -> Samples:
    code, _, text = await running.request("POST", "/-/reload")
    assert code == status, text
    for word in words:
        assert word in text
    samples = await running.samples()
    assert value(samples, "nats_connectivity_config_last_reload_successful") == (1 if status == 200 else 0)
    return samples


async def shown_config(running: RunningExporter) -> dict[str, Any]:
    status, _, text = await running.get("/config")
    assert status == 200, text
    return dict(yaml.safe_load(text))


async def test_a_setting_read_only_at_start_is_refused_by_name(
    nats_server: NatsServer, start_exporter: ExporterFactory, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    write_config(config, nats_server.url)
    running = await start_exporter("--config", str(config))

    write_config(config, nats_server.url, web="{idle_timeout: 7s}")
    await reload_and_expect(running, 500, "web.idle_timeout", "restart")

    assert running.exporter.config.idle_timeout != 7.0  # the running configuration is kept whole


async def test_reloaded_log_file_settings_are_followed(
    nats_server: NatsServer, start_exporter: ExporterFactory, tmp_path: Path
) -> None:
    config, app_log = tmp_path / "config.yaml", tmp_path / "app.log"
    app_log.write_text("")
    write_config(config, nats_server.url)
    running = await start_exporter("--config", str(config))

    write_config(config, nats_server.url, logs=f"{{files: {{shop: '{app_log}'}}, from_start: true}}")
    await reload_and_expect(running, 200)
    with app_log.open("a") as stream:
        stream.write("Connected to NATS server nats://nats:4222\n")

    await wait_for(
        running.metric_is("nats_connectivity_log_events_total", 1, namespace="", app="shop", event="connected"),
        message="the line of the newly followed file counted",
    )
    assert (await shown_config(running))["logs"]["files"] == [{"app": "shop", "path": str(app_log)}]

    write_config(config, nats_server.url)  # and following stops when the setting goes
    await reload_and_expect(running, 200)
    assert not [name for name in running.exporter._supervisor.names() if name.startswith("logfile:")]  # type: ignore[union-attr]
    assert (await shown_config(running))["logs"]["enabled"] is False


async def test_reloaded_log_level_and_format_apply(
    nats_server: NatsServer, start_exporter: ExporterFactory, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    write_config(config, nats_server.url)
    running = await start_exporter("--config", str(config))

    write_config(config, nats_server.url, log="{level: debug, format: json}")
    await reload_and_expect(running, 200)

    root = logging.getLogger()
    assert root.level == logging.DEBUG
    assert isinstance(root.handlers[0].formatter, JsonFormatter)
    assert (await shown_config(running))["log"] == {"level": "debug", "format": "json"}
    configure("info", "text")


async def test_reloaded_diagnostics_settings_are_in_force(
    nats_server: NatsServer, start_exporter: ExporterFactory, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    write_config(config, nats_server.url)
    running = await start_exporter("--config", str(config))

    write_config(config, nats_server.url, diagnostics="{interval: 17s, cluster_domain: corp.example}")
    await reload_and_expect(running, 200)

    shown = (await shown_config(running))["diagnostics"]
    assert (shown["interval"], shown["cluster_domain"]) == ("17s", "corp.example")
    assert running.exporter.config.diagnostics.interval == 17.0
    assert running.exporter._supervisor is not None
    assert running.exporter._supervisor.running("diagnostics")


async def test_a_reloaded_kubeconfig_gives_the_features_a_new_client(
    nats_server: NatsServer, start_exporter: ExporterFactory, kube: FakeKube, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    write_config(config, nats_server.url)
    running = await start_exporter("--config", str(config), environ={})
    assert running.exporter.kube is None

    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    write_config(config, nats_server.url, kubeconfig=f"'{kubeconfig}'")
    await reload_and_expect(running, 200)

    assert running.exporter.kube is not None
    assert (await shown_config(running))["kubeconfig"] == {"file": str(kubeconfig)}
    await wait_for(lambda: running.exporter.state.audit.latest is not None, message="the audit ran with it")

    # And back: following pods then needs Kubernetes access, so that reload is refused by name.
    write_config(config, nats_server.url, logs="{selector: app=shop}")
    await reload_and_expect(running, 500, "--logs.selector")
    assert running.exporter.kube is not None
