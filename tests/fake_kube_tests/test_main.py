"""`python -m tests.fake_kube`: a separate process driven through /_control, as a benchmark would use it."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from .helpers import kubectl

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def process(tmp_path: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fake_kube",
        "--port",
        "0",
        "--kubeconfig",
        str(tmp_path / "kubeconfig"),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )


async def test_control_over_http_and_kubectl(process: asyncio.subprocess.Process, tmp_path: Path) -> None:
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            banner = (await process.stdout.readline()).decode()
            url = banner.split()[-1]
            assert url.startswith("https://127.0.0.1:")
            kubeconfig = tmp_path / "kubeconfig"
            # The control API needs no token; TLS verification is beside the point here.
            async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(ssl=False)) as control:

                async def call(action: str, body: object) -> object:
                    async with control.post(f"/_control/{action}", json=body) as response:
                        assert response.status == 200, await response.text()
                        return await response.json()

                await call("pods", {"namespace": "shop", "name": "web-1", "labels": {"app": "web"}})
                await call("logs", {"namespace": "shop", "pod": "web-1", "lines": ["hello"], "linesBase64": ["/w=="]})
                result = await kubectl(kubeconfig, "logs", "web-1", "-n", "shop")
                assert result.stdout_bytes == b"hello\n\xff\n"  # bytes pass through untouched
                started = await call("generate", {"lines": ["tick {n}"], "linesPerSecond": 50, "duration": 0.2})
                assert isinstance(started, dict)
                assert started["id"]
                result = await kubectl(kubeconfig, "get", "pods", "-n", "shop", "-o", "name")
                assert result.stdout == "pod/web-1\n"
                truth_list = await call("truth", {})
                assert isinstance(truth_list, list)
                (truth,) = truth_list
                assert truth["lines"] >= 2
                assert truth["containerID"].startswith("containerd://")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
