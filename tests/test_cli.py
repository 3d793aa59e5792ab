"""The command line as an operator uses it: exit codes, one-line errors, signals, and secrets kept out of output."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from exporter.demo.nats_server import NatsServer, free_port
from tests.conftest import parse_samples, value, wait_for

EXPORTER = [sys.executable, "-m", "exporter"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("NATS_")}
    environment.update(env or {})
    return subprocess.run([*EXPORTER, *args], capture_output=True, text=True, timeout=20, env=environment, check=False)


URL = ["--nats-url", "nats://nats-server:4222"]


@pytest.mark.parametrize(
    ("args", "key"),
    [
        ([*URL, "--probe.interval", "15"], "--probe.interval"),
        ([*URL, "--probe.timeout", "fast"], "--probe.timeout"),
        ([*URL, "--probe.interval", "2s", "--probe.timeout", "5s"], "--probe.timeout"),
        (["--nats-url", "http://nats:4222"], "--nats-url"),
        ([*URL, "--web.listen-address", "localhost"], "--web.listen-address"),
        ([*URL, "--log.level", "verbose"], "--log.level"),
        ([*URL, "--log.format", "xml"], "--log.format"),
        ([*URL, "--no-such-flag"], "--no-such-flag"),
        ([], "--nats-url"),
    ],
)
def test_invalid_flag_exits_2_with_one_line_naming_it(args: list[str], key: str) -> None:
    result = run_cli(*args)

    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert key in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ("targets: [{name: a, url: 'nats://x:4222'}, {name: a, url: 'nats://y:4222'}]", "targets.name"),
        ("targets: [{name: a}]", "targets[a].url"),
        ("targets: [{name: a, url: 'nats://x:4222', tls: {ca_file: /nonexistent.pem}}]", "targets[a].tls.ca_file"),
        ("targets: [{name: a, url: 'nats://x:4222', credentials: {password: hunter2}}]", "credentials.password"),
        ("targets: [{name: a, url: 'nats://x:4222', intervall: 5s}]", "targets[0].intervall"),
        ("probe: {interval: soon}\ntargets: [{url: 'nats://x:4222'}]", "probe.interval"),
        ("targets: [{url: 'nats://x:4222'}\n", "--config"),
        ("targets: [{url: 'nats://x:4222'}]\n# \udcff\n", "--config"),
    ],
)
def test_invalid_config_file_exits_2_with_one_line_naming_the_key(tmp_path: Path, document: str, key: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_bytes(document.encode("utf-8", "surrogateescape"))  # \udcff: a byte that is not UTF-8

    result = run_cli("--config", str(config))

    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert key in lines[0]
    assert "hunter2" not in result.stderr


@pytest.fixture
def exporter_process() -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    process = subprocess.Popen(
        [*EXPORTER, "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "debug", "--probe.interval", "1s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NATS_URL": f"nats://probe-user:s3cr3t-pw@127.0.0.1:{free_port()}"},
    )
    yield process, port
    if process.poll() is None:
        process.kill()
        process.wait()


def wait_http(port: int, path: str, deadline: float = 10.0) -> str:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def test_sigterm_exits_zero_within_five_seconds_and_secrets_never_shown(
    exporter_process: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = exporter_process
    end = time.monotonic() + 10
    metrics = ""
    while 'result="connection_refused",target="default"} 1.0' not in metrics and time.monotonic() < end:
        metrics = wait_http(port, "/metrics")
        time.sleep(0.1)
    page = wait_http(port, "/")

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=10)

    assert process.returncode == 0
    assert time.monotonic() - started < 5
    assert re.search(r'probes_total\{result="connection_refused",target="default"\} [1-9]', metrics)
    assert 'url="nats://probe-user:***@127.0.0.1' in metrics
    assert "target down" in output
    assert "reason=connection_refused" in output
    for shown in (metrics, page, output):
        assert "s3cr3t-pw" not in shown
    assert "msg=stopped" in output


def test_python_dash_m_and_console_script_agree() -> None:
    module = run_cli("--version")
    script = subprocess.run(
        [str(Path(sys.executable).with_name("nats-connectivity-exporter")), "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert module.returncode == script.returncode == 0
    assert module.stdout == script.stdout
    assert module.stdout.startswith("nats-connectivity-exporter ")


async def test_wrong_password_is_auth_error_and_shown_nowhere(tmp_path: Path) -> None:
    server = NatsServer(config="authorization { user: app, password: right-pw-123 }")
    await server.start()
    port = free_port()
    secret_file = tmp_path / "password"
    secret_file.write_text("wr0ng-pw-456\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"targets:\n  - name: secured\n    url: nats://127.0.0.1:{server.port}\n"
        f"    credentials: {{user: app, password_file: {secret_file}}}\n"
        f"  - name: in-url\n    url: nats://app:wr0ng-pw-456@127.0.0.1:{server.port}\n"
    )
    process = await asyncio.create_subprocess_exec(
        *EXPORTER, "--config", str(config), "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "debug",
        "--probe.interval", "1s", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http:

            async def both_failed() -> str | None:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                        text = await response.text()
                except aiohttp.ClientError:
                    return None
                samples = parse_samples(text)
                counts = [
                    value(samples, "nats_connectivity_probes_total", target=name, result="auth_error") or 0
                    for name in ("secured", "in-url")
                ]
                return text if all(counts) else None

            metrics = await wait_for(both_failed, message="auth_error for both targets")
            pages = [metrics]
            for path in ("/", "/config", "/probe?target=secured&debug=true"):
                async with http.get(f"http://127.0.0.1:{port}{path}") as response:
                    pages.append(await response.text())
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 10)
        await server.close()
    assert process.returncode == 0
    for shown in [*pages, output.decode()]:
        assert "wr0ng-pw-456" not in shown
    assert "auth_error" in pages[1]
